//! The console against a remote user agent in virtual time: inbound calls ring, are answered
//! and hung up; outbound calls ring, fail and are cancelled; every step is an event.

use chrono::Utc;
use console_core::{
    Call, CallState, Command, Console, ConsoleConfig, Direction, EndReason, Event, EventBody, Reply,
};
use sip_proto::{Destination, InviteParams, TimerConfig, Transport, UaConfig, UaEvent, UserAgent};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SDP: &[u8] = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

struct Bench {
    now: Instant,
    console: Console,
    console_addr: SocketAddr,
    peer: UserAgent,
    peer_addr: SocketAddr,
    events: Vec<Event>,
    peer_events: Vec<UaEvent>,
}

impl Bench {
    fn new(auto_answer: bool) -> Self {
        let now = Instant::now();
        let console_addr: SocketAddr = "127.0.0.1:5060".parse().expect("literal");
        let peer_addr: SocketAddr = "127.0.0.1:5070".parse().expect("literal");
        let config = ConsoleConfig {
            auto_answer,
            ..ConsoleConfig::default()
        };
        let mut console = Console::new(
            config,
            vec![(Transport::Udp, console_addr)],
            HashMap::new(),
            now,
            Utc::now(),
        );
        console.start(now);
        let peer = UserAgent::new(UaConfig {
            timers: TimerConfig::default(),
            user_agent: "peer".into(),
            local: vec![(Transport::Udp, peer_addr)],
            hosts: HashMap::new(),
        });
        Self {
            now,
            console,
            console_addr,
            peer,
            peer_addr,
            events: vec![],
            peer_events: vec![],
        }
    }

    /// Delivers messages both ways and fires timers until nothing moves or `limit` passes.
    fn settle(&mut self, limit: Duration) {
        let end = self.now + limit;
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(t) = self.console.poll_transmit() {
                moved = true;
                if t.destination == self.peer_addr {
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
            }
            while let Some(t) = self.peer.poll_transmit() {
                moved = true;
                if t.destination == self.console_addr {
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
            }
            while let Some(e) = self.console.poll_event() {
                self.events.push(e);
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
                _ => return,
            }
        }
        panic!("no quiescence: livelock?");
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.events.iter().map(|e| e.body.kind()).collect()
    }

    fn call(&mut self, command: Command) -> Call {
        match self.console.handle_command(self.now, command) {
            Ok(Reply::Call(call)) => call,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    fn peer_invites_console(&mut self) {
        let params = InviteParams {
            request_uri: format!("sip:desk@{}", self.console_addr),
            from: format!("\"Ada Caller\" <sip:ada@{}>", self.peer_addr),
            to: format!("<sip:desk@{}>", self.console_addr),
            contact_user: "ada".into(),
            outbound_proxy: None,
            credentials: None,
            headers: vec![],
            sdp: SDP.to_vec(),
        };
        self.peer.invite(self.now, params).expect("invite");
    }
}

#[test]
fn inbound_call_rings_is_answered_and_ended_by_the_caller() {
    let mut b = Bench::new(false);
    b.peer_invites_console();
    b.settle(Duration::from_secs(1));
    assert_eq!(b.kinds(), ["call.incoming"]);
    let EventBody::CallIncoming { call } = &b.events[0].body else {
        panic!()
    };
    assert_eq!(call.state, CallState::Ringing);
    assert_eq!(call.direction, Direction::Inbound);
    assert_eq!(call.remote_display.as_deref(), Some("Ada Caller"));
    assert_eq!(call.remote_uri, "sip:ada@127.0.0.1:5070");
    assert!(
        b.peer_events
            .iter()
            .any(|e| matches!(e, UaEvent::Progress { status: 180, .. }))
    );
    let id = call.id.clone();
    let answered = b.call(Command::Answer(id.clone()));
    assert_eq!(answered.state, CallState::Active);
    b.settle(Duration::from_secs(1));
    let session = b.peer_events.iter().find_map(|e| match e {
        UaEvent::Answered { session, response } => {
            assert!(String::from_utf8_lossy(&response.body).contains("m=audio"));
            Some(*session)
        }
        _ => None,
    });
    b.peer
        .hangup(b.now, session.expect("answered"))
        .expect("bye");
    b.settle(Duration::from_secs(1));
    assert_eq!(b.kinds(), ["call.incoming", "call.answered", "call.ended"]);
    let EventBody::CallEnded { call } = &b.events[2].body else {
        panic!()
    };
    assert_eq!(call.end_reason, Some(EndReason::RemoteHangup));
    assert!(call.answered_at.is_some() && call.ended_at.is_some());
    // A second answer is a state error, not a crash.
    let err = b
        .console
        .handle_command(b.now, Command::Answer(id))
        .expect_err("ended");
    assert_eq!(err.http_status(), 409);
}

#[test]
fn caller_cancelling_a_ringing_call_ends_it_as_cancelled() {
    let mut b = Bench::new(false);
    b.peer_invites_console();
    b.settle(Duration::from_secs(1));
    let session = b.peer_events.iter().find_map(|e| match e {
        UaEvent::Progress { session, .. } => Some(*session),
        _ => None,
    });
    b.peer
        .hangup(b.now, session.expect("ringing"))
        .expect("cancel");
    b.settle(Duration::from_secs(1));
    assert_eq!(b.kinds(), ["call.incoming", "call.ended"]);
    let EventBody::CallEnded { call } = &b.events[1].body else {
        panic!()
    };
    assert_eq!(call.end_reason, Some(EndReason::Cancelled));
}

#[test]
fn outbound_call_rejected_by_the_peer_is_failed_with_its_status() {
    let mut b = Bench::new(false);
    let call = b.call(Command::Dial {
        to: "sip:bob@127.0.0.1:5070".into(),
    });
    assert_eq!(call.state, CallState::Dialing);
    b.settle(Duration::from_millis(10));
    let session = b.peer_events.iter().find_map(|e| match e {
        UaEvent::IncomingCall { session, .. } => Some(*session),
        _ => None,
    });
    b.peer
        .reject(b.now, session.expect("incoming"), 486)
        .expect("reject");
    b.settle(Duration::from_secs(1));
    assert_eq!(b.kinds(), ["call.dialing", "call.ended"]);
    let EventBody::CallEnded { call } = &b.events[1].body else {
        panic!()
    };
    assert_eq!(call.end_reason, Some(EndReason::Failed));
    assert_eq!(call.sip_status, Some(486));
}

#[test]
fn outbound_call_answered_then_hung_up_by_the_attendant() {
    let mut b = Bench::new(false);
    let call = b.call(Command::Dial {
        to: "sip:bob@127.0.0.1:5070".into(),
    });
    b.settle(Duration::from_millis(10));
    let session = b.peer_events.iter().find_map(|e| match e {
        UaEvent::IncomingCall { session, .. } => Some(*session),
        _ => None,
    });
    let session = session.expect("incoming");
    b.peer.ringing(b.now, session, 180, vec![]).expect("180");
    b.settle(Duration::from_millis(10));
    b.peer.answer(b.now, session, SDP.to_vec()).expect("200");
    b.settle(Duration::from_secs(1));
    b.call(Command::Hangup(call.id.clone()));
    b.settle(Duration::from_secs(1));
    assert_eq!(
        b.kinds(),
        [
            "call.dialing",
            "call.ringing",
            "call.answered",
            "call.ended"
        ]
    );
    let EventBody::CallEnded { call } = &b.events[3].body else {
        panic!()
    };
    assert_eq!(call.end_reason, Some(EndReason::LocalHangup));
    assert!(b.peer_events.iter().any(|e| matches!(
        e,
        UaEvent::Terminated {
            reason: sip_proto::TerminationReason::RemoteBye,
            ..
        }
    )));
}

#[test]
fn ringing_outbound_call_hung_up_is_cancelled() {
    let mut b = Bench::new(false);
    let call = b.call(Command::Dial {
        to: "sip:bob@127.0.0.1:5070".into(),
    });
    b.settle(Duration::from_millis(10));
    let session = b.peer_events.iter().find_map(|e| match e {
        UaEvent::IncomingCall { session, .. } => Some(*session),
        _ => None,
    });
    b.peer
        .ringing(b.now, session.expect("incoming"), 180, vec![])
        .expect("180");
    b.settle(Duration::from_millis(10));
    b.call(Command::Hangup(call.id));
    b.settle(Duration::from_secs(1));
    let EventBody::CallEnded { call } = &b.events.last().expect("event").body else {
        panic!()
    };
    assert_eq!(call.end_reason, Some(EndReason::Cancelled));
    assert!(b.peer_events.iter().any(|e| matches!(
        e,
        UaEvent::Terminated {
            reason: sip_proto::TerminationReason::Cancelled,
            ..
        }
    )));
}

#[test]
fn bad_destinations_and_unknown_calls_are_clear_errors() {
    let mut b = Bench::new(false);
    let err = b
        .console
        .handle_command(
            b.now,
            Command::Dial {
                to: "not a uri!".into(),
            },
        )
        .expect_err("bad");
    assert_eq!((err.http_status(), err.code()), (400, "invalid_target"));
    let err = b
        .console
        .handle_command(b.now, Command::Dial { to: "1001".into() })
        .expect_err("no account");
    assert_eq!((err.http_status(), err.code()), (400, "no_route"));
    let err = b
        .console
        .handle_command(b.now, Command::Hangup(console_core::CallId("nope".into())))
        .expect_err("unknown");
    assert_eq!(err.http_status(), 404);
}

#[test]
fn auto_answer_answers_at_once() {
    let mut b = Bench::new(true);
    b.peer_invites_console();
    b.settle(Duration::from_secs(1));
    assert_eq!(b.kinds(), ["call.incoming", "call.answered"]);
    assert!(
        b.peer_events
            .iter()
            .any(|e| matches!(e, UaEvent::Answered { .. }))
    );
}
