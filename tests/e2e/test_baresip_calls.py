"""Calls between the console and a real UA (baresip 1.0, headless)."""

from __future__ import annotations

import json

from peers import wait_for


def test_baresip_dials_console(console_factory, baresip_factory):
    """baresip calls the auto-answering console; baresip hangs up -> remote_hangup."""
    console = console_factory(auto_answer=True)
    bs = baresip_factory()
    resp = bs.command("dial", f"sip:operator@{console.sip_uri_host}")
    assert resp.get("ok") is not False, resp
    bs.wait_event("CALL_ESTABLISHED", timeout=15)
    call = console.wait_one_call("active", timeout=10)
    assert call["direction"] == "inbound", call
    assert "bob" in (call["remote_uri"] or ""), call

    n = len(bs.events)
    resp = bs.command("hangup")
    assert resp.get("ok") is not False, resp
    bs.wait_event("CALL_CLOSED", timeout=10, after=n)
    ended = console.wait_call_state(call["id"], "ended", timeout=10)
    assert ended["end_reason"] == "remote_hangup", ended


def test_console_dials_baresip(console_factory, baresip_factory):
    """The console calls baresip (answermode=auto); the API hangs up; baresip closes."""
    console = console_factory()
    bs = baresip_factory()
    call = console.dial(bs.aor)
    active = console.wait_call_state(call["id"], "active", timeout=15)
    assert active["direction"] == "outbound", active
    bs.wait_event("CALL_ESTABLISHED", timeout=10)

    n = len(bs.events)
    console.hangup(call["id"])
    closed = bs.wait_event("CALL_CLOSED", timeout=10, after=n)
    assert closed, json.dumps(bs.events[-5:])
    ended = console.wait_call_state(call["id"], "ended", timeout=10)
    assert ended["end_reason"] == "local_hangup", ended
    wait_for(lambda: any(c["id"] == call["id"] for c in console.history(limit=10)), 10,
             "the call in /history")
