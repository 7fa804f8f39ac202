"""Calls between the console and sipp: load, outbound, inbound with events, crash."""

from __future__ import annotations

import time

import pytest

from peers import wait_for


def test_sipp_uac_over_tcp(console_factory, sipp_factory):
    """The same built-in UAC over TCP (one connection, Content-Length framing)."""
    console = console_factory(auto_answer=True)
    args = ["-t", "t1", "-m", "20", "-r", "10", "-d", "500"]
    sipp = sipp_factory("uac_tcp", sn="uac", remote=console.sip_uri_host, args=args,
                        timeout_s=60, trace_msg=False)
    rc = sipp.run(timeout=80)
    stats = sipp.stats()
    assert rc == 0 and stats["failed"] == 0 and stats["successful"] == 20, (
        f"sipp rc={rc} stats={stats}\n{sipp.diagnostics()}")
    history = console.history(limit=50)
    assert len(history) == 20 and all(c["end_reason"] == "remote_hangup" for c in history), history


@pytest.mark.parametrize("lost", [0, 10], ids=["clean", "lost10pct"])
def test_sipp_uac_load(console_factory, sipp_factory, lost):
    """100 one-second calls at 10 cps from sipp's built-in UAC, all completed,
    also with 10 % of sipp's packets dropped (retransmissions must recover)."""
    console = console_factory(auto_answer=True)
    args = ["-m", "100", "-r", "10", "-d", "1000", "-buff_size", "4194304"]
    if lost:
        args += ["-lost", str(lost)]
    sipp = sipp_factory(f"uac_load_lost{lost}", sn="uac", remote=console.sip_uri_host,
                        args=args, timeout_s=150, trace_msg=False)
    rc = sipp.run(timeout=170)
    stats = sipp.stats()
    assert rc == 0 and stats["failed"] == 0 and stats["successful"] == 100, (
        f"sipp rc={rc} stats={stats}\n{sipp.diagnostics()}")
    assert console.alive()
    assert console.get("/health").status_code == 200
    # Nothing stays up after the load. With loss, a session whose every ACK was dropped lives
    # until Timer H (64*T1 = 32 s) ends it with a BYE (RFC 3261 13.3.1.4): allow for that.
    def live():
        return [c for c in console.calls() if c["state"] != "ended"]
    try:
        wait_for(lambda: not live(), 10 if not lost else 40, "no live calls after the load")
    except TimeoutError as exc:
        raise AssertionError(f"calls still live after the load: {live()}") from exc


def test_api_outbound_to_sipp_uas(console_factory, sipp_factory):
    """POST /calls to sipp's UAS; active; hang up by API; sipp gets the BYE."""
    console = console_factory()
    uas = sipp_factory("uas", sn="uas", args=["-m", "1"], timeout_s=60).start().wait_listening()
    call = console.dial(f"sip:service@127.0.0.1:{uas.port}")
    assert call["direction"] == "outbound"
    assert call["state"] in ("dialing", "early", "ringing", "active"), call
    active = console.wait_call_state(call["id"], "active", timeout=15)
    assert active["answered_at"], active
    console.hangup(call["id"])
    rc = uas.wait(timeout=20)
    assert rc == 0, f"sipp uas rc={rc}\n{uas.diagnostics()}"
    assert any(d == "received" and m.startswith("BYE ") for d, m in uas.messages()), \
        "sipp did not receive a BYE"
    ended = console.wait_call_state(call["id"], "ended", timeout=10)
    assert ended["end_reason"] == "local_hangup", ended


def test_ws_incoming_answer_history(console_factory, sipp_factory, events_factory):
    """Inbound call seen on the WebSocket, answered and hung up by API, in history."""
    console = console_factory()
    events = events_factory(console)
    uac = sipp_factory("uac_wait", sf="uac_wait_answer.xml", remote=console.sip_uri_host,
                       args=["-s", "operator", "-m", "1"], timeout_s=60).start()
    incoming = events.wait_event("call.incoming", timeout=15)
    call_id = incoming["call_id"]
    assert incoming["call"]["direction"] == "inbound", incoming
    assert incoming["call"]["state"] == "ringing", incoming
    assert "sipp" in (incoming["call"]["remote_uri"] or ""), incoming
    console.answer(call_id)
    events.wait_event("call.answered", timeout=10, call_id=call_id)
    console.wait_call_state(call_id, "active", timeout=10)
    console.hangup(call_id)
    events.wait_event("call.ended", timeout=10, call_id=call_id)
    rc = uac.wait(timeout=20)
    assert rc == 0, f"sipp uac rc={rc}\n{uac.diagnostics()}"

    order = [t for t in events.types(call_id)
             if t in ("call.incoming", "call.answered", "call.ended")]
    assert order == ["call.incoming", "call.answered", "call.ended"], events.types(call_id)

    def in_history():
        return next((c for c in console.history(limit=10) if c["id"] == call_id), None)
    hist = wait_for(in_history, 10, "the call in /history")
    assert hist["direction"] == "inbound"
    assert hist["state"] == "ended"
    assert hist["started_at"] and hist["answered_at"] and hist["ended_at"], hist
    assert hist["end_reason"] == "local_hangup", hist


def test_crash_history(console_factory, sipp_factory):
    """kill -9 during an active call; after restart the call is in history as interrupted."""
    console = console_factory(auto_answer=True)
    uac = sipp_factory("uac_stays_up", sf="uac_wait_answer.xml", remote=console.sip_uri_host,
                       args=["-s", "operator", "-m", "1"], timeout_s=120).start()
    call = console.wait_one_call("active", timeout=15)
    console.kill9()
    uac.stop()
    console.start()
    hist = wait_for(lambda: next((c for c in console.history(limit=20) if c["id"] == call["id"]), None),
                    15, "the interrupted call in /history")
    assert hist["state"] == "ended", hist
    assert hist["end_reason"] == "interrupted", hist
    assert hist["answered_at"], hist
    assert hist["ended_at"], hist
    assert not [c for c in console.calls() if c["id"] == call["id"] and c["state"] != "ended"]


def test_dial_by_host_name(console_factory, sipp_factory):
    """Host names are resolved off the engine; an unresolvable one is a clear 400."""
    import socket

    console = console_factory()
    bad = console.post("/calls", {"to": "sip:bob@no-such-host.invalid"})
    assert bad.status_code == 400 and "resolve" in bad.json()["message"], bad.text

    name = socket.gethostname()
    try:
        resolved = socket.gethostbyname(name)
    except OSError:
        resolved = ""
    if not resolved.startswith("127."):
        pytest.skip(f"host name {name!r} does not resolve to loopback here")
    uas = sipp_factory("uas_by_name", sn="uas", args=["-m", "1"], timeout_s=30)
    uas.start().wait_listening()
    call = console.dial(f"sip:service@{name}:{uas.port}")
    console.wait_call_state(call["id"], "active", timeout=10)
    console.hangup(call["id"])
    assert uas.wait(15) == 0, uas.diagnostics()
