//! Anchored transfer in virtual time: the console between a caller UA and a target UA, on a
//! perfect virtual network. The console dials the target itself, plays dial tone to the caller
//! while it rings, bridges the two legs' media on answer, and ends either leg when the other
//! hangs up. A 30-second ringing timeout runs in microseconds.

use chrono::Utc;
use console_core::{
    Call, CallId, CallState, Command, Console, ConsoleConfig, EndReason, HoldSide, MediaCommand,
    MediaEvent, Reply, TransferMode, TransferRequest, TransferState,
};
use media_engine::ToneKind;
use sip_message::MessageExt;
use sip_message::rsip::Method;
use sip_proto::{
    Destination, InviteParams, SessionId, TimerConfig, Transport, UaConfig, UaEvent, UserAgent,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SDP: &[u8] = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
/// The same stream, put on hold by its sender (RFC 3264 §8.4).
const SDP_SENDONLY: &[u8] = b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
/// And taken off hold.
const SDP_SENDRECV: &[u8] = b"v=0\r\no=- 1 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n";

/// How the target UA treats the console's INVITE.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    /// 180, then waits for the test to answer.
    Rings,
    /// Rejects at once with this status.
    Rejects(u16),
}

struct Peer {
    ua: UserAgent,
    addr: SocketAddr,
    events: Vec<UaEvent>,
}

struct Rig {
    now: Instant,
    console: Console,
    console_addr: SocketAddr,
    caller: Peer,
    target: Peer,
    target_mode: Target,
    kinds: Vec<(&'static str, Option<CallId>)>,
    calls: HashMap<CallId, Call>,
    media: Vec<MediaCommand>,
    /// INVITEs the target got in this round, answered after the peers' events are drained.
    target_incoming: Vec<UaEvent>,
}

fn peer(name: &str, addr: SocketAddr) -> Peer {
    Peer {
        ua: UserAgent::new(UaConfig {
            timers: TimerConfig::default(),
            user_agent: name.into(),
            local: vec![(Transport::Udp, addr)],
            hosts: HashMap::new(),
        }),
        addr,
        events: vec![],
    }
}

impl Rig {
    fn new(target_mode: Target) -> Self {
        Self::with_config(
            target_mode,
            ConsoleConfig {
                auto_answer: true,
                ..ConsoleConfig::default()
            },
        )
    }

    fn with_config(target_mode: Target, config: ConsoleConfig) -> Self {
        let now = Instant::now();
        let console_addr: SocketAddr = "127.0.0.1:5060".parse().expect("literal");
        let console = Console::new(
            config,
            vec![(Transport::Udp, console_addr)],
            HashMap::new(),
            now,
            Utc::now(),
        );
        Self {
            now,
            console,
            console_addr,
            caller: peer("caller", "127.0.0.1:5070".parse().expect("literal")),
            target: peer("target", "127.0.0.1:5080".parse().expect("literal")),
            target_mode,
            kinds: vec![],
            calls: HashMap::new(),
            media: vec![],
            target_incoming: vec![],
        }
    }

    fn settle(&mut self, limit: Duration) {
        let end = self.now + limit;
        let from_console = Destination {
            transport: Transport::Udp,
            addr: self.console_addr,
        };
        for _ in 0..100_000 {
            let mut moved = false;
            while let Some(t) = self.console.poll_transmit() {
                moved = true;
                let bytes = sip_message::to_bytes(&t.message);
                let peer = if t.destination == self.target.addr {
                    &mut self.target
                } else {
                    &mut self.caller
                };
                peer.ua.handle_datagram(self.now, &bytes, from_console);
            }
            for peer in [&mut self.caller, &mut self.target] {
                while let Some(t) = peer.ua.poll_transmit() {
                    moved = true;
                    let bytes = sip_message::to_bytes(&t.message);
                    let source = Destination {
                        transport: Transport::Udp,
                        addr: peer.addr,
                    };
                    self.console.handle_datagram(self.now, &bytes, source);
                }
            }
            while let Some(e) = self.console.poll_event() {
                self.kinds.push((e.body.kind(), e.call_id.clone()));
                if let Some(call) = e.body.call() {
                    self.calls.insert(call.id.clone(), call.clone());
                }
            }
            while let Some(m) = self.console.poll_media() {
                self.media.push(m);
            }
            let target_addr = self.target.addr;
            for peer in [&mut self.caller, &mut self.target] {
                while let Some(e) = peer.ua.poll_event() {
                    // Both peers accept re-INVITEs (hold and resume from the console).
                    if let UaEvent::InDialogRequest { key, request, .. } = &e
                        && request.method == Method::Invite
                    {
                        moved = true;
                        peer.ua
                            .respond(
                                self.now,
                                key,
                                request,
                                200,
                                vec![],
                                Some(("application/sdp", SDP.to_vec())),
                            )
                            .expect("answer the re-INVITE");
                    }
                    if !matches!(e, UaEvent::IncomingCall { .. }) || peer.addr != target_addr {
                        peer.events.push(e);
                    } else {
                        self.target_incoming.push(e);
                    }
                }
            }
            for e in std::mem::take(&mut self.target_incoming) {
                if let UaEvent::IncomingCall { session, .. } = &e {
                    moved = true;
                    match self.target_mode {
                        Target::Rings => self.target.ua.ringing(self.now, *session, 180, vec![]),
                        Target::Rejects(code) => self.target.ua.reject(self.now, *session, code),
                    }
                    .expect("target answers the INVITE");
                }
                self.target.events.push(e);
            }
            if moved {
                continue;
            }
            let next = [
                self.console.poll_timeout(),
                self.caller.ua.poll_timeout(),
                self.target.ua.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.console.handle_timeout(self.now);
                    self.caller.ua.handle_timeout(self.now);
                    self.target.ua.handle_timeout(self.now);
                }
                _ => {
                    self.now = self.now.max(end);
                    return;
                }
            }
        }
        panic!("livelock");
    }

    /// The caller calls the auto-answering console; returns (call id, caller session).
    fn connect(&mut self) -> (CallId, SessionId) {
        let params = InviteParams {
            request_uri: format!("sip:desk@{}", self.console_addr),
            from: format!("<sip:ada@{}>", self.caller.addr),
            to: format!("<sip:desk@{}>", self.console_addr),
            contact_user: "ada".into(),
            outbound_proxy: None,
            credentials: None,
            headers: vec![],
            sdp: SDP.to_vec(),
        };
        let session = self.caller.ua.invite(self.now, params).expect("invite");
        self.settle(Duration::from_millis(100));
        let (id, call) = self.calls.iter().next().expect("the caller's call");
        assert_eq!(call.state, CallState::Active);
        (id.clone(), session)
    }

    fn anchored(&mut self, id: &CallId, play_dialtone: bool, timeout: u32) {
        let request = TransferRequest {
            transfer_to: format!("sip:sales@{}", self.target.addr),
            mode: TransferMode::Anchored,
            play_dialtone,
            caller_id: None,
            ringing_timeout_s: timeout,
            fallback_to_anchored: false,
        };
        let command = Command::Transfer {
            call: id.clone(),
            request,
        };
        match self.console.handle_command(self.now, command) {
            Ok(Reply::Transfer(_)) => {}
            other => panic!("transfer refused: {other:?}"),
        }
    }

    /// The console's INVITE as the target received it.
    fn target_invite(&self) -> sip_message::rsip::Request {
        self.target
            .events
            .iter()
            .find_map(|e| match e {
                UaEvent::IncomingCall { request, .. } => Some((**request).clone()),
                _ => None,
            })
            .expect("the target got an INVITE")
    }

    /// The session at the target (the console's INVITE).
    fn target_session(&self) -> SessionId {
        self.target
            .events
            .iter()
            .find_map(|e| match e {
                UaEvent::IncomingCall { session, .. } => Some(*session),
                _ => None,
            })
            .expect("the target got an INVITE")
    }

    fn transfer_kinds(&self, id: &CallId) -> Vec<&'static str> {
        self.kinds
            .iter()
            .filter(|(k, c)| c.as_ref() == Some(id) && k.starts_with("transfer."))
            .map(|(k, _)| *k)
            .collect()
    }

    fn call(&self, id: &CallId) -> &Call {
        self.calls.get(id).expect("a known call")
    }

    fn target_leg(&self, id: &CallId) -> CallId {
        self.call(id)
            .transfer
            .as_ref()
            .and_then(|t| t.target_call_id.clone())
            .expect("the transfer names its target leg")
    }

    fn tone_of(&self, id: &CallId) -> Option<ToneKind> {
        self.media.iter().rev().find_map(|m| match m {
            MediaCommand::Tone { call, tone } if call == id => Some(*tone),
            _ => None,
        })?
    }

    fn bridged(&self, a: &CallId, b: &CallId) -> bool {
        self.media.iter().any(|m| {
            matches!(m, MediaCommand::Bridge { a: x, b: y }
                if (x == a && y == b) || (x == b && y == a))
        })
    }
}

#[test]
fn answered_target_is_bridged_and_both_legs_stay_up() {
    let mut rig = Rig::new(Target::Rings);
    let (id, _) = rig.connect();
    rig.anchored(&id, true, 30);
    rig.settle(Duration::from_millis(100));
    let leg = rig.target_leg(&id);
    // Ringing: dial tone to the caller, no bridge yet.
    assert_eq!(rig.tone_of(&id), Some(ToneKind::Dial));
    assert!(!rig.bridged(&id, &leg));
    assert_eq!(
        rig.transfer_kinds(&id),
        ["transfer.triggered", "transfer.initiated"]
    );

    let session = rig.target_session();
    rig.target
        .ua
        .answer(rig.now, session, SDP.to_vec())
        .expect("answer");
    rig.settle(Duration::from_millis(100));
    assert_eq!(
        rig.transfer_kinds(&id),
        [
            "transfer.triggered",
            "transfer.initiated",
            "transfer.answered",
            "transfer.completed"
        ]
    );
    assert!(rig.bridged(&id, &leg), "answered legs are bridged");
    assert_eq!(rig.tone_of(&id), None, "dial tone stops on answer");
    assert_eq!(rig.call(&id).state, CallState::Active);
    assert_eq!(rig.call(&leg).state, CallState::Active);
    let transfer = rig.call(&id).transfer.clone().expect("transfer");
    assert_eq!(
        (transfer.mode, transfer.state),
        (TransferMode::Anchored, TransferState::Completed)
    );

    // An hour later both legs are still up.
    rig.settle(Duration::from_secs(3600));
    assert_eq!(rig.call(&id).state, CallState::Active);
    assert_eq!(rig.call(&leg).state, CallState::Active);
}

#[test]
fn either_legs_bye_ends_the_other() {
    for target_hangs_up in [true, false] {
        let (mut rig, id, leg, caller_session, target_session) = bridged_rig();
        if target_hangs_up {
            rig.target.ua.hangup(rig.now, target_session).expect("bye");
        } else {
            rig.caller.ua.hangup(rig.now, caller_session).expect("bye");
        }
        rig.settle(Duration::from_secs(1));
        let (gone, other) = if target_hangs_up {
            (&leg, &id)
        } else {
            (&id, &leg)
        };
        assert_eq!(rig.call(gone).end_reason, Some(EndReason::RemoteHangup));
        assert_eq!(rig.call(other).state, CallState::Ended);
        assert_eq!(rig.call(other).end_reason, Some(EndReason::LocalHangup));
        let peer = if target_hangs_up {
            &rig.caller
        } else {
            &rig.target
        };
        assert!(
            peer.events
                .iter()
                .any(|e| matches!(e, UaEvent::Terminated { .. })),
            "the other peer got a BYE"
        );
    }
}

#[test]
fn busy_target_fails_and_returns_the_caller() {
    let mut rig = Rig::new(Target::Rejects(486));
    let (id, _) = rig.connect();
    rig.anchored(&id, true, 30);
    rig.settle(Duration::from_secs(1));
    assert_eq!(
        rig.transfer_kinds(&id),
        [
            "transfer.triggered",
            "transfer.initiated",
            "transfer.failed"
        ]
    );
    let call = rig.call(&id);
    assert_eq!(call.state, CallState::Active, "the caller is back");
    let transfer = call.transfer.clone().expect("transfer");
    assert_eq!(transfer.sip_status, Some(486));
    assert!(transfer.reason.is_some_and(|r| r.contains("busy")));
    assert_eq!(rig.tone_of(&id), None, "dial tone stops on failure");
}

#[test]
fn unanswered_target_is_cancelled_after_the_ringing_timeout() {
    let mut rig = Rig::new(Target::Rings);
    let (id, _) = rig.connect();
    let started = rig.now;
    rig.anchored(&id, true, 30);
    rig.settle(Duration::from_secs(29));
    assert!(!rig.transfer_kinds(&id).contains(&"transfer.failed"));
    rig.settle(Duration::from_secs(3));
    assert!(rig.now.duration_since(started) >= Duration::from_secs(30));
    assert_eq!(rig.transfer_kinds(&id).last(), Some(&"transfer.failed"));
    let call = rig.call(&id);
    assert_eq!(call.state, CallState::Active);
    assert_eq!(call.transfer.as_ref().and_then(|t| t.sip_status), Some(408));
    // The target leg got a CANCEL: its session at the target is over.
    assert!(
        rig.target
            .events
            .iter()
            .any(|e| matches!(e, UaEvent::Terminated { .. })),
        "the ringing target was cancelled"
    );
    let leg = rig.target_leg(&id);
    assert_eq!(rig.call(&leg).state, CallState::Ended);
}

#[test]
fn cancel_by_the_attendant_cancels_the_ringing_target() {
    let mut rig = Rig::new(Target::Rings);
    let (id, _) = rig.connect();
    rig.anchored(&id, true, 30);
    rig.settle(Duration::from_millis(100));
    let leg = rig.target_leg(&id);
    rig.console
        .handle_command(rig.now, Command::CancelTransfer(id.clone()))
        .expect("cancel");
    rig.settle(Duration::from_secs(1));
    assert_eq!(rig.call(&id).state, CallState::Active);
    assert_eq!(rig.call(&leg).state, CallState::Ended);
    assert_eq!(rig.tone_of(&id), None);
    assert!(!rig.bridged(&id, &leg));
}

/// Connects the caller and bridges it to an answered target; returns (caller's call, target's
/// call, caller session, target session).
fn bridged_rig() -> (Rig, CallId, CallId, SessionId, SessionId) {
    let mut rig = Rig::new(Target::Rings);
    let (id, caller_session) = rig.connect();
    rig.anchored(&id, false, 30);
    rig.settle(Duration::from_millis(100));
    let leg = rig.target_leg(&id);
    let target_session = rig.target_session();
    rig.target
        .ua
        .answer(rig.now, target_session, SDP.to_vec())
        .expect("answer");
    rig.settle(Duration::from_millis(100));
    assert_eq!(rig.call(&id).bridged_with.as_ref(), Some(&leg));
    assert_eq!(rig.call(&leg).bridged_with.as_ref(), Some(&id));
    (rig, id, leg, caller_session, target_session)
}

#[test]
fn a_digit_from_one_leg_is_sent_on_to_the_other() {
    let (mut rig, id, leg, _, _) = bridged_rig();
    rig.console.handle_media_event(
        rig.now,
        MediaEvent::Dtmf {
            call: id.clone(),
            digit: '7',
        },
    );
    rig.settle(Duration::from_millis(10));
    assert!(
        rig.media.iter().any(
            |m| matches!(m, MediaCommand::Dtmf { call, digits } if call == &leg && digits == "7")
        ),
        "the target leg was not asked to send 7: {:?}",
        rig.media
    );
    // The other way round.
    rig.console.handle_media_event(
        rig.now,
        MediaEvent::Dtmf {
            call: leg.clone(),
            digit: '#',
        },
    );
    rig.settle(Duration::from_millis(10));
    assert!(
        rig.media.iter().any(
            |m| matches!(m, MediaCommand::Dtmf { call, digits } if call == &id && digits == "#")
        )
    );
}

#[test]
fn hold_on_one_leg_holds_the_other_and_resume_resumes_it() {
    let (mut rig, id, leg, caller_session, _) = bridged_rig();
    let reinvites_before = rig
        .target
        .events
        .iter()
        .filter(|e| matches!(e, UaEvent::InDialogRequest { request, .. } if request.method == Method::Invite))
        .count();
    rig.caller
        .ua
        .reinvite(rig.now, caller_session, SDP_SENDONLY.to_vec())
        .expect("re-INVITE");
    rig.settle(Duration::from_secs(1));
    assert_eq!(rig.call(&id).held_by, Some(HoldSide::Remote));
    assert_eq!(rig.call(&leg).state, CallState::Held);
    assert_eq!(rig.call(&leg).held_by, Some(HoldSide::Local));
    let reinvites: Vec<String> = rig
        .target
        .events
        .iter()
        .filter_map(|e| match e {
            UaEvent::InDialogRequest { request, .. } if request.method == Method::Invite => {
                Some(String::from_utf8_lossy(&request.body).into_owned())
            }
            _ => None,
        })
        .collect();
    assert_eq!(reinvites.len(), reinvites_before + 1);
    assert!(
        reinvites
            .last()
            .is_some_and(|sdp| sdp.contains("a=sendonly"))
    );

    rig.caller
        .ua
        .reinvite(rig.now, caller_session, SDP_SENDRECV.to_vec())
        .expect("re-INVITE");
    rig.settle(Duration::from_secs(1));
    assert_eq!(rig.call(&id).held_by, None);
    assert_eq!(rig.call(&leg).state, CallState::Active);
    assert_eq!(rig.call(&leg).held_by, None);
}

#[test]
fn the_target_leg_can_show_the_callers_number_with_a_diversion() {
    let config = ConsoleConfig {
        auto_answer: true,
        anchored_caller_id: Some("caller".into()),
        anchored_diversion: true,
        ..ConsoleConfig::default()
    };
    let mut rig = Rig::with_config(Target::Rings, config);
    let (id, _) = rig.connect();
    rig.anchored(&id, false, 30);
    rig.settle(Duration::from_millis(100));
    let invite = rig.target_invite();
    let caller = format!("sip:ada@{}", rig.caller.addr);
    let from = invite.header_value("From").expect("From");
    assert!(from.contains(&caller), "From shows the caller: {from}");
    assert_eq!(
        invite.header_value("P-Asserted-Identity"),
        Some(format!("<{caller}>").as_str())
    );
    let diversion = invite.header_value("Diversion").expect("Diversion");
    assert!(
        diversion.starts_with("<sip:switchboard@127.0.0.1:5060>")
            && diversion.contains("reason=unconditional"),
        "{diversion}"
    );

    // Without the option (and with our own identity) there is neither.
    let mut rig = Rig::new(Target::Rings);
    let (id, _) = rig.connect();
    rig.anchored(&id, false, 30);
    rig.settle(Duration::from_millis(100));
    let invite = rig.target_invite();
    assert!(invite.header_value("Diversion").is_none());
    assert!(invite.header_value("P-Asserted-Identity").is_none());
}

#[test]
fn a_supervisor_listens_in_on_a_bridge_only() {
    let mut rig = Rig::new(Target::Rings);
    let (id, _) = rig.connect();
    let refused = rig
        .console
        .handle_command(rig.now, Command::Listen(id.clone()));
    assert!(
        matches!(refused, Err(console_core::ConsoleError::WrongState { .. })),
        "{refused:?}"
    );
    let (mut rig, id, leg, _, _) = bridged_rig();
    match rig
        .console
        .handle_command(rig.now, Command::Listen(leg.clone()))
    {
        Ok(Reply::Call(call)) => assert!(call.listening),
        other => panic!("listen refused: {other:?}"),
    }
    rig.settle(Duration::from_millis(10));
    assert!(rig.call(&id).listening && rig.call(&leg).listening);
    assert!(
        rig.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Listen { call, on: true } if call == &leg))
    );
    rig.console
        .handle_command(rig.now, Command::Unlisten(id.clone()))
        .expect("unlisten");
    rig.settle(Duration::from_millis(10));
    assert!(!rig.call(&id).listening && !rig.call(&leg).listening);
}
