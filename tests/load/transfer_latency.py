#!/usr/bin/env python3
"""Latency from the transfer API call to the SIP request on the wire.

For each of N calls, a minimal SIP caller written here (plain UDP) calls
`switchboard serve --auto-answer`; the script then POSTs /calls/{id}/transfer and times, on
loopback, from just before the HTTP request leaves to the moment the request arrives:

- cold:     the REFER at the caller's socket (answered 405, so the caller stays),
- anchored: the INVITE at a target's socket (answered 486, so the caller stays),

then the caller hangs up and the next call starts. For scale, the same client's round trip of
`GET /health` is measured in the same run. Prints p50/p99 of each and the ratios.

    cargo build --release -p control-api
    .venv/bin/python tests/load/transfer_latency.py [--calls 200] [--bin target/release/switchboard]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def header(msg: str, name: str) -> str | None:
    m = re.search(rf"^{name}\s*:\s*(.*?)\r?$", msg, re.M | re.I)
    return m.group(1).strip() if m else None


def response_to(request: str, code: int, reason: str, to_tag: str | None = None) -> bytes:
    lines = [f"SIP/2.0 {code} {reason}"]
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for m in re.finditer(rf"^{name}\s*:.*?\r?$", request, re.M | re.I):
            line = m.group(0).rstrip("\r")
            if name == "To" and to_tag and ";tag=" not in line:
                line += f";tag={to_tag}"
            lines.append(line)
    lines += ["Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


class Udp:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def recv(self, timeout: float = 5.0) -> tuple[str, tuple[str, int], float]:
        self.sock.settimeout(timeout)
        data, addr = self.sock.recvfrom(65535)
        return data.decode(errors="replace"), addr, time.perf_counter()

    def recv_request(self, method: str, timeout: float = 5.0):
        """The next `method` request; answers stray requests 200 and skips responses."""
        deadline = time.monotonic() + timeout
        while True:
            msg, addr, at = self.recv(max(0.01, deadline - time.monotonic()))
            if msg.startswith(method + " "):
                return msg, addr, at
            if not msg.startswith("SIP/2.0") and not msg.startswith("ACK "):
                self.sock.sendto(response_to(msg, 200, "OK"), addr)


class Caller(Udp):
    """Calls the console, waits for the 200, ACKs; hangs up with BYE."""

    def call(self, console: tuple[str, int], sdp_port: int | None = None,
             sdp: str = SDP) -> dict:
        """Calls `console` offering `sdp` (a template with `{port}`); returns the dialog, with
        the 200's SDP as `answer`."""
        call_id = f"{uuid.uuid4().hex}@127.0.0.1"
        tag = secrets.token_hex(4)
        branch = "z9hG4bK" + secrets.token_hex(8)
        body = sdp.format(port=sdp_port or free_port())
        invite = (f"INVITE sip:desk@{console[0]}:{console[1]} SIP/2.0\r\n"
                  f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport\r\n"
                  f"From: <sip:bench@127.0.0.1:{self.port}>;tag={tag}\r\n"
                  f"To: <sip:desk@{console[0]}:{console[1]}>\r\n"
                  f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
                  f"Contact: <sip:bench@127.0.0.1:{self.port}>\r\nMax-Forwards: 70\r\n"
                  f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}")
        self.sock.sendto(invite.encode(), console)
        while True:
            msg, _, _ = self.recv()
            if msg.startswith("SIP/2.0 200") and "INVITE" in (header(msg, "CSeq") or ""):
                break
        to = header(msg, "To")
        ack = (f"ACK sip:desk@{console[0]}:{console[1]} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{secrets.token_hex(8)}\r\n"
               f"From: <sip:bench@127.0.0.1:{self.port}>;tag={tag}\r\nTo: {to}\r\n"
               f"Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        self.sock.sendto(ack.encode(), console)
        return {"call_id": call_id, "tag": tag, "to": to, "console": console, "answer": msg}

    def bye(self, dialog: dict, cseq: int = 2) -> None:
        console = dialog["console"]
        bye = (f"BYE sip:desk@{console[0]}:{console[1]} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{secrets.token_hex(8)}\r\n"
               f"From: <sip:bench@127.0.0.1:{self.port}>;tag={dialog['tag']}\r\nTo: {dialog['to']}\r\n"
               f"Call-ID: {dialog['call_id']}\r\nCSeq: {cseq} BYE\r\nMax-Forwards: 70\r\n"
               f"Content-Length: 0\r\n\r\n")
        self.sock.sendto(bye.encode(), console)
        while True:
            msg, addr, _ = self.recv()
            if msg.startswith("SIP/2.0 200") and "BYE" in (header(msg, "CSeq") or ""):
                return
            if not msg.startswith("SIP/2.0") and not msg.startswith("ACK "):
                self.sock.sendto(response_to(msg, 200, "OK"), addr)


def api_session(api_port: int, token: str) -> tuple[requests.Session, str]:
    """A session with the token, once the console just spawned answers /health (10 s at most)."""
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    base = f"http://127.0.0.1:{api_port}/api/v1"
    for _ in range(200):
        try:
            if api.get(f"{base}/health", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.05)  # start-up poll of a process just spawned
    return api, base


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "switchboard"))
    args = ap.parse_args()

    sip_port, api_port, token = free_port(), free_port(), secrets.token_hex(16)
    data = tempfile.mkdtemp(prefix="sb-latency-")
    log = open(Path(data) / "console.log", "wb")
    proc = subprocess.Popen([args.bin, "serve", "--sip-listen", f"udp:127.0.0.1:{sip_port}",
                             "--api-listen", f"127.0.0.1:{api_port}", "--api-token", token,
                             "--data-dir", data, "--audio", "none", "--auto-answer"],
                            stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, RUST_LOG="warn"))
    api, base = api_session(api_port, token)
    try:
        console = ("127.0.0.1", sip_port)
        caller, target = Caller(), Udp()
        results: dict[str, list[float]] = {"health": [], "cold": [], "anchored": []}
        for i in range(args.calls):
            t0 = time.perf_counter()
            api.get(f"{base}/health").raise_for_status()
            results["health"].append(time.perf_counter() - t0)
            for mode in ("cold", "anchored"):
                dialog = caller.call(console)
                calls = api.get(f"{base}/calls").json()
                call = next(c for c in calls if c["sip_call_id"] == dialog["call_id"])
                body = {"transfer_to": f"sip:target@127.0.0.1:{target.port}", "mode": mode}
                t0 = time.perf_counter()
                r = api.post(f"{base}/calls/{call['id']}/transfer", json=body)
                if mode == "cold":
                    refer, addr, at = caller.recv_request("REFER")
                    caller.sock.sendto(response_to(refer, 405, "Method Not Allowed"), addr)
                else:
                    invite, addr, at = target.recv_request("INVITE")
                    target.sock.sendto(response_to(invite, 486, "Busy Here", "busy"), addr)
                results[mode].append(at - t0)
                assert r.status_code == 202, r.text
                # The transfer fails and the caller is back with the attendant; hang up.
                for _ in range(400):
                    c = api.get(f"{base}/calls/{call['id']}").json()
                    if c["transfer"]["state"] == "failed" and c["state"] == "active":
                        break
                caller.bye(dialog)
        ms = {k: [v * 1000 for v in vals] for k, vals in results.items()}
        summary = {k: {"n": len(v), "p50_ms": round(statistics.median(v), 3),
                       "p99_ms": round(percentile(v, 99), 3)} for k, v in ms.items()}
        for mode in ("cold", "anchored"):
            summary[mode]["p50_over_health_p50"] = round(
                summary[mode]["p50_ms"] / summary["health"]["p50_ms"], 2)
        print(json.dumps(summary, indent=2))
        return 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
