"""Cold transfers (SIP REFER, RFC 3515/5589) against real peers.

Each test: a caller (sipp scenario or baresip) calls the auto-answering console, the API
transfers the call, and the test checks what went over the wire and the event sequence.
"""

from __future__ import annotations

from peers import sip_header, wait_for

TRANSFER_EVENTS = ("transfer.triggered", "transfer.initiated", "transfer.answered",
                   "transfer.completed", "transfer.failed", "transfer.cancelled",
                   "call.resumed", "call.ended")


def start_caller(console, sipp_factory, scenario: str):
    caller = sipp_factory(scenario.removesuffix(".xml"), sf=scenario, remote=console.sip_uri_host,
                          args=["-m", "1", "-s", "desk"], timeout_s=90)
    caller.start()
    call = console.wait_one_call("active", timeout=15)
    return caller, call


def transfer(console, call_id: str, **body) -> str:
    resp = console.post(f"/calls/{call_id}/transfer", body)
    assert resp.status_code == 202, (resp.status_code, resp.text)
    return resp.json()["transfer_id"]


def transfer_types(events, call_id):
    return [t for t in events.types(call_id) if t in TRANSFER_EVENTS]


def received(caller, method: str) -> list[str]:
    return [m for d, m in caller.messages() if d == "received" and m.startswith(method + " ")]


def test_cold_transfer_accepted_by_sipp(console_factory, sipp_factory, events_factory):
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    caller, call = start_caller(console, sipp_factory, "refer_accept.xml")
    tid = transfer(console, call["id"], transfer_to="tel:+15105550100", mode="cold")
    done = events.wait_event("call.ended", call_id=call["id"], timeout=20)
    assert done["call"]["end_reason"] == "transferred", done
    assert caller.wait(20) == 0, caller.diagnostics()

    assert transfer_types(events, call["id"]) == [
        "transfer.triggered", "transfer.initiated", "transfer.answered", "transfer.completed",
        "call.ended"]
    completed = events.wait_event("transfer.completed", call_id=call["id"])
    assert completed["transfer"]["id"] == tid
    assert completed["transfer"]["state"] == "completed"
    assert completed["transfer"]["mode"] == "cold"

    refers = received(caller, "REFER")
    assert len(refers) == 1, refers
    refer = refers[0]
    assert [sip_header(refer, "Refer-To")] == ["tel:+15105550100"], refer
    assert refer.lower().count("\nrefer-to:") == 1, refer
    assert "sip:" in (sip_header(refer, "Referred-By") or ""), refer
    # RFC 5589: the BYE comes only after the final NOTIFY (sipp's scenario order enforces it:
    # a BYE before the second NOTIFY would be an unexpected message and fail the run).
    order = [m.split(" ", 1)[0] for d, m in caller.messages()
             if d == "received" and not m.startswith("SIP/2.0")]
    assert order[-2:] == ["REFER", "BYE"], order
    final = console.call(call["id"])
    assert final["transfer"]["state"] == "completed", final


def test_cold_transfer_sip_uri_in_angle_brackets(console_factory, sipp_factory, events_factory):
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    caller, call = start_caller(console, sipp_factory, "refer_accept.xml")
    transfer(console, call["id"], transfer_to="sip:sales@pbx.example.com", mode="cold")
    events.wait_event("transfer.completed", call_id=call["id"], timeout=20)
    assert caller.wait(20) == 0, caller.diagnostics()
    refer = received(caller, "REFER")[0]
    assert sip_header(refer, "Refer-To") == "<sip:sales@pbx.example.com>", refer


def test_cold_transfer_refer_sub_false_completes_on_2xx(console_factory, sipp_factory,
                                                         events_factory):
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    caller, call = start_caller(console, sipp_factory, "refer_sub_false.xml")
    transfer(console, call["id"], transfer_to="sip:sales@pbx.example.com")
    ended = events.wait_event("call.ended", call_id=call["id"], timeout=20)
    assert ended["call"]["end_reason"] == "transferred"
    assert caller.wait(20) == 0, caller.diagnostics()


def assert_back_with_attendant(console, events, caller, call_id, status):
    failed = events.wait_event("transfer.failed", call_id=call_id, timeout=30)
    assert failed["sip_status"] == status, failed
    assert failed["transfer"]["state"] == "failed"
    assert failed["reason"], failed
    events.wait_event("call.resumed", call_id=call_id, timeout=5)
    now = console.call(call_id)
    assert now["state"] == "active", now
    assert now["transfer"]["state"] == "failed" and now["transfer"]["sip_status"] == status, now
    assert transfer_types(events, call_id) == [
        "transfer.triggered", "transfer.initiated", "transfer.failed", "call.resumed"]
    # The caller is still up: the attendant hangs up, the caller sees a normal BYE.
    console.hangup(call_id)
    assert caller.wait(20) == 0, caller.diagnostics()
    assert console.call(call_id)["end_reason"] == "local_hangup"


def test_cold_transfer_refused_with_405(console_factory, sipp_factory, events_factory):
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    caller, call = start_caller(console, sipp_factory, "refer_reject_405.xml")
    transfer(console, call["id"], transfer_to="tel:+15105550100")
    assert_back_with_attendant(console, events, caller, call["id"], 405)


def test_cold_transfer_target_busy_486(console_factory, sipp_factory, events_factory):
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    caller, call = start_caller(console, sipp_factory, "refer_notify_486.xml")
    transfer(console, call["id"], transfer_to="sip:sales@pbx.example.com")
    assert_back_with_attendant(console, events, caller, call["id"], 486)

    # The call's SIP ladder tells the story of the failed transfer, in order.
    ladder = console.ok_json(console.get(f"/calls/{call['id']}/ladder"))
    assert ladder["call_id"] == call["id"] and ladder["omitted"] == 0, ladder
    steps = [(m["direction"], m["method"], m["status"]) for m in ladder["messages"]]
    want = [("received", "INVITE", None), ("sent", "INVITE", 200), ("received", "ACK", None),
            ("sent", "REFER", None), ("received", "REFER", 202),
            ("received", "NOTIFY", None), ("sent", "NOTIFY", 200)]
    it = iter(steps)
    assert all(step in it for step in want), f"ladder {steps} lacks {want} in order"
    notifies = [m for m in ladder["messages"]
                if m["direction"] == "received" and m["method"] == "NOTIFY"]
    assert "SIP/2.0 486" in notifies[-1]["message"], notifies[-1]["message"]
    refer = next(m for m in ladder["messages"] if m["method"] == "REFER" and m["status"] is None)
    assert refer["summary"].startswith("REFER sip:") and refer["cseq"].endswith("REFER"), refer
    assert refer["transport"] == "udp" and ":" in refer["remote"], refer
    missing = console.get("/calls/c-0000000000000000/ladder")
    assert missing.status_code == 404 and missing.json()["code"] == "call_not_found", missing.text


def test_cold_transfer_no_final_notify_times_out(console_factory, sipp_factory, events_factory):
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    caller, call = start_caller(console, sipp_factory, "refer_no_final.xml")
    transfer(console, call["id"], transfer_to="sip:sales@pbx.example.com", ringing_timeout_s=2)
    assert_back_with_attendant(console, events, caller, call["id"], 408)


def test_transfer_api_errors(console_factory, sipp_factory, events_factory):
    console = console_factory(auto_answer=True)
    caller, call = start_caller(console, sipp_factory, "refer_no_final.xml")
    cid = call["id"]
    bad = console.post(f"/calls/{cid}/transfer", {"transfer_to": "not a uri!", "mode": "cold"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_target", bad.text
    assert console.post(f"/calls/{cid}/transfer", {"transfer_to": "tel:15105550100"}).status_code == 400
    assert console.post(f"/calls/{cid}/transfer", {"mode": "cold"}).status_code == 400
    assert console.post(f"/calls/{cid}/transfer",
                        {"transfer_to": "sip:a@b", "mode": "sideways"}).status_code == 400
    missing = console.post("/calls/c-nope/transfer", {"transfer_to": "sip:a@b", "mode": "cold"})
    assert missing.status_code == 404, missing.text
    transfer(console, cid, transfer_to="sip:sales@pbx.example.com", ringing_timeout_s=30)
    again = console.post(f"/calls/{cid}/transfer", {"transfer_to": "sip:x@y", "mode": "cold"})
    assert again.status_code == 409 and again.json()["code"] == "wrong_state", again.text
    # Cancel returns the caller to the attendant.
    cancelled = console.post(f"/calls/{cid}/transfer/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "active"
    assert cancelled.json()["transfer"]["state"] == "cancelled"
    assert console.post(f"/calls/{cid}/transfer/cancel").status_code == 409
    console.hangup(cid)
    assert caller.wait(20) == 0, caller.diagnostics()
    # Not established any more.
    late = console.post(f"/calls/{cid}/transfer", {"transfer_to": "sip:x@y", "mode": "cold"})
    assert late.status_code == 409, late.text


def test_cold_transfer_with_baresip_as_the_caller(console_factory, sipp_factory, baresip_factory,
                                                   events_factory):
    """baresip calls the console, follows the REFER and calls the target (a sipp UAS)."""
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    target = sipp_factory("target_uas", sn="uas", args=["-m", "1"], timeout_s=60)
    target.start().wait_listening()
    bs = baresip_factory()
    bs.command("dial", f"sip:desk@{console.sip_uri_host}")
    bs.wait_event("CALL_ESTABLISHED", timeout=15)
    call = console.wait_one_call("active", timeout=10)
    transfer(console, call["id"], transfer_to=f"sip:target@127.0.0.1:{target.port}")
    ended = events.wait_event("call.ended", call_id=call["id"], timeout=30)
    assert ended["call"]["end_reason"] == "transferred", ended
    assert transfer_types(events, call["id"])[-2:] == ["transfer.completed", "call.ended"]
    # The target really got baresip's INVITE (not one from the console).
    wait_for(lambda: [m for d, m in target.messages() if d == "received" and m.startswith("INVITE ")],
             15, "INVITE at the transfer target")
    invite = [m for d, m in target.messages() if d == "received" and m.startswith("INVITE ")][0]
    assert "bob" in (sip_header(invite, "From") or ""), invite
    n = len(bs.events)
    bs.command("hangup")
    bs.wait_event("CALL_CLOSED", timeout=10, after=n)
    assert target.wait(20) == 0, target.diagnostics()


def test_hold_before_refer_policy(console_factory, sipp_factory, events_factory):
    """With [transfer] hold_before_refer = true the caller is held (a=sendonly) before the REFER."""
    console = console_factory(auto_answer=True, config="[transfer]\nhold_before_refer = true\n")
    events = events_factory(console)
    caller, call = start_caller(console, sipp_factory, "refer_accept_after_hold.xml")
    transfer(console, call["id"], transfer_to="tel:+15105550100")
    ended = events.wait_event("call.ended", call_id=call["id"], timeout=20)
    assert ended["call"]["end_reason"] == "transferred", ended
    assert caller.wait(20) == 0, caller.diagnostics()
    order = [m.split(" ", 1)[0] for d, m in caller.messages()
             if d == "received" and not m.startswith("SIP/2.0")]
    assert order[-4:] == ["INVITE", "ACK", "REFER", "BYE"], order


def test_transfer_events_reach_webhooks_signed_and_retried(console_factory, sipp_factory,
                                                            events_factory):
    import hashlib
    import hmac
    import http.server
    import json
    import threading

    received: list[dict] = []
    lock = threading.Condition()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                first = not received
                received.append({"headers": dict(self.headers), "body": body, "status": 500 if first else 204})
                lock.notify_all()
            # The very first delivery fails: the console must retry it.
            self.send_response(500 if first else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        config = f'[[webhooks]]\nurl = "http://127.0.0.1:{port}/hooks/switchboard"\nsecret = "s3cret"\n'
        console = console_factory(auto_answer=True, config=config)
        events = events_factory(console)
        caller, call = start_caller(console, sipp_factory, "refer_accept.xml")
        transfer(console, call["id"], transfer_to="tel:+15105550100")
        events.wait_event("call.ended", call_id=call["id"], timeout=20)
        assert caller.wait(20) == 0, caller.diagnostics()

        def delivered():
            with lock:
                ok = [r for r in received if r["status"] == 204]
                kinds = [json.loads(r["body"])["type"] for r in ok]
                return kinds if "transfer.completed" in kinds else None
        kinds = wait_for(delivered, 15, "transfer.completed at the webhook")
        assert kinds == ["transfer.triggered", "transfer.initiated", "transfer.answered",
                         "transfer.completed"], kinds
        with lock:
            first, retry = received[0], received[1]
        # The failed first delivery was retried with the same delivery id and body.
        assert first["body"] == retry["body"]
        assert first["headers"]["X-Switchboard-Delivery"] == retry["headers"]["X-Switchboard-Delivery"]
        for r in received:
            want = "sha256=" + hmac.new(b"s3cret", r["body"], hashlib.sha256).hexdigest()
            assert r["headers"]["X-Switchboard-Signature"] == want
            assert r["headers"]["X-Switchboard-Event"] == json.loads(r["body"])["type"]
    finally:
        server.shutdown()


def test_cold_transfer_with_linphonec_as_the_caller(console_factory, sipp_factory,
                                                     linphonec_factory, events_factory):
    """linphonec holds the console (re-INVITE) before it follows the REFER to the target."""
    console = console_factory(auto_answer=True)
    events = events_factory(console)
    target = sipp_factory("target_uas", sn="uas", args=["-m", "1"], timeout_s=60)
    target.start().wait_listening()
    lp = linphonec_factory()
    lp.send(f"call sip:desk@{console.sip_uri_host}")
    call = console.wait_one_call("active", timeout=15)
    transfer(console, call["id"], transfer_to=f"sip:target@127.0.0.1:{target.port}")
    ended = events.wait_event("call.ended", call_id=call["id"], timeout=30)
    assert ended["call"]["end_reason"] == "transferred", ended
    kinds = events.types(call["id"])
    # linphonec put us on hold before calling the target.
    assert "call.held" in kinds, kinds
    assert kinds.index("transfer.initiated") < kinds.index("call.held") < kinds.index("transfer.completed")
    wait_for(lambda: [m for d, m in target.messages() if d == "received" and m.startswith("INVITE ")],
             15, "INVITE at the transfer target")
    lp.send("terminate")
    assert target.wait(30) == 0, target.diagnostics()
