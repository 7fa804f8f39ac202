"""Media against baresip: RTP both ways (tones checked by Goertzel), DTMF both ways, hold stops
RTP, Opus, and per-call statistics."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from peers import make_tone_wav, wait_for


def goertzel(samples: list[int], rate: int, freq: float) -> float:
    """Power of `freq` in `samples` (Goertzel)."""
    k = 2.0 * math.cos(2.0 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + k * s1 - s2
        s2, s1 = s1, s0
    return (s1 * s1 + s2 * s2 - k * s1 * s2) / max(len(samples), 1)


def read_wav(path: Path) -> tuple[list[int], int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        frames = w.readframes(w.getnframes())
        return list(struct.unpack(f"<{len(frames) // 2}h", frames)), w.getframerate()


def dominant(samples: list[int], rate: int, freq: float, others=(300.0, 700.0, 1500.0, 2200.0)) -> bool:
    at = goertzel(samples, rate, freq)
    return all(at > 20 * goertzel(samples, rate, f) for f in others) and at > 1000


def finished_recording(wav: Path, min_samples: int) -> tuple[list[int], int] | None:
    """The recording once its header is final (the console writes the sizes when the call's
    media stops), holding at least `min_samples`; else None (keep waiting)."""
    if not wav.exists():
        return None
    try:
        samples, rate = read_wav(wav)
    except (EOFError, wave.Error):
        return None
    return (samples, rate) if len(samples) >= min_samples else None


def stats_at_least(events, call_id: str, key: str, n: int, timeout: float = 15) -> dict:
    return events.wait_event("call.stats", call_id=call_id, timeout=timeout,
                             pred=lambda e: e["quality"][key] >= n)


def tone_wav(artifacts: Path, hz: int, rate: int = 8000, channels: int = 1) -> Path:
    path = artifacts / f"tone{hz}-{rate}-{channels}.wav"
    import subprocess
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(channels), "-b", "16", str(path),
                    "synth", "60", "sine", str(hz), "vol", "0.3"], check=True)
    return path


def test_baresip_audio_reaches_the_console(console_factory, baresip_factory, events_factory,
                                           artifacts):
    """baresip sends a 440 Hz WAV (aufile) in PCMU; the console records what it hears."""
    record = artifacts / "recordings"
    console = console_factory(auto_answer=True, extra_args=["--record-dir", str(record)])
    events = events_factory(console)
    bs = baresip_factory("bs", wav=make_tone_wav(artifacts / "tone440.wav"))
    bs.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    stats = stats_at_least(events, call["id"], "packets_received", 150)
    assert stats["call"]["codec"] == "PCMU/8000", stats
    console.hangup(call["id"])
    events.wait_event("call.ended", call_id=call["id"])
    wav = record / f"{call['id']}.wav"
    samples, rate = wait_for(lambda: finished_recording(wav, 8000), 10, "the finished recording")
    assert rate == 8000
    assert dominant(samples[-8000:], rate, 440.0), "no 440 Hz tone in what the console heard"


def test_console_tone_reaches_baresip(console_factory, baresip_factory, events_factory, artifacts):
    """The console sends a generated 1004 Hz tone; baresip's sndfile module records it."""
    dumps = artifacts / "baresip-dumps"
    dumps.mkdir()
    console = console_factory(extra_args=["--media-source", "tone:1004"])
    events = events_factory(console)
    bs = baresip_factory("bs", record_to=dumps)
    call = console.dial(bs.aor)
    console.wait_call_state(call["id"], "active", timeout=15)
    stats_at_least(events, call["id"], "packets_sent", 150)
    n = len(bs.events)
    console.hangup(call["id"])
    bs.wait_event("CALL_CLOSED", timeout=10, after=n)
    decoded = wait_for(lambda: [p for p in dumps.glob("*-dec.wav") if p.stat().st_size > 16044], 10,
                       "baresip's recording of what it received")
    samples, rate = read_wav(decoded[0])
    tail = samples[-rate:]
    assert dominant(tail, rate, 1004.0), "baresip did not hear the console's 1004 Hz tone"


def test_dtmf_both_ways_with_baresip(console_factory, baresip_factory, events_factory):
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    bs = baresip_factory("bs")
    bs.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    bs.wait_event("CALL_ESTABLISHED", timeout=10)
    stats_at_least(events, call["id"], "packets_received", 10)

    # Console → baresip: RFC 4733 telephone-events, decoded by baresip.
    resp = console.post(f"/calls/{call['id']}/dtmf", {"digits": "12#"})
    assert resp.status_code == 200, resp.text

    def received():
        got = [e.get("param") or e.get("key") for e in bs.events if e.get("type") == "CALL_DTMF_START"]
        return got if len(got) >= 3 else None
    digits = wait_for(received, 10, "3 DTMF digits at baresip")
    assert "".join(str(d) for d in digits[:3]) == "12#", digits

    # baresip → console: its digits reach call.dtmf, each once.
    bs.command("sndcode", "5")
    ev = events.wait_event("call.dtmf", call_id=call["id"], timeout=10)
    assert ev["digit"] == "5" and ev["method"] == "rfc4733", ev

    bad = console.post(f"/calls/{call['id']}/dtmf", {"digits": "12x"})
    assert bad.status_code == 400, bad.text
    console.hangup(call["id"])


def test_hold_stops_rtp_both_ways(console_factory, baresip_factory, events_factory):
    console = console_factory()
    events = events_factory(console)
    bs = baresip_factory("bs")
    call = console.dial(bs.aor)
    console.wait_call_state(call["id"], "active", timeout=15)
    stats_at_least(events, call["id"], "packets_received", 50)
    assert console.post(f"/calls/{call['id']}/hold").status_code == 200
    events.wait_event("call.held", call_id=call["id"], timeout=10)
    # Two stats reports after the hold took effect: no packet went out in between.
    n = len(events.types(call["id"]))

    def two_reports_later():
        reports = [e for e in events.events if e.get("call_id") == call["id"]
                   and e.get("type") == "call.stats"]
        return reports[-3:] if len(events.types(call["id"])) >= n + 3 else None
    reports = wait_for(two_reports_later, 10, "stats after the hold")
    sent = [r["quality"]["packets_sent"] for r in reports]
    assert sent[-1] == sent[-2], f"RTP still sent while on hold: {sent}"
    received = [r["quality"]["packets_received"] for r in reports]
    assert received[-1] - received[-2] <= 2, f"RTP still received while on hold: {received}"
    console.hangup(call["id"])


def test_opus_call_with_baresip(console_factory, baresip_factory, events_factory, artifacts):
    """baresip offers Opus first; the console takes it and still hears the tone."""
    if not Path("/usr/lib/baresip/modules/opus.so").exists():
        pytest.skip("baresip opus module not installed")
    record = artifacts / "recordings"
    console = console_factory(auto_answer=True, extra_args=["--record-dir", str(record)])
    events = events_factory(console)
    bs = baresip_factory("bs", wav=tone_wav(artifacts, 600, 48000, 2),
                         extra_config="module\topus.so\n",
                         account_params=";audio_codecs=opus/48000/2,pcmu")
    bs.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    stats = stats_at_least(events, call["id"], "packets_received", 150)
    assert stats["call"]["codec"].lower().startswith("opus"), stats["call"]["codec"]
    console.hangup(call["id"])
    wav = record / f"{call['id']}.wav"
    samples, rate = wait_for(lambda: finished_recording(wav, 48000), 10, "the finished recording")
    assert rate == 48000
    assert dominant(samples[-48000:], rate, 600.0, others=(300.0, 900.0, 1500.0)), "no 600 Hz"
