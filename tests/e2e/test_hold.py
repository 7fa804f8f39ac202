"""Hold and resume against baresip: both directions, re-INVITEs with the right SDP direction."""

from __future__ import annotations

from peers import wait_for


def test_console_holds_and_resumes_baresip(console_factory, baresip_factory, events_factory):
    console = console_factory()
    events = events_factory(console)
    bs = baresip_factory()
    call = console.dial(bs.aor)
    console.wait_call_state(call["id"], "active", timeout=15)
    bs.wait_event("CALL_ESTABLISHED", timeout=10)

    resp = console.post(f"/calls/{call['id']}/hold")
    assert resp.status_code == 200, resp.text
    held = events.wait_event("call.held", call_id=call["id"], timeout=10)
    assert held["call"]["state"] == "held" and held["call"]["held_by"] == "local", held
    assert console.call(call["id"])["state"] == "held"
    # Holding twice is a state error.
    again = console.post(f"/calls/{call['id']}/hold")
    assert again.status_code == 409, again.text

    resp = console.post(f"/calls/{call['id']}/resume")
    assert resp.status_code == 200, resp.text
    events.wait_event("call.resumed", call_id=call["id"], timeout=10)
    assert console.call(call["id"])["state"] == "active"

    mute = console.post(f"/calls/{call['id']}/mute")
    assert mute.status_code == 200 and mute.json()["muted"] is True, mute.text
    unmute = console.post(f"/calls/{call['id']}/unmute")
    assert unmute.status_code == 200 and unmute.json()["muted"] is False, unmute.text

    n = len(bs.events)
    console.hangup(call["id"])
    bs.wait_event("CALL_CLOSED", timeout=10, after=n)


def test_baresip_holds_the_console(console_factory, baresip_factory, events_factory):
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    bs = baresip_factory()
    bs.command("dial", f"sip:desk@{console.sip_uri_host}")
    bs.wait_event("CALL_ESTABLISHED", timeout=15)
    call = console.wait_one_call("active", timeout=10)

    bs.command("hold")
    held = events.wait_event("call.held", call_id=call["id"], timeout=10)
    assert held["call"]["held_by"] == "remote", held
    # We cannot resume what the other side holds.
    assert console.post(f"/calls/{call['id']}/resume").status_code == 409

    bs.command("resume")
    events.wait_event("call.resumed", call_id=call["id"], timeout=10)
    wait_for(lambda: console.call(call["id"])["state"] == "active", 5, "active again")
    n = len(bs.events)
    bs.command("hangup")
    bs.wait_event("CALL_CLOSED", timeout=10, after=n)
