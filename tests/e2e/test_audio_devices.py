"""The attendant's headset through real sound devices: a PulseAudio null sink stands in for the
headset (the machines have no sound card). The console plays each call to the sink and takes
its microphone from the sink's monitor, so what a caller says comes back to it through both
devices: baresip sends 440 Hz and must hear 440 Hz back, which it cannot without the speaker
and the microphone both working. `parec` checks the speaker side on its own."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from peers import REPO, stop_process, wait_for
from test_media import stats_at_least
from test_transfer_anchored import (decoded, has, last_second, recording_baresip, wait_heard,
                                    windows)

PULSE_SCRIPT = REPO / "crates" / "audio-io" / "scripts" / "pulse-null-sink.sh"


@pytest.fixture
def pulse(tmp_path) -> dict[str, str]:
    """A private PulseAudio daemon with a null sink; yields the environment that reaches it."""
    if shutil.which("pulseaudio") is None or shutil.which("parec") is None:
        pytest.skip("pulseaudio not installed (scripts/setup.sh installs it)")
    runtime = Path(f"/tmp/sb-pulse-{os.getpid()}-{tmp_path.name}"[:90])
    env = dict(os.environ, SWITCHBOARD_PULSE_DIR=str(runtime))
    out = subprocess.run([str(PULSE_SCRIPT)], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    pulse_env = {}
    for line in out.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export "):].split("=", 1)
            pulse_env[key] = value.strip("'\"")
    assert "XDG_RUNTIME_DIR" in pulse_env, out
    yield pulse_env
    subprocess.run(["pulseaudio", "--kill"], env=dict(os.environ, **pulse_env),
                   capture_output=True, timeout=20)
    shutil.rmtree(runtime, ignore_errors=True)


def capture_sink(env: dict[str, str], seconds: float, rate: int = 8000,
                 sink: str = "nullsink") -> list[int]:
    """`seconds` of what is played to a null sink, read from its monitor with parec."""
    need = int(seconds * rate) * 2
    proc = subprocess.Popen(["parec", "-d", f"{sink}.monitor", "--raw", "--format=s16le",
                             f"--rate={rate}", "--channels=1", "--latency-msec=20"],
                            stdout=subprocess.PIPE, env=dict(os.environ, **env))
    data = b""
    try:
        while len(data) < need:
            chunk = proc.stdout.read(need - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        stop_process(proc, grace=2)
    assert len(data) >= need, f"parec gave {len(data)} of {need} bytes"
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def test_headset_plays_the_caller_and_sends_the_microphone(console_factory, baresip_factory,
                                                            events_factory, artifacts, pulse):
    console = console_factory(auto_answer=True, audio="default", env=pulse,
                              extra_args=["--audio-input", "nullsink.monitor"])
    events = events_factory(console)
    opened(console)
    caller, dumps = recording_baresip(baresip_factory, artifacts, "caller", 440)
    caller.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    stats_at_least(events, call["id"], "packets_received", 100)

    # The speaker: the caller's tone is played to the sink.
    heard = capture_sink(pulse, 1.0)
    assert has(heard, 8000, (440.0,), (700.0, 1004.0, 1500.0)), \
        "the console did not play the caller's 440 Hz to the output device"

    # The microphone: the sink's monitor goes back to the caller, 440 Hz included.
    stats_at_least(events, call["id"], "packets_sent", 200)
    wait_heard(dumps, 2.5)
    n = len(caller.events)
    console.hangup(call["id"])
    caller.wait_event("CALL_CLOSED", timeout=10, after=n)
    samples, rate = decoded(dumps)
    assert has(last_second(samples, rate), rate, (440.0,), (700.0, 1004.0, 1500.0)), \
        "the caller did not hear its own tone back through the microphone"
    log = console.log_path.read_text(errors="replace")
    assert "the attendant's headset is open" in log, "the console did not open the devices"


def test_no_sound_device_runs_headless(console_factory, baresip_factory, events_factory,
                                       artifacts, tmp_path):
    """`--audio default` with no sound server and no card: calls still carry media."""
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "no-pulse"), "PULSE_SERVER": "unix:/nonexistent"}
    (tmp_path / "no-pulse").mkdir()
    console = console_factory(auto_answer=True, audio="default", env=env,
                              extra_args=["--media-source", "tone:1004"])
    events = events_factory(console)
    caller, dumps = recording_baresip(baresip_factory, artifacts, "caller", 440)
    caller.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    stats_at_least(events, call["id"], "packets_sent", 150)
    wait_heard(dumps, 2.0)
    n = len(caller.events)
    console.hangup(call["id"])
    caller.wait_event("CALL_CLOSED", timeout=10, after=n)
    samples, rate = decoded(dumps)
    assert has(last_second(samples, rate), rate, (1004.0,), (440.0, 700.0)), \
        "headless, the call should carry the configured source"
    assert console.alive()


def test_supervisor_listens_in_on_an_anchored_bridge(console_factory, baresip_factory,
                                                     events_factory, artifacts, pulse):
    """POST /calls/{id}/listen mixes both legs of a bridge into the console's output (the
    null sink): the caller's 1004 Hz and the target's 600 Hz, which are not played before it
    nor after /unlisten. A call in no bridge cannot be listened to (409)."""
    console = console_factory(auto_answer=True, audio="default", env=pulse,
                              extra_args=["--audio-input", "nullsink.monitor"])
    events = events_factory(console)
    opened(console)
    target, _ = recording_baresip(baresip_factory, artifacts, "target", 600)
    caller, _ = recording_baresip(baresip_factory, artifacts, "caller", 1004)
    caller.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    refused = console.post(f"/calls/{call['id']}/listen")
    assert refused.status_code == 409, refused.text
    resp = console.post(f"/calls/{call['id']}/transfer",
                        {"transfer_to": target.aor, "mode": "anchored"})
    assert resp.status_code == 202, resp.text
    done = events.wait_event("transfer.completed", call_id=call["id"], timeout=20)
    leg_id = done["transfer"]["target_call_id"]
    stats_at_least(events, leg_id, "packets_received", 50)

    others = (440.0, 1500.0, 2200.0)
    before = capture_sink(pulse, 1.0)
    assert not has(before, 8000, (600.0,), others) and not has(before, 8000, (1004.0,), others), \
        "the bridge was audible before listening in"

    resp = console.post(f"/calls/{leg_id}/listen")
    assert resp.status_code == 200 and resp.json()["listening"], resp.text
    events.wait_event("call.listening", call_id=call["id"], timeout=10)
    assert console.call(call["id"])["listening"]
    # Let a few mixed frames reach the sink, then listen to it.
    stats_at_least(events, call["id"], "packets_received",
                   console.call(call["id"])["quality"]["packets_received"] + 25)
    heard = capture_sink(pulse, 1.0)
    assert has(heard, 8000, (600.0, 1004.0), others), \
        "listening in did not play both legs to the output device"

    resp = console.post(f"/calls/{call['id']}/unlisten")
    assert resp.status_code == 200 and not resp.json()["listening"], resp.text
    # What was mixed before /unlisten is still on its way to the sink (the output ring and the
    # sound server, ~0.25 s): capture only after 25 more packets counted from the first stats
    # event after the reply. (The call's last snapshot can be a second old, and the next stats
    # event can come at once: that started the capture with the tail still playing.)
    since = len(events.events)
    first = events.wait_event("call.stats", call_id=call["id"], after=since)
    stats_at_least(events, call["id"], "packets_received",
                   first["quality"]["packets_received"] + 25)
    after = capture_sink(pulse, 1.0)
    assert not has(after, 8000, (600.0,), others) and not has(after, 8000, (1004.0,), others), \
        "the bridge stayed audible after /unlisten"
    console.hangup(call["id"])


def pactl(env: dict[str, str], *args: str) -> str:
    return subprocess.run(["pactl", *args], env=dict(os.environ, **env), capture_output=True,
                          text=True, timeout=20, check=True).stdout.strip()


def add_sink(env: dict[str, str], name: str) -> str:
    """Plugs in another headset: a second null sink. Returns its module index (to unplug it)."""
    return pactl(env, "load-module", "module-null-sink", f"sink_name={name}", "rate=48000")


def opened(console, what: str = "output") -> dict:
    """`GET /audio` once the console's devices are open (they open in the background)."""
    return wait_for(lambda: (lambda a: a if a.get(what) else None)(
        console.ok_json(console.get("/audio"))), 15, f"the console's {what} device to open")


def any_window_has(samples: list[int], rate: int, freqs: tuple[float, ...],
                   others: tuple[float, ...]) -> bool:
    return any(has(w, rate, freqs, others) for w in windows(samples, rate, 400))


def test_switching_the_headset_mid_call_keeps_the_call(console_factory, baresip_factory,
                                                       events_factory, artifacts, pulse):
    """PUT /audio/devices/output moves the call to another headset while it goes on; unplugging
    that headset (the sink's module unloaded) raises audio.device_lost and the call falls back
    to the system default, still up."""
    console = console_factory(auto_answer=True, audio="default", env=pulse,
                              extra_args=["--audio-input", "nullsink.monitor"])
    events = events_factory(console)
    opened(console)
    module = add_sink(pulse, "headset2")
    caller, _ = recording_baresip(baresip_factory, artifacts, "caller", 440)
    caller.command("dial", f"sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    stats_at_least(events, call["id"], "packets_received", 100)
    others = (700.0, 1004.0, 1500.0)
    assert has(capture_sink(pulse, 1.0), 8000, (440.0,), others), \
        "the call did not play on the first headset"

    listed = console.ok_json(console.get("/audio/devices"))
    ids = [d["id"] for d in listed["devices"] if d["is_output"]]
    assert any(i.endswith("headset2") for i in ids), listed
    assert listed["active"]["enabled"] and not listed["active"]["headless"], listed
    assert listed["active"]["output"].endswith("nullsink"), listed

    # Errors first: an unknown device, an unknown role, a bad body. None touches the call.
    resp = console.request("PUT", "/audio/devices/output", json={"device": "no-such-headset"})
    assert resp.status_code == 404 and resp.json()["code"] == "device_not_found", resp.text
    resp = console.request("PUT", "/audio/devices/speaker", json={"device": "headset2"})
    assert resp.status_code == 400, resp.text
    resp = console.request("PUT", "/audio/devices/output", json={"device": 7})
    assert resp.status_code == 400, resp.text

    n = len(caller.events)
    resp = console.request("PUT", "/audio/devices/output", json={"device": "headset2"},
                           timeout=15)
    assert resp.status_code == 200, resp.text
    assert resp.json()["output"].endswith("headset2"), resp.text
    events.wait_event("audio.devices", timeout=10,
                      pred=lambda e: (e["audio"]["output"] or "").endswith("headset2"))
    assert console.ok_json(console.get("/audio"))["output"].endswith("headset2")
    stats_at_least(events, call["id"], "packets_received",
                   console.call(call["id"])["quality"]["packets_received"] + 25)
    assert has(capture_sink(pulse, 1.0, sink="headset2"), 8000, (440.0,), others), \
        "after the switch the call did not play on the new headset"
    assert not has(capture_sink(pulse, 1.0), 8000, (440.0,), others), \
        "after the switch the call still played on the old headset"
    assert console.call(call["id"])["state"] == "active"
    assert not [e for e in caller.events[n:] if e.get("type") == "CALL_CLOSED"]

    # Unplug the new headset: the console says so and falls back to the default.
    pactl(pulse, "unload-module", module)
    lost = events.wait_event("audio.device_lost", timeout=20)
    assert lost["role"] == "output" and lost["device"].endswith("headset2"), lost
    assert (lost["fell_back_to"] or "").endswith("nullsink"), lost
    assert lost["call_id"] is None and lost["audio"]["output"] == lost["fell_back_to"], lost
    stats_at_least(events, call["id"], "packets_received",
                   console.call(call["id"])["quality"]["packets_received"] + 50)
    assert has(capture_sink(pulse, 1.0), 8000, (440.0,), others), \
        "after the headset was lost the call did not fall back to the default"
    assert console.call(call["id"])["state"] == "active"
    assert not [e for e in caller.events[n:] if e.get("type") == "CALL_CLOSED"]
    console.hangup(call["id"])


def test_the_ring_alert_rings_the_ring_device(console_factory, baresip_factory, events_factory,
                                             artifacts, pulse):
    """An inbound call rings the ring device (us: 440 + 480 Hz), not the headset; answering
    stops it."""
    add_sink(pulse, "ringer")
    console = console_factory(auto_answer=False, audio="default", env=pulse,
                              extra_args=["--audio-input", "nullsink.monitor",
                                          "--ring-device", "ringer"])
    events = events_factory(console)
    active = opened(console, "ring")
    assert active["ring"].endswith("ringer") and not active["alerting"], active
    caller, _ = recording_baresip(baresip_factory, artifacts, "caller", 1004)
    caller.command("dial", f"sip:desk@{console.sip_uri_host}")
    incoming = events.wait_event("call.incoming", timeout=15)
    assert console.ok_json(console.get("/audio"))["alerting"]
    others = (350.0, 1004.0, 1500.0)
    # One whole cadence (2 s on, 4 s off) of both devices at once.
    with ThreadPoolExecutor(2) as pool:
        ringer = pool.submit(capture_sink, pulse, 6.0, 8000, "ringer")
        headset = pool.submit(capture_sink, pulse, 6.0, 8000, "nullsink")
        rang, headset_heard = ringer.result(timeout=30), headset.result(timeout=30)
    assert any_window_has(rang, 8000, (440.0, 480.0), others), \
        "the ring device did not ring while the call waited"
    assert not any_window_has(headset_heard, 8000, (440.0, 480.0), others), \
        "the ring alert played in the headset although a ring device is set"

    console.answer(incoming["call_id"])
    console.wait_one_call("active", timeout=10)
    assert not console.ok_json(console.get("/audio"))["alerting"]
    # What was already on its way to the device may still sound: allow it 300 ms.
    silent = capture_sink(pulse, 2.5, sink="ringer")[8000 * 3 // 10:]
    assert not any_window_has(silent, 8000, (440.0, 480.0), others), \
        "the ring device kept ringing after the call was answered"
    console.hangup(incoming["call_id"])


def test_without_a_ring_device_the_headset_rings(console_factory, baresip_factory,
                                                 events_factory, artifacts, pulse):
    console = console_factory(auto_answer=False, audio="default", env=pulse,
                              extra_args=["--audio-input", "nullsink.monitor"])
    events = events_factory(console)
    opened(console)
    caller, _ = recording_baresip(baresip_factory, artifacts, "caller", 1004)
    caller.command("dial", f"sip:desk@{console.sip_uri_host}")
    incoming = events.wait_event("call.incoming", timeout=15)
    heard = capture_sink(pulse, 6.0)
    assert any_window_has(heard, 8000, (440.0, 480.0), (350.0, 1004.0, 1500.0)), \
        "the headset did not ring while the call waited"
    console.hangup(incoming["call_id"])


def test_audio_none_refuses_switching_clearly(console_factory):
    console = console_factory(auto_answer=True)
    status = console.ok_json(console.get("/audio"))
    assert not status["enabled"] and status["output"] is None, status
    resp = console.request("PUT", "/audio/devices/output", json={"device": "anything"})
    assert resp.status_code == 409 and resp.json()["code"] == "audio_unavailable", resp.text
    assert console.alive()


def test_the_attendant_hears_ringback_while_an_outbound_call_rings(console_factory,
                                                                 baresip_factory,
                                                                 events_factory, artifacts,
                                                                 pulse):
    """baresip (answermode=manual) answers 180 without early media: the console plays the
    region's ringback (us: 440 + 480 Hz) to the headset until baresip answers, then the call's
    own audio (baresip's 1004 Hz), without ringback."""
    console = console_factory(auto_answer=False, audio="default", env=pulse,
                              extra_args=["--audio-input", "nullsink.monitor"])
    events = events_factory(console)
    opened(console)
    callee, _ = recording_baresip(baresip_factory, artifacts, "callee", 1004,
                                  account_params=";answermode=manual")
    call = console.dial(callee.aor)
    events.wait_event("call.ringing", call_id=call["id"], timeout=15)
    others = (350.0, 1004.0, 1500.0)
    # The cadence starts with 2 s on: well inside it.
    assert has(capture_sink(pulse, 1.2), 8000, (440.0, 480.0), others), \
        "no ringback in the headset while the call rang"
    callee.command("accept")
    console.wait_call_state(call["id"], "active", timeout=15)
    stats_at_least(events, call["id"], "packets_received", 50)
    heard = capture_sink(pulse, 1.0)
    assert has(heard, 8000, (1004.0,), (440.0, 480.0, 1500.0)), \
        "after the answer the headset should play the call, without ringback"
    console.hangup(call["id"])


def test_the_dial_pad_tone_plays_in_the_headset(console_factory, pulse):
    """PUT /audio/tone {"tone": "dial"} plays the region's dial tone (us: 350 + 440 Hz,
    continuous) in the headset with no call at all, until {"tone": null}."""
    console = console_factory(auto_answer=False, audio="default", env=pulse,
                              extra_args=["--audio-input", "nullsink.monitor"])
    opened(console)
    bad = console.request("PUT", "/audio/tone", json={"tone": "fanfare"})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_request", bad.text
    resp = console.request("PUT", "/audio/tone", json={"tone": "dial"})
    assert resp.status_code == 200, resp.text
    others = (480.0, 1004.0, 1500.0)
    assert has(capture_sink(pulse, 1.0), 8000, (350.0, 440.0), others), \
        "no dial tone in the headset"
    resp = console.request("PUT", "/audio/tone", json={"tone": None})
    assert resp.status_code == 200, resp.text
    # What was already on its way to the device may still sound: allow it 300 ms.
    after = capture_sink(pulse, 1.3)[8000 * 3 // 10:]
    assert not has(after, 8000, (350.0, 440.0), others), "the dial tone did not stop"
