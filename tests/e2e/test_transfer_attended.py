"""Attended transfer (RFC 5589 §7, REFER with Replaces per RFC 3891).

The attendant consults a target (a real baresip) while the caller is held, then completes:
the caller gets a REFER whose Refer-To carries Replaces naming the console's dialog with the
target. baresip 1.0 (Debian 12) does not advertise `Supported: replaces`, so the caller that
must follow such a REFER is a sipp scenario that does.
"""

from __future__ import annotations

from peers import wait_for


def test_attended_transfer_refers_the_caller_with_replaces(console_factory, sipp_factory,
                                                          baresip_factory, events_factory):
    """The caller (sipp, `Supported: replaces`) gets a REFER whose Refer-To names bob's
    contact with Replaces = the console's consultation dialog with bob (a real baresip)."""
    from urllib.parse import unquote

    from peers import sip_header

    console = console_factory(auto_answer=True)
    events = events_factory(console)
    bob = baresip_factory("bob", user="bob")
    caller_peer = sipp_factory("caller", sf="refer_accept_after_hold.xml", remote=console.sip_uri_host,
                               args=["-m", "1", "-s", "desk"], timeout_s=90)
    caller_peer.start()
    caller = console.wait_one_call("active", timeout=15)

    resp = console.post(f"/calls/{caller['id']}/consult", {"to": bob.aor})
    assert resp.status_code == 201, resp.text
    consult = resp.json()
    answered = events.wait_event("transfer.answered", call_id=caller["id"], timeout=15)
    assert answered["transfer"]["mode"] == "attended"
    assert answered["transfer"]["target_call_id"] == consult["id"]
    bob.wait_event("CALL_ESTABLISHED", timeout=10)

    resp = console.post(f"/calls/{caller['id']}/transfer/complete")
    assert resp.status_code == 200, resp.text
    ended = events.wait_event("call.ended", call_id=caller["id"], timeout=20)
    assert ended["call"]["end_reason"] == "transferred", ended
    assert caller_peer.wait(20) == 0, caller_peer.diagnostics()
    kinds = [k for k in events.types(caller["id"]) if k.startswith("transfer.")]
    assert kinds == ["transfer.triggered", "transfer.initiated", "transfer.answered",
                     "transfer.completed"], kinds

    refer = [m for d, m in caller_peer.messages() if d == "received" and m.startswith("REFER ")][0]
    refer_to = sip_header(refer, "Refer-To")
    assert refer_to.startswith("<sip:bob") and "?Replaces=" in refer_to, refer_to
    replaces = unquote(refer_to.split("?Replaces=", 1)[1].rstrip(">"))
    sip_call_id = console.call(consult["id"])["sip_call_id"]
    assert replaces.startswith(sip_call_id + ";"), (replaces, sip_call_id)
    assert ";to-tag=" in replaces and ";from-tag=" in replaces, replaces
    # The sipp caller does not really call bob: the attendant ends the consultation.
    n = len(bob.events)
    console.hangup(consult["id"])
    bob.wait_event("CALL_CLOSED", timeout=10, after=n)


def test_complete_without_replaces_support_is_refused_clearly(console_factory, baresip_factory,
                                                             events_factory):
    """baresip 1.0 does not advertise `Supported: replaces`: completing by REFER is refused
    with a reason instead of sending a REFER it cannot follow."""
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    ada = baresip_factory("ada", user="ada")
    bob = baresip_factory("bob", user="bob")
    ada.command("dial", f"sip:desk@{console.sip_uri_host}")
    ada.wait_event("CALL_ESTABLISHED", timeout=15)
    caller = console.wait_one_call("active", timeout=10)
    console.post(f"/calls/{caller['id']}/consult", {"to": bob.aor})
    events.wait_event("transfer.answered", call_id=caller["id"], timeout=15)
    events.wait_event("call.held", call_id=caller["id"], timeout=10)
    resp = console.post(f"/calls/{caller['id']}/transfer/complete")
    assert resp.status_code == 409 and "Replaces" in resp.json()["message"], resp.text
    assert console.post(f"/calls/{caller['id']}/transfer/cancel").status_code == 200
    n = len(ada.events)
    console.hangup(caller["id"])
    ada.wait_event("CALL_CLOSED", timeout=10, after=n)


def test_consult_then_cancel_returns_to_the_caller(console_factory, baresip_factory,
                                                   events_factory):
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    ada = baresip_factory("ada", user="ada")
    bob = baresip_factory("bob", user="bob")
    ada.command("dial", f"sip:desk@{console.sip_uri_host}")
    ada.wait_event("CALL_ESTABLISHED", timeout=15)
    caller = console.wait_one_call("active", timeout=10)
    consult = console.post(f"/calls/{caller['id']}/consult", {"to": bob.aor}).json()
    events.wait_event("transfer.answered", call_id=caller["id"], timeout=15)
    # Completing twice or consulting again is a state error; cancel returns to the caller.
    assert console.post(f"/calls/{caller['id']}/consult", {"to": bob.aor}).status_code == 409
    resp = console.post(f"/calls/{caller['id']}/transfer/cancel")
    assert resp.status_code == 200, resp.text
    console.wait_call_state(consult["id"], "ended", timeout=10)
    wait_for(lambda: console.call(caller["id"])["state"] == "active", 10, "caller active again")
    n = len(ada.events)
    console.hangup(caller["id"])
    ada.wait_event("CALL_CLOSED", timeout=10, after=n)
