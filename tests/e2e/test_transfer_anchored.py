"""Anchored transfers (the console dials the target and bridges the two legs' media) against
real peers: tones cross the bridge both ways (Goertzel on what each baresip decoded), across
codecs (Opus caller, PCMU target), dial tone while the target rings, either leg's BYE ends the
other, and a refused REFER that falls back to anchored."""

from __future__ import annotations

import struct
import subprocess
import wave
from pathlib import Path

import pytest

from peers import sip_header, wait_for
from test_media import goertzel, stats_at_least
from test_transfer_cold import start_caller, transfer, transfer_types

US_DIAL = (350.0, 440.0)


def sine_wav(path: Path, hz: int, rate: int = 8000, channels: int = 1) -> Path:
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(channels), "-b", "16", str(path),
                    "synth", "60", "sine", str(hz), "vol", "0.3"], check=True)
    return path


def recording_baresip(baresip_factory, artifacts: Path, name: str, hz: int, **kw):
    """A baresip sending a `hz` sine and recording what it decodes (sndfile) in its own folder."""
    dumps = artifacts / f"{name}-dumps"
    dumps.mkdir()
    rate, channels = kw.pop("wav_format", (8000, 1))
    wav = sine_wav(artifacts / f"{name}-{hz}.wav", hz, rate, channels)
    bs = baresip_factory(name, user=name, wav=wav, record_to=dumps, **kw)
    return bs, dumps


def read_first_channel(path: Path) -> tuple[list[int], int]:
    """16-bit WAV samples of the first channel (baresip records Opus calls in stereo)."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, path
        channels = w.getnchannels()
        frames = w.readframes(w.getnframes())
        samples = struct.unpack(f"<{len(frames) // 2}h", frames)
        return list(samples[::channels]), w.getframerate()


def decoded(dumps: Path) -> tuple[list[int], int]:
    """What a baresip heard (its sndfile `*-dec.wav`), once the call is over."""
    files = wait_for(lambda: [p for p in dumps.glob("*-dec.wav") if p.stat().st_size > 8044], 10,
                     f"a decoded recording in {dumps}")
    return read_first_channel(files[0])


def wait_heard(dumps: Path, seconds: float, timeout: float = 20) -> None:
    """Wait, during the call, until a baresip has decoded `seconds` of audio (its sndfile
    `*-dec.wav` grows as it decodes; 8 kHz mono 16-bit, or more for Opus)."""
    need = 44 + int(seconds * 8000) * 2
    wait_for(lambda: any(p.stat().st_size >= need for p in dumps.glob("*-dec.wav")), timeout,
             f"{seconds} s of decoded audio in {dumps}")


def windows(samples: list[int], rate: int, ms: int = 200) -> list[list[int]]:
    n = rate * ms // 1000
    return [samples[i:i + n] for i in range(0, len(samples) - n + 1, n)]


def has(samples: list[int], rate: int, freqs: tuple[float, ...], others: tuple[float, ...]) -> bool:
    """Every frequency of `freqs` is present and each beats every one of `others` by 10x."""
    at = [goertzel(samples, rate, f) for f in freqs]
    rest = max(goertzel(samples, rate, f) for f in others)
    return min(at) > 1000 and min(at) > 10 * rest


def last_second(samples: list[int], rate: int) -> list[int]:
    # Skip the final 200 ms: the hang-up may cut the last frames short.
    end = len(samples) - rate // 5
    return samples[max(0, end - rate):end]


def sent(console, call_id: str) -> int:
    """RTP packets the console has sent on a call so far (0 before the first report)."""
    return (console.call(call_id).get("quality") or {}).get("packets_sent", 0)


def anchored(console, call_id: str, to: str, **extra) -> str:
    return transfer(console, call_id, transfer_to=to, mode="anchored", **extra)


def test_anchored_transfer_bridges_both_ways(console_factory, baresip_factory, events_factory,
                                             artifacts):
    """Caller sends 1004 Hz, target 600 Hz; each hears the other; the target's BYE ends the
    caller's leg; the history links both legs."""
    console = console_factory(auto_answer=True, extra_args=["--media-source", "tone:1500"])
    events = events_factory(console)
    target, target_dumps = recording_baresip(baresip_factory, artifacts, "target", 600)
    caller, caller_dumps = recording_baresip(baresip_factory, artifacts, "caller", 1004)
    caller.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    tid = anchored(console, call["id"], target.aor)

    done = events.wait_event("transfer.completed", call_id=call["id"], timeout=20)
    assert done["transfer"]["id"] == tid and done["transfer"]["mode"] == "anchored", done
    assert transfer_types(events, call["id"]) == [
        "transfer.triggered", "transfer.initiated", "transfer.answered", "transfer.completed"]
    leg_id = done["transfer"]["target_call_id"]
    leg = console.call(leg_id)
    assert leg["direction"] == "outbound" and leg["state"] == "active", leg
    # Both legs stay up: the caller's leg is active again, not ended.
    assert console.call(call["id"])["state"] == "active"

    # Three seconds of bridged audio each way, counted by the console's own RTP statistics.
    base_c = sent(console, call["id"])
    base_t = sent(console, leg_id)
    stats_at_least(events, call["id"], "packets_sent", base_c + 150)
    stats_at_least(events, leg_id, "packets_sent", base_t + 150)

    # DTMF crosses the bridge: the caller's RFC 4733 digit is re-sent to the target.
    caller.command("sndcode", "5")
    got = events.wait_event("call.dtmf", call_id=call["id"], timeout=10)
    assert got["digit"] == "5", got

    def digits_at_target():
        return [str(e.get("param") or e.get("key")) for e in target.events
                if e.get("type") == "CALL_DTMF_START"] or None
    assert wait_for(digits_at_target, 10, "the digit at the target")[:1] == ["5"]

    # Hold crosses the bridge: the caller holds us, we hold the target; and back.
    caller.command("hold")
    events.wait_event("call.held", call_id=call["id"], timeout=10)
    held = events.wait_event("call.held", call_id=leg_id, timeout=10)
    assert held["call"]["held_by"] == "local", held
    caller.command("resume")
    events.wait_event("call.resumed", call_id=leg_id, timeout=10)
    assert console.call(leg_id)["state"] == "active"
    base_c = sent(console, call["id"])
    stats_at_least(events, call["id"], "packets_sent", base_c + 100)

    # The target hangs up: the console ends the caller's leg too.
    n = len(caller.events)
    target.command("hangup")
    ended = events.wait_event("call.ended", call_id=call["id"], timeout=10)
    assert ended["call"]["state"] == "ended", ended
    caller.wait_event("CALL_CLOSED", timeout=10, after=n)
    assert console.call(leg_id)["state"] == "ended"

    heard_by_caller, rate = decoded(caller_dumps)
    tail = last_second(heard_by_caller, rate)
    assert has(tail, rate, (600.0,), (1004.0, 1500.0, 350.0, 440.0)), \
        "the caller did not hear the target's 600 Hz (nor only it) over the bridge"
    heard_by_target, rate = decoded(target_dumps)
    tail = last_second(heard_by_target, rate)
    assert has(tail, rate, (1004.0,), (600.0, 1500.0, 350.0, 440.0)), \
        "the target did not hear the caller's 1004 Hz (nor only it) over the bridge"

    # Same codec on both legs: the console relayed the packets, it did not transcode.
    log = console.log_path.read_text(errors="replace")
    assert "bridge: relaying RTP (same codec)" in log and "bridge: transcoding" not in log

    history = {c["id"]: c for c in console.history(limit=10)}
    assert call["id"] in history and leg_id in history, history.keys()
    assert history[call["id"]]["transfer"]["target_call_id"] == leg_id, history[call["id"]]
    assert history[call["id"]]["transfer"]["state"] == "completed"
    assert history[leg_id]["bridged_with"] == call["id"], history[leg_id]
    assert history[call["id"]]["bridged_with"] == leg_id, history[call["id"]]


def test_anchored_transfer_across_codecs(console_factory, baresip_factory, events_factory,
                                         artifacts):
    """An Opus caller bridged to a PCMU target: the console transcodes; both hear the other;
    the caller's BYE ends the target's leg."""
    if not Path("/usr/lib/baresip/modules/opus.so").exists():
        pytest.skip("baresip opus module not installed")
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    target, target_dumps = recording_baresip(baresip_factory, artifacts, "target", 600,
                                             account_params=";audio_codecs=pcmu")
    caller, caller_dumps = recording_baresip(
        baresip_factory, artifacts, "caller", 1004, wav_format=(48000, 2),
        extra_config="module\topus.so\n", account_params=";audio_codecs=opus/48000/2")
    caller.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    anchored(console, call["id"], target.aor, play_dialtone=True)
    done = events.wait_event("transfer.completed", call_id=call["id"], timeout=20)
    leg_id = done["transfer"]["target_call_id"]
    base = sent(console, call["id"])
    caller_stats = stats_at_least(events, call["id"], "packets_sent", base + 150)
    leg_stats = stats_at_least(events, leg_id, "packets_sent", 150)
    assert caller_stats["call"]["codec"].lower().startswith("opus"), caller_stats["call"]
    assert leg_stats["call"]["codec"] == "PCMU/8000", leg_stats["call"]

    n = len(target.events)
    caller.command("hangup")
    events.wait_event("call.ended", call_id=leg_id, timeout=10)
    target.wait_event("CALL_CLOSED", timeout=10, after=n)

    log = console.log_path.read_text(errors="replace")
    assert "bridge: transcoding" in log and "bridge: relaying RTP" not in log

    heard_by_caller, rate = decoded(caller_dumps)
    assert rate == 48000
    assert has(last_second(heard_by_caller, rate), rate, (600.0,), (1004.0, 350.0, 440.0)), \
        "the Opus caller did not hear the PCMU target's 600 Hz"
    heard_by_target, rate = decoded(target_dumps)
    assert has(last_second(heard_by_target, rate), rate, (1004.0,), (600.0, 350.0, 440.0)), \
        "the PCMU target did not hear the Opus caller's 1004 Hz"


def test_dial_tone_while_target_rings(console_factory, baresip_factory, events_factory,
                                      artifacts):
    """play_dialtone: the caller hears 350+440 Hz (region us) while the target rings, and the
    target's audio, with no dial tone, once it answers."""
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    target, _ = recording_baresip(baresip_factory, artifacts, "target", 600,
                                  account_params=";answermode=manual")
    caller, caller_dumps = recording_baresip(baresip_factory, artifacts, "caller", 1004)
    caller.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    anchored(console, call["id"], target.aor, play_dialtone=True)
    target.wait_event("CALL_INCOMING", timeout=10)
    # Two seconds of ringing, measured in packets sent to the caller.
    ringing_from = sent(console, call["id"])
    stats_at_least(events, call["id"], "packets_sent", ringing_from + 100)
    assert console.call(call["id"])["transfer"]["state"] == "initiated"
    target.command("accept")
    events.wait_event("transfer.completed", call_id=call["id"], timeout=10)
    answered_from = sent(console, call["id"])
    stats_at_least(events, call["id"], "packets_sent", answered_from + 100)
    n = len(caller.events)
    console.hangup(call["id"])
    events.wait_event("call.ended", call_id=call["id"], timeout=10)
    caller.wait_event("CALL_CLOSED", timeout=10, after=n)

    samples, rate = decoded(caller_dumps)
    kinds = []
    for w in windows(samples, rate):
        if has(w, rate, US_DIAL, (600.0, 1004.0, 1500.0)):
            kinds.append("dial")
        elif has(w, rate, (600.0,), (350.0, 440.0, 1004.0)):
            kinds.append("target")
        else:
            kinds.append("-")
    trace = "".join({"dial": "D", "target": "T", "-": "."}[k] for k in kinds)
    assert kinds.count("dial") >= 5, f"under a second of dial tone while ringing: {trace}"
    assert "target" in kinds, f"the target was never heard after answering: {trace}"
    first_target = kinds.index("target")
    assert "dial" not in kinds[first_target + 1:], f"dial tone after the answer: {trace}"
    assert kinds.index("dial") < first_target, trace


def test_refused_refer_falls_back_to_anchored(console_factory, sipp_factory, events_factory):
    """fallback_to_anchored: a 405 to the REFER, then the console dials the target itself and
    bridges; hanging up the target's leg ends the caller's."""
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    uas = sipp_factory("target_uas", sn="uas", args=["-m", "1"], timeout_s=60).start()
    uas.wait_listening()
    caller, call = start_caller(console, sipp_factory, "refer_reject_405.xml")
    to = f"sip:service@127.0.0.1:{uas.port}"
    transfer(console, call["id"], transfer_to=to, mode="cold", fallback_to_anchored=True)
    done = events.wait_event("transfer.completed", call_id=call["id"], timeout=20)
    assert done["transfer"]["mode"] == "anchored", done
    types = transfer_types(events, call["id"])
    assert types[:2] == ["transfer.triggered", "transfer.initiated"], types
    assert "transfer.failed" in types and types[-1] == "transfer.completed", types
    failed = events.wait_event("transfer.failed", call_id=call["id"])
    assert failed["transfer"]["sip_status"] == 405, failed
    leg_id = done["transfer"]["target_call_id"]
    assert console.call(leg_id)["state"] == "active"
    console.hangup(leg_id)
    events.wait_event("call.ended", call_id=call["id"], timeout=10)
    assert caller.wait(20) == 0, caller.diagnostics()
    assert uas.wait(20) == 0, uas.diagnostics()


def test_configured_default_mode_and_caller_id(console_factory, sipp_factory, events_factory):
    """`[transfer] default_mode = "anchored"` applies to requests without `mode`;
    `anchored_caller_id = "caller"` + `diversion` put the caller's URI and a Diversion header
    on the target leg's INVITE."""
    config = ('[transfer]\ndefault_mode = "anchored"\nanchored_caller_id = "caller"\n'
              'diversion = true\n\n[[contacts]]\nname = "Sales"\nuri = "sip:sales@pbx.example.com"\n'
              'note = "2nd floor"\n')
    console = console_factory(auto_answer=True, config=config)
    assert console.ok_json(console.get("/contacts")) == [
        {"name": "Sales", "uri": "sip:sales@pbx.example.com", "note": "2nd floor"}]
    events = events_factory(console)
    uas = sipp_factory("target_uas", sn="uas", args=["-m", "1"], timeout_s=60).start()
    uas.wait_listening()
    caller, call = start_caller(console, sipp_factory, "uac_wait_answer.xml")
    transfer(console, call["id"], transfer_to=f"sip:service@127.0.0.1:{uas.port}")
    done = events.wait_event("transfer.completed", call_id=call["id"], timeout=20)
    assert done["transfer"]["mode"] == "anchored", done
    invite = next(m for d, m in uas.messages() if d == "received" and m.startswith("INVITE "))
    assert "sip:sipp@" in (sip_header(invite, "From") or ""), invite
    assert "sip:sipp@" in (sip_header(invite, "P-Asserted-Identity") or ""), invite
    assert "reason=unconditional" in (sip_header(invite, "Diversion") or ""), invite
    console.hangup(call["id"])
    assert caller.wait(20) == 0, caller.diagnostics()
    assert uas.wait(20) == 0, uas.diagnostics()
