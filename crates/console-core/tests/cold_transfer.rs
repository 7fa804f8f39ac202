//! Cold transfer (REFER, RFC 3515/5589) in virtual time: the console against a real user
//! agent acting as transferee. Timeouts of 30 s run in microseconds.

use chrono::Utc;
use console_core::{
    Call, CallState, Command, Console, ConsoleConfig, EndReason, Reply, TransferMode,
    TransferRequest, TransferState,
};
use sip_message::MessageExt;
use sip_message::rsip::Method;
use sip_proto::{
    Destination, InviteParams, TimerConfig, TransactionKey, Transport, UaConfig, UaEvent, UserAgent,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SDP: &[u8] = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

/// The console plus a transferee UA, connected by a perfect virtual network.
struct Rig {
    now: Instant,
    console: Console,
    console_addr: SocketAddr,
    peer: UserAgent,
    peer_addr: SocketAddr,
    kinds: Vec<&'static str>,
    last_call: Option<Call>,
    peer_events: Vec<UaEvent>,
    /// Requests the peer received, in order (method names).
    peer_received: Vec<Method>,
}

impl Rig {
    fn new(hold_before_refer: bool) -> Self {
        let now = Instant::now();
        let console_addr: SocketAddr = "127.0.0.1:5060".parse().expect("literal");
        let peer_addr: SocketAddr = "127.0.0.1:5070".parse().expect("literal");
        let config = ConsoleConfig {
            auto_answer: true,
            hold_before_refer,
            ..ConsoleConfig::default()
        };
        let console = Console::new(
            config,
            vec![(Transport::Udp, console_addr)],
            HashMap::new(),
            now,
            Utc::now(),
        );
        let peer = UserAgent::new(UaConfig {
            timers: TimerConfig::default(),
            user_agent: "transferee".into(),
            local: vec![(Transport::Udp, peer_addr)],
            hosts: HashMap::new(),
        });
        Self {
            now,
            console,
            console_addr,
            peer,
            peer_addr,
            kinds: vec![],
            last_call: None,
            peer_events: vec![],
            peer_received: vec![],
        }
    }

    fn settle(&mut self, limit: Duration) {
        let end = self.now + limit;
        for _ in 0..100_000 {
            let mut moved = false;
            while let Some(t) = self.console.poll_transmit() {
                moved = true;
                if let sip_message::rsip::SipMessage::Request(r) = &t.message {
                    self.peer_received.push(r.method);
                }
                let bytes = sip_message::to_bytes(&t.message);
                self.peer.handle_datagram(
                    self.now,
                    &bytes,
                    Destination {
                        transport: Transport::Udp,
                        addr: self.console_addr,
                    },
                );
            }
            while let Some(t) = self.peer.poll_transmit() {
                moved = true;
                let bytes = sip_message::to_bytes(&t.message);
                self.console.handle_datagram(
                    self.now,
                    &bytes,
                    Destination {
                        transport: Transport::Udp,
                        addr: self.peer_addr,
                    },
                );
            }
            while let Some(e) = self.console.poll_event() {
                self.kinds.push(e.body.kind());
                if let Some(call) = e.body.call() {
                    self.last_call = Some(call.clone());
                }
            }
            while let Some(e) = self.peer.poll_event() {
                self.peer_events.push(e);
            }
            if moved {
                continue;
            }
            let next = [self.console.poll_timeout(), self.peer.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.console.handle_timeout(self.now);
                    self.peer.handle_timeout(self.now);
                }
                _ => {
                    // Nothing due before the end: that much virtual time passes idle.
                    self.now = self.now.max(end);
                    return;
                }
            }
        }
        panic!("livelock");
    }

    /// The peer calls the auto-answering console; returns (call id, peer session).
    fn connect(&mut self) -> (console_core::CallId, sip_proto::SessionId) {
        let params = InviteParams {
            request_uri: format!("sip:desk@{}", self.console_addr),
            from: format!("<sip:ada@{}>", self.peer_addr),
            to: format!("<sip:desk@{}>", self.console_addr),
            contact_user: "ada".into(),
            outbound_proxy: None,
            credentials: None,
            headers: vec![],
            sdp: SDP.to_vec(),
        };
        let session = self.peer.invite(self.now, params).expect("invite");
        self.settle(Duration::from_millis(100));
        let call = self.last_call.clone().expect("call");
        assert_eq!(call.state, CallState::Active);
        (call.id, session)
    }

    fn transfer(&mut self, id: &console_core::CallId, timeout: u32) {
        let request = TransferRequest {
            transfer_to: "tel:+15105550100".into(),
            mode: TransferMode::Cold,
            play_dialtone: false,
            caller_id: None,
            ringing_timeout_s: timeout,
            fallback_to_anchored: false,
        };
        match self.console.handle_command(
            self.now,
            Command::Transfer {
                call: id.clone(),
                request,
            },
        ) {
            Ok(Reply::Transfer(_)) => {}
            other => panic!("transfer refused: {other:?}"),
        }
    }

    /// The REFER the peer received, answered with `status` (and extra headers).
    fn answer_refer(&mut self, status: u16, headers: Vec<(String, String)>) -> u32 {
        let (key, request) = self.take_request(Method::Refer);
        assert_eq!(request.header_values("Refer-To"), vec!["tel:+15105550100"]);
        assert!(
            request
                .header_value("Referred-By")
                .is_some_and(|v| v.contains("sip:desk@"))
        );
        self.peer
            .respond(self.now, &key, &request, status, headers, None)
            .expect("respond");
        request.cseq().map(|(n, _)| n).expect("cseq")
    }

    fn take_request(&mut self, method: Method) -> (TransactionKey, sip_message::rsip::Request) {
        let pos = self
            .peer_events
            .iter()
            .position(|e| matches!(e, UaEvent::InDialogRequest { request, .. } if request.method == method))
            .unwrap_or_else(|| panic!("no {method} at the peer"));
        match self.peer_events.remove(pos) {
            UaEvent::InDialogRequest { key, request, .. } => (key, *request),
            _ => unreachable!("matched above"),
        }
    }

    fn notify(&mut self, session: sip_proto::SessionId, refer_cseq: u32, state: &str, frag: &str) {
        let headers = vec![
            ("Event".to_string(), format!("refer;id={refer_cseq}")),
            ("Subscription-State".to_string(), state.to_string()),
        ];
        self.peer
            .send_in_dialog(
                self.now,
                session,
                Method::Notify,
                headers,
                Some(("message/sipfrag;version=2.0", frag.as_bytes().to_vec())),
            )
            .expect("notify");
    }

    fn transfer_kinds(&self) -> Vec<&'static str> {
        self.kinds
            .iter()
            .copied()
            .filter(|k| k.starts_with("transfer.") || *k == "call.resumed" || *k == "call.ended")
            .collect()
    }
}

#[test]
fn accepted_transfer_byes_the_caller_only_after_the_final_notify() {
    let mut rig = Rig::new(false);
    let (id, session) = rig.connect();
    rig.transfer(&id, 30);
    rig.settle(Duration::from_millis(50));
    let cseq = rig.answer_refer(202, vec![]);
    rig.settle(Duration::from_millis(50));
    rig.notify(session, cseq, "active;expires=60", "SIP/2.0 100 Trying\r\n");
    rig.settle(Duration::from_millis(50));
    assert!(
        !rig.peer_received.contains(&Method::Bye),
        "BYE before the final NOTIFY"
    );
    assert_eq!(
        rig.last_call.as_ref().map(|c| c.state),
        Some(CallState::Transferring)
    );
    rig.notify(
        session,
        cseq,
        "terminated;reason=noresource",
        "SIP/2.0 200 OK\r\n",
    );
    rig.settle(Duration::from_millis(50));
    assert_eq!(rig.peer_received.last(), Some(&Method::Bye));
    assert_eq!(
        rig.transfer_kinds(),
        [
            "transfer.triggered",
            "transfer.initiated",
            "transfer.answered",
            "transfer.completed",
            "call.ended"
        ]
    );
    let call = rig.last_call.expect("call");
    assert_eq!(call.end_reason, Some(EndReason::Transferred));
    assert_eq!(
        call.transfer.map(|t| t.state),
        Some(TransferState::Completed)
    );
}

#[test]
fn refused_refer_leaves_the_caller_with_the_attendant() {
    let mut rig = Rig::new(false);
    let (id, _) = rig.connect();
    rig.transfer(&id, 30);
    rig.settle(Duration::from_millis(50));
    rig.answer_refer(405, vec![]);
    rig.settle(Duration::from_millis(50));
    assert_eq!(
        rig.transfer_kinds(),
        [
            "transfer.triggered",
            "transfer.initiated",
            "transfer.failed",
            "call.resumed"
        ]
    );
    let call = rig.last_call.expect("call");
    assert_eq!(call.state, CallState::Active);
    let transfer = call.transfer.expect("transfer");
    assert_eq!(
        (transfer.state, transfer.sip_status),
        (TransferState::Failed, Some(405))
    );
    assert!(!rig.peer_received.contains(&Method::Bye));
}

#[test]
fn no_final_notify_times_out_after_the_ringing_timeout() {
    let mut rig = Rig::new(false);
    let (id, session) = rig.connect();
    let started = rig.now;
    rig.transfer(&id, 30);
    rig.settle(Duration::from_millis(50));
    let cseq = rig.answer_refer(202, vec![]);
    rig.settle(Duration::from_millis(50));
    rig.notify(
        session,
        cseq,
        "active;expires=60",
        "SIP/2.0 180 Ringing\r\n",
    );
    rig.settle(Duration::from_secs(29));
    assert!(
        !rig.kinds.contains(&"transfer.failed"),
        "failed before the timeout"
    );
    rig.settle(Duration::from_secs(2));
    assert!(
        rig.kinds.contains(&"transfer.failed"),
        "{:?} after {:?}, next timeout {:?}",
        rig.kinds,
        rig.now.duration_since(started),
        rig.console
            .poll_timeout()
            .map(|t| t.duration_since(started))
    );
    assert!(rig.now.duration_since(started) >= Duration::from_secs(30));
    let call = rig.last_call.expect("call");
    assert_eq!(call.state, CallState::Active);
    assert_eq!(call.transfer.and_then(|t| t.sip_status), Some(408));
}

#[test]
fn refer_sub_false_completes_on_the_2xx() {
    let mut rig = Rig::new(false);
    let (id, _) = rig.connect();
    rig.transfer(&id, 30);
    rig.settle(Duration::from_millis(50));
    rig.answer_refer(200, vec![("Refer-Sub".into(), "false".into())]);
    rig.settle(Duration::from_millis(50));
    assert_eq!(rig.peer_received.last(), Some(&Method::Bye));
    assert_eq!(
        rig.last_call.and_then(|c| c.end_reason),
        Some(EndReason::Transferred)
    );
}

#[test]
fn caller_hanging_up_mid_transfer_ends_it_cleanly() {
    let mut rig = Rig::new(false);
    let (id, session) = rig.connect();
    rig.transfer(&id, 30);
    rig.settle(Duration::from_millis(50));
    rig.answer_refer(202, vec![]);
    rig.settle(Duration::from_millis(50));
    rig.peer.hangup(rig.now, session).expect("bye");
    rig.settle(Duration::from_secs(60));
    let kinds = rig.transfer_kinds();
    assert_eq!(
        kinds,
        [
            "transfer.triggered",
            "transfer.initiated",
            "transfer.failed",
            "call.ended"
        ]
    );
    let call = rig.last_call.expect("call");
    assert_eq!(call.end_reason, Some(EndReason::RemoteHangup));
    // No stray requests after the caller's BYE: only the REFER went out.
    assert_eq!(
        rig.peer_received
            .iter()
            .filter(|m| **m != Method::Refer)
            .count(),
        0
    );
}

#[test]
fn hold_before_refer_holds_then_refers_and_resumes_on_failure() {
    let mut rig = Rig::new(true);
    let (id, _) = rig.connect();
    rig.transfer(&id, 30);
    rig.settle(Duration::from_millis(50));
    // The re-INVITE (hold) first; the peer answers it.
    let (key, invite) = rig.take_request(Method::Invite);
    assert!(String::from_utf8_lossy(&invite.body).contains("a=sendonly"));
    rig.peer
        .respond(
            rig.now,
            &key,
            &invite,
            200,
            vec![("Contact".into(), "<sip:ada@127.0.0.1:5070>".into())],
            Some(("application/sdp", SDP.to_vec())),
        )
        .expect("200");
    rig.settle(Duration::from_millis(50));
    rig.answer_refer(603, vec![]);
    rig.settle(Duration::from_millis(50));
    // Failed: a resume re-INVITE goes out and the caller is active again.
    let (_, resume) = rig.take_request(Method::Invite);
    assert!(String::from_utf8_lossy(&resume.body).contains("a=sendrecv"));
    assert_eq!(rig.last_call.expect("call").state, CallState::Active);
}

#[test]
fn invite_with_replaces_takes_over_the_named_call() {
    // We are the transfer target: a new INVITE naming our dialog replaces that call.
    let mut rig = Rig::new(false);
    let (old_id, old_session) = rig.connect();
    let dialog = rig.peer.dialog(old_session).expect("dialog").clone();
    let replaces = format!(
        "{};to-tag={};from-tag={}",
        dialog.call_id, dialog.remote_tag, dialog.local_tag
    );
    let params = InviteParams {
        request_uri: format!("sip:desk@{}", rig.console_addr),
        from: format!("<sip:carol@{}>", rig.peer_addr),
        to: format!("<sip:desk@{}>", rig.console_addr),
        contact_user: "carol".into(),
        outbound_proxy: None,
        credentials: None,
        headers: vec![("Replaces".into(), replaces)],
        sdp: SDP.to_vec(),
    };
    rig.peer.invite(rig.now, params).expect("invite");
    rig.settle(Duration::from_millis(100));
    // The old call got a BYE and ended as transferred; the new one is up.
    assert_eq!(rig.peer_received.last(), Some(&Method::Bye));
    let calls = match rig.console.handle_command(rig.now, Command::ListCalls) {
        Ok(Reply::Calls(calls)) => calls,
        other => panic!("{other:?}"),
    };
    assert_eq!(calls.len(), 1);
    assert_ne!(calls[0].id, old_id);
    assert_eq!(calls[0].state, CallState::Active);
    assert_eq!(calls[0].remote_uri, format!("sip:carol@{}", rig.peer_addr));
    match rig
        .console
        .handle_command(rig.now, Command::GetCall(old_id))
    {
        Ok(Reply::Call(old)) => assert_eq!(old.end_reason, Some(EndReason::Transferred)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invite_with_replaces_for_an_unknown_dialog_gets_481() {
    let mut rig = Rig::new(false);
    let params = InviteParams {
        request_uri: format!("sip:desk@{}", rig.console_addr),
        from: format!("<sip:carol@{}>", rig.peer_addr),
        to: format!("<sip:desk@{}>", rig.console_addr),
        contact_user: "carol".into(),
        outbound_proxy: None,
        credentials: None,
        headers: vec![("Replaces".into(), "nope@x;to-tag=a;from-tag=b".into())],
        sdp: SDP.to_vec(),
    };
    rig.peer.invite(rig.now, params).expect("invite");
    rig.settle(Duration::from_millis(100));
    assert!(rig.peer_events.iter().any(|e| matches!(
        e,
        UaEvent::Terminated {
            reason: sip_proto::TerminationReason::Failed(481),
            ..
        }
    )));
    assert!(!rig.kinds.contains(&"call.incoming"));
}
