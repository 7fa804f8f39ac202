"""Processes the end-to-end tests drive: the Switchboard console, sipp, baresip.

Every class here starts a real process on 127.0.0.1, writes its logs under the
test's artifact directory and is stopped by the fixtures in conftest.py. Waits
are always "poll a condition until a deadline", never fixed sleeps.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

import requests

REPO = Path(__file__).resolve().parents[2]
SIPP_DIR = REPO / "tests" / "sipp"
DEFAULT_BIN = REPO / "target" / "debug" / "switchboard"


# --------------------------------------------------------------------------
# small helpers


def wait_for(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `cond` until it returns something truthy; raise after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = cond()
            if value:
                return value
        except Exception as exc:  # keep polling; report the last error on timeout
            last_exc = exc
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)


_reserved_ports: set[int] = set()


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1, not handed out before."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            if port in _reserved_ports:
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
            except OSError:
                continue
        _reserved_ports.add(port)
        return port
    raise RuntimeError("no free port found")


def tail(path: Path, lines: int = 60) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(data[-lines:])


def stop_process(proc: subprocess.Popen | None, grace: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Signal one process we started (by its pid), then SIGKILL it after `grace` s."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------
# Switchboard console


class Console:
    """One `switchboard serve` process on free ports with its own data dir."""

    def __init__(self, artifacts: Path, data_dir: Path, name: str = "console",
                 auto_answer: bool = False, config: str | None = None,
                 extra_args: list[str] | None = None, token: str | None = None,
                 audio: str = "none", env: dict[str, str] | None = None):
        self.audio = audio
        self.extra_env = env or {}
        self.binary = Path(os.environ.get("SWITCHBOARD_BIN", DEFAULT_BIN))
        self.artifacts = artifacts
        self.data_dir = data_dir
        self.name = name
        self.auto_answer = auto_answer
        self.config_text = config
        self.extra_args = extra_args or []
        self.token = token or secrets.token_hex(16)
        self.sip_port = free_port()
        self.api_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.log_path: Path = artifacts / f"{name}.log"
        self.session = requests.Session()

    # -- lifecycle --------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1"

    @property
    def sip_uri_host(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    def command(self) -> list[str]:
        cmd = [
            str(self.binary), "serve",
            "--sip-listen", f"udp:127.0.0.1:{self.sip_port}",
            "--sip-listen", f"tcp:127.0.0.1:{self.sip_port}",
            "--api-listen", f"127.0.0.1:{self.api_port}",
            "--api-token", self.token,
            "--data-dir", str(self.data_dir),
            "--audio", self.audio,
        ]
        if self.auto_answer:
            cmd.append("--auto-answer")
        if self.config_text is not None:
            cfg = self.artifacts / f"{self.name}.toml"
            cfg.write_text(self.config_text)
            cmd += ["--config", str(cfg)]
        return cmd + self.extra_args

    def start(self, ready_timeout: float = 30.0) -> "Console":
        if not self.binary.exists():
            raise FileNotFoundError(
                f"switchboard binary not found at {self.binary}; build it or set SWITCHBOARD_BIN")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        if self.starts > 1:
            self.log_path = self.artifacts / f"{self.name}.{self.starts}.log"
        env = dict(os.environ)
        env.update(self.extra_env)
        env.setdefault("RUST_LOG", "debug")
        env.setdefault("RUST_BACKTRACE", "1")
        cmd = self.command()
        log = open(self.log_path, "wb")
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=env)
        log.close()
        self.wait_ready(ready_timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} before it was ready:\n"
                    + tail(self.log_path, 40))
            try:
                return self.get("/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name}: /health not 200 within {timeout}s\n"
                                   + tail(self.log_path, 40))
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, grace: float = 10.0) -> int | None:
        stop_process(self.proc, grace=grace, sig=sig)
        return self.proc.returncode if self.proc else None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    # -- HTTP -------------------------------------------------------------

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, *, auth: bool = True, timeout: float = 5,
                headers: dict[str, str] | None = None, **kw) -> requests.Response:
        h = dict(self.auth) if auth else {}
        h.update(headers or {})
        return self.session.request(method, self.base + path, headers=h, timeout=timeout, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw) -> requests.Response:
        if body is None:
            return self.request("POST", path, **kw)
        return self.request("POST", path, json=body, **kw)

    def ok_json(self, resp: requests.Response, status: int | tuple[int, ...] = 200) -> Any:
        statuses = (status,) if isinstance(status, int) else status
        assert resp.status_code in statuses, (
            f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:500]}")
        return resp.json()

    def calls(self) -> list[dict]:
        return self.ok_json(self.get("/calls"))

    def call(self, call_id: str) -> dict:
        return self.ok_json(self.get(f"/calls/{call_id}"))

    def dial(self, to: str) -> dict:
        return self.ok_json(self.post("/calls", {"to": to}), 201)

    def hangup(self, call_id: str) -> None:
        self.ok_json(self.post(f"/calls/{call_id}/hangup"))

    def answer(self, call_id: str) -> None:
        self.ok_json(self.post(f"/calls/{call_id}/answer"))

    def history(self, limit: int = 50) -> list[dict]:
        return self.ok_json(self.get(f"/history?limit={limit}"))

    def accounts(self) -> list[dict]:
        return self.ok_json(self.get("/accounts"))

    def wait_call_state(self, call_id: str, states: str | tuple[str, ...], timeout: float = 15) -> dict:
        wanted = (states,) if isinstance(states, str) else states
        seen: list[str] = []

        def check():
            resp = self.get(f"/calls/{call_id}")
            if resp.status_code == 404 and "ended" in wanted:
                # A finished call may leave the live list; it must then be in history.
                return next((c for c in self.history() if c["id"] == call_id), None)
            call = self.ok_json(resp)
            if not seen or seen[-1] != call["state"]:
                seen.append(call["state"])
            return call if call["state"] in wanted else None
        try:
            return wait_for(check, timeout, f"call {call_id} in state {wanted}")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; states seen: {seen}") from None

    def wait_one_call(self, states: str | tuple[str, ...] = ("ringing", "active"),
                      timeout: float = 15) -> dict:
        wanted = (states,) if isinstance(states, str) else states
        return wait_for(lambda: next((c for c in self.calls() if c["state"] in wanted), None),
                        timeout, f"a call in state {wanted} in /calls")


class EventStream:
    """The console's /events WebSocket, read on a thread into a list."""

    def __init__(self, console: Console):
        import websocket  # websocket-client

        self.url = f"ws://127.0.0.1:{console.api_port}/api/v1/events"
        self.ws = websocket.create_connection(
            self.url, header=[f"Authorization: Bearer {console.token}"], timeout=10)
        self.ws.settimeout(0.5)
        self.events: list[dict] = []
        self.raw_log = console.artifacts / "events.jsonl"
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import websocket

        with open(self.raw_log, "a") as log:
            while not self._closed:
                try:
                    msg = self.ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                except Exception:
                    break
                if not msg:
                    continue
                log.write(msg if isinstance(msg, str) else msg.decode(errors="replace"))
                log.write("\n")
                log.flush()
                try:
                    ev = json.loads(msg)
                except ValueError:
                    continue
                with self._cond:
                    self.events.append(ev)
                    self._cond.notify_all()

    def types(self, call_id: str | None = None) -> list[str]:
        with self._cond:
            return [e.get("type") for e in self.events
                    if call_id is None or e.get("call_id") == call_id]

    def wait_event(self, type_: str, timeout: float = 15, call_id: str | None = None,
                   pred: Callable[[dict], bool] | None = None, after: int = 0) -> dict:
        """The first event of `type_` (for `call_id`, matching `pred`) at index >= `after` in
        the event list (`len(self.events)` taken earlier: only what came since)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events[after:]:
                    if e.get("type") == type_ and (call_id is None or e.get("call_id") == call_id) \
                            and (pred is None or pred(e)):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no {type_} event within {timeout}s; got {[e.get('type') for e in self.events]}")
                self._cond.wait(left)

    def close(self) -> None:
        self._closed = True
        try:
            self.ws.close()
        except Exception:
            pass
        self._thread.join(timeout=2)


# --------------------------------------------------------------------------
# sipp


class Sipp:
    """One sipp run. Built-in (`sn`) or file (`sf`, relative to tests/sipp) scenario.

    Every run traces errors, messages, final screen, stats and <log> actions
    to files named after `name` in the artifact dir.
    """

    def __init__(self, artifacts: Path, name: str, *, sn: str | None = None, sf: str | None = None,
                 remote: str | None = None, port: int | None = None, args: list[str] | None = None,
                 timeout_s: int = 60, trace_msg: bool = True):
        assert (sn is None) != (sf is None)
        self.artifacts = artifacts
        self.name = name
        self.port = port or free_port()
        self.files = {k: artifacts / f"{name}.{k}" for k in
                      ("err", "msg", "screen", "stat.csv", "log", "stderr")}
        for f in self.files.values():
            f.unlink(missing_ok=True)
        cmd = ["sipp"]
        if remote:
            cmd.append(remote)
        if sn:
            cmd += ["-sn", sn]
        else:
            cmd += ["-sf", str(SIPP_DIR / sf) if not os.path.isabs(sf) else sf]
        cmd += ["-i", "127.0.0.1", "-p", str(self.port), "-nostdin",
                "-timeout", f"{timeout_s}s", "-timeout_error",
                "-trace_err", "-error_file", str(self.files["err"]),
                "-trace_screen", "-screen_file", str(self.files["screen"]),
                "-trace_stat", "-stf", str(self.files["stat.csv"]), "-fd", "1",
                "-trace_logs", "-log_file", str(self.files["log"])]
        if trace_msg:
            cmd += ["-trace_msg", "-message_file", str(self.files["msg"])]
        cmd += args or []
        self.cmd = cmd
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Sipp":
        with open(self.files["stderr"], "wb") as err:
            err.write(("$ " + " ".join(self.cmd) + "\n").encode())
            err.flush()
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, cwd=self.artifacts)
        return self

    def wait_listening(self, timeout: float = 10) -> "Sipp":
        """Wait until sipp has bound its UDP port (for UAS roles)."""
        def bound() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"sipp {self.name} exited early ({self.proc.returncode}):\n"
                                   + self.diagnostics())
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", self.port))
                except OSError:
                    return True
                return False
        wait_for(bound, timeout, f"sipp {self.name} bound to UDP {self.port}")
        return self

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"sipp {self.name} still running after {timeout}s\n"
                                 + self.diagnostics()) from None

    def run(self, timeout: float) -> int:
        return self.start().wait(timeout)

    def stop(self) -> None:
        stop_process(self.proc, grace=3)

    def stats(self) -> dict[str, int]:
        """Totals from the final line of the -stf CSV (cumulative columns)."""
        return parse_sipp_stats(self.files["stat.csv"])

    def log_lines(self) -> list[str]:
        try:
            return self.files["log"].read_text(errors="replace").splitlines()
        except OSError:
            return []

    def messages(self) -> list[tuple[str, str]]:
        """(direction, message) pairs from the -message_file trace."""
        return parse_sipp_messages(self.files["msg"])

    def diagnostics(self) -> str:
        out = []
        for key in ("stderr", "err", "log", "screen"):
            f = self.files[key]
            if f.exists() and f.stat().st_size:
                out.append(f"--- {f.name} (tail) ---\n{tail(f, 25)}")
        return "\n".join(out)


def parse_sipp_stats(path: Path) -> dict[str, int]:
    rows = [r for r in path.read_text(errors="replace").splitlines() if r.strip()]
    if len(rows) < 2:
        raise ValueError(f"no statistics in {path}")
    header = rows[0].rstrip(";").split(";")
    last = rows[-1].rstrip(";").split(";")
    row = dict(zip(header, last))

    def num(key: str) -> int:
        try:
            return int(float(row.get(key, "0") or 0))
        except ValueError:
            return 0
    return {
        "created": num("TotalCallCreated"),
        "successful": num("SuccessfulCall(C)"),
        "failed": num("FailedCall(C)"),
        "retransmissions": num("Retransmissions(C)"),
        "current": num("CurrentCall"),
    }


_MSG_SPLIT = re.compile(r"^-{20,} .*$", re.M)


def parse_sipp_messages(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    out = []
    for block in _MSG_SPLIT.split(text):
        m = re.search(r"(UDP|TCP) message (received|sent) \[\d+\] bytes :\s*\n\n?(.*)", block, re.S)
        if m:
            out.append((m.group(2), m.group(3).strip("\n")))
    return out


def sip_header(msg: str, name: str) -> str | None:
    for line in msg.splitlines():
        if ":" in line and line.split(":", 1)[0].strip().lower() == name.lower():
            return line.split(":", 1)[1].strip()
    return None


# --------------------------------------------------------------------------
# Digest (RFC 7616 / 2617), to check what the console sent


def parse_digest(value: str) -> dict[str, str]:
    assert value.lower().startswith("digest "), value
    params = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("([^"]*)"|[^,\s]+)', value[7:]):
        params[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return params


def digest_ok(header_value: str, method: str, password: str) -> tuple[bool, dict[str, str]]:
    """Recompute the response of an Authorization/Proxy-Authorization header."""
    p = parse_digest(header_value)
    algo = p.get("algorithm", "MD5").upper()
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algo.removesuffix("-SESS")]

    def H(s: str) -> str:
        return h(s.encode()).hexdigest()
    ha1 = H(f"{p['username']}:{p['realm']}:{password}")
    if algo.endswith("-SESS"):
        ha1 = H(f"{ha1}:{p['nonce']}:{p['cnonce']}")
    ha2 = H(f"{method}:{p['uri']}")
    if "qop" in p:
        expected = H(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")
    else:
        expected = H(f"{ha1}:{p['nonce']}:{ha2}")
    return expected == p.get("response", "").lower(), p


# --------------------------------------------------------------------------
# baresip


def netstring(data: bytes) -> bytes:
    return str(len(data)).encode() + b":" + data + b","


# baresip 1.0's sndfile module names its recordings in a 128-byte buffer:
# "<snd_path>/dump-2026-12-02-06-08-37-dec.wav". Under a deep checkout an absolute snd_path cuts
# the name short ("...-dec.wa"), and nothing matches "*-dec.wav" (this failed in CI only).
SNDFILE_NAME_MAX = 127
SNDFILE_NAME_TAIL = len("/dump-2026-12-02-06-08-37-dec.wav")


def sndfile_config(cfgdir: Path, dumps: Path) -> str:
    """Config lines for baresip's sndfile module recording into `dumps`, given relative to
    baresip's working directory (its config folder) so the file names stay short."""
    rel = os.path.relpath(dumps, cfgdir)
    if len(rel) + SNDFILE_NAME_TAIL > SNDFILE_NAME_MAX:
        raise ValueError(f"snd_path {rel!r} is too long for baresip's sndfile file names")
    return f"module\tsndfile.so\nsnd_path\t{rel}\n"


class Baresip:
    """A headless baresip 1.0 with ctrl_tcp, aufile source and a nil player."""

    def __init__(self, artifacts: Path, name: str = "baresip", user: str = "bob",
                 wav: Path | None = None, extra_config: str = "", max_calls: int = 16,
                 account_params: str = "", record_to: Path | None = None):
        self.account_params = account_params
        self.artifacts = artifacts
        self.name = name
        self.user = user
        self.cfgdir = artifacts / f"{name}-cfg"
        self.cfgdir.mkdir(parents=True, exist_ok=True)
        self.sip_port = free_port()
        self.ctrl_port = free_port()
        self.wav = wav or make_tone_wav(artifacts / "tone60.wav", seconds=60)
        self.log_path = artifacts / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.events: list[dict] = []
        self.responses: dict[str, dict] = {}
        self._cond = threading.Condition()
        self._token = 0
        self._reader: threading.Thread | None = None
        self.max_calls = max_calls
        if record_to is not None:
            extra_config = sndfile_config(self.cfgdir, record_to) + extra_config
        self._write_config(extra_config)

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@127.0.0.1:{self.sip_port}"

    def _write_config(self, extra: str) -> None:
        modules = "/usr/lib/baresip/modules"
        (self.cfgdir / "config").write_text(f"""\
poll_method\tepoll
sip_listen\t127.0.0.1:{self.sip_port}
net_interface\t127.0.0.1
call_local_timeout\t120
call_max_calls\t{self.max_calls}
audio_player\taubridge,nil
audio_source\taufile,{self.wav}
audio_alert\taubridge,nil
audio_level\tno
rtp_stats\tno
module_path\t{modules}
module\tg711.so
module\taufile.so
module\taubridge.so
module_tmp\tuuid.so
module_tmp\taccount.so
module_app\tmenu.so
module_app\tctrl_tcp.so
ctrl_tcp_listen\t127.0.0.1:{self.ctrl_port}
{extra}
""")
        # answermode=auto unless the caller chose one (baresip takes the first it reads).
        answer = "" if "answermode=" in self.account_params else ";answermode=auto"
        (self.cfgdir / "accounts").write_text(
            f"<sip:{self.user}@127.0.0.1:{self.sip_port}>;regint=0{answer}"
            f"{self.account_params}\n")
        (self.cfgdir / "contacts").write_text("")

    def start(self, timeout: float = 15) -> "Baresip":
        cmd = ["baresip", "-4", "-f", str(self.cfgdir)]
        with open(self.log_path, "wb") as log:
            log.write(("$ " + " ".join(cmd) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.cfgdir)

        def connect():
            if self.proc.poll() is not None:
                raise RuntimeError(f"baresip exited ({self.proc.returncode}):\n" + tail(self.log_path))
            try:
                return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
            except OSError:
                return None
        self.sock = wait_for(connect, timeout, f"baresip ctrl_tcp on {self.ctrl_port}")
        self.sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        return self

    def _read_loop(self) -> None:
        buf = b""
        with open(self.artifacts / f"{self.name}.ctrl.jsonl", "ab") as log:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while True:
                    colon = buf.find(b":")
                    if colon < 0:
                        break
                    length = int(buf[:colon])
                    if len(buf) < colon + 1 + length + 1:
                        break
                    payload = buf[colon + 1:colon + 1 + length]
                    buf = buf[colon + 2 + length:]
                    log.write(payload + b"\n")
                    log.flush()
                    try:
                        msg = json.loads(payload)
                    except ValueError:
                        continue
                    with self._cond:
                        if msg.get("response"):
                            self.responses[str(msg.get("token"))] = msg
                        else:
                            self.events.append(msg)
                        self._cond.notify_all()

    def command(self, command: str, params: str | None = None, timeout: float = 10) -> dict:
        with self._cond:
            self._token += 1
            token = str(self._token)
        body: dict[str, str] = {"command": command, "token": token}
        if params is not None:
            body["params"] = params
        self.sock.sendall(netstring(json.dumps(body).encode()))
        with self._cond:
            ok = self._cond.wait_for(lambda: token in self.responses, timeout)
            if not ok:
                raise AssertionError(f"baresip: no response to {body} within {timeout}s")
            return self.responses[token]

    def event_types(self) -> list[str]:
        with self._cond:
            return [e.get("type") for e in self.events]

    def wait_event(self, type_: str, timeout: float = 15, after: int = 0) -> dict:
        """Wait for an event of `type_` at index >= `after` in the event list."""
        with self._cond:
            def find():
                return next((e for e in self.events[after:] if e.get("type") == type_), None)
            ok = self._cond.wait_for(lambda: find() is not None, timeout)
            if not ok:
                raise AssertionError(
                    f"baresip: no {type_} within {timeout}s; events: {self.event_types()}")
            return find()

    def stop(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        # After load baresip sometimes needs a second SIGTERM (NOTES.md).
        if self.proc is not None and self.proc.poll() is None:
            for _ in range(2):
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=3)
                    break
                except subprocess.TimeoutExpired:
                    continue
            stop_process(self.proc, grace=1, sig=signal.SIGKILL)


def make_tone_wav(path: Path, seconds: int = 60) -> Path:
    """A mono 8 kHz 16-bit sine WAV made with sox (baresip hangs up at EOF)."""
    if not path.exists():
        if shutil.which("sox") is None:
            raise RuntimeError("sox not installed (scripts/setup.sh installs it)")
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(path),
                        "synth", str(seconds), "sine", "440", "vol", "0.3"], check=True)
    return path


# --------------------------------------------------------------------------
class Linphonec:
    """linphonec (Debian `linphone-cli`) driven through a FIFO on stdin.

    NOTES: it needs $HOME/.local/share/linphone to exist and stdin kept open; it has no sound
    card here and runs its calls without audio devices.
    """

    def __init__(self, artifacts: Path, name: str = "linphonec"):
        self.artifacts = artifacts
        self.name = name
        self.port = free_port()
        self.home = artifacts / f"{name}-home"
        (self.home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        self.rc = artifacts / f"{name}.rc"
        rtp = free_port()
        self.rc.write_text(
            f"[sip]\nsip_port={self.port}\nsip_tcp_port=0\ndefault_proxy=-1\n"
            f"[rtp]\naudio_rtp_port={rtp}\n[sound]\n")
        self.log_path = artifacts / f"{name}.log"
        self.fifo = artifacts / f"{name}.fifo"
        self.proc: subprocess.Popen | None = None
        self._writer = None

    @property
    def aor(self) -> str:
        return f"sip:linphone@127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> "Linphonec":
        if self.fifo.exists():
            self.fifo.unlink()
        os.mkfifo(self.fifo)
        env = dict(os.environ, HOME=str(self.home))
        log = open(self.log_path, "wb")
        # Open the FIFO read end in the child, the write end here (keeps stdin open).
        self.proc = subprocess.Popen(["linphonec", "-c", str(self.rc)], stdin=open(self.fifo, "rb", buffering=0)
                                     if False else subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env)

        def bound() -> bool:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", self.port))
                except OSError:
                    return True
                return False
        wait_for(bound, timeout, f"linphonec bound to UDP {self.port}")
        return self

    def send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.send("quit")
            except Exception:
                pass
        stop_process(self.proc, grace=5)
