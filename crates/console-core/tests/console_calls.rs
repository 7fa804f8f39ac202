//! The console against a remote user agent in virtual time: inbound calls ring, are answered
//! and hung up; outbound calls ring, fail and are cancelled; every step is an event.

use chrono::Utc;
use console_core::{
    AudioRole, AudioStatus, Call, CallState, Command, Console, ConsoleConfig, Direction, EndReason,
    Event, EventBody, MediaCommand, MediaEvent, Reply,
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
    /// The ring-alert commands the console gave the media worker, in order.
    alerts: Vec<bool>,
    /// The tones the attendant was given to hear instead of a call's media, in order.
    local_tones: Vec<Option<media_engine::ToneKind>>,
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
            alerts: vec![],
            local_tones: vec![],
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
            while let Some(command) = self.console.poll_media() {
                match command {
                    MediaCommand::RingAlert { on } => self.alerts.push(on),
                    MediaCommand::LocalTone { tone, .. } => self.local_tones.push(tone),
                    _ => {}
                }
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

    /// The peer gives up on the call it placed while it rings (CANCEL).
    fn caller_cancels(&mut self) {
        let session = self.peer_events.iter().find_map(|e| match e {
            UaEvent::Progress { session, .. } => Some(*session),
            _ => None,
        });
        self.peer
            .hangup(self.now, session.expect("ringing"))
            .expect("cancel");
    }

    /// The session of the call the console placed to the peer.
    fn incoming_session(&self) -> sip_proto::SessionId {
        self.peer_events
            .iter()
            .find_map(|e| match e {
                UaEvent::IncomingCall { session, .. } => Some(*session),
                _ => None,
            })
            .expect("the console's INVITE reached the peer")
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
    b.caller_cancels();
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
    let session = b.incoming_session();
    b.peer.ringing(b.now, session, 180, vec![]).expect("180");
    b.settle(Duration::from_millis(10));
    assert_eq!(
        b.local_tones,
        [Some(media_engine::ToneKind::Ringback)],
        "a 180 without early media: the attendant hears ringback made here"
    );
    b.peer.answer(b.now, session, SDP.to_vec()).expect("200");
    b.settle(Duration::from_secs(1));
    assert_eq!(
        b.local_tones,
        [Some(media_engine::ToneKind::Ringback), None]
    );
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

fn audio(console: &mut Console, now: Instant) -> AudioStatus {
    match console.handle_command(now, Command::GetAudio) {
        Ok(Reply::Audio(status)) => status,
        other => panic!("unexpected reply {other:?}"),
    }
}

#[test]
fn the_ring_alert_sounds_while_an_inbound_call_waits() {
    let mut b = Bench::new(false);
    b.peer_invites_console();
    b.settle(Duration::from_secs(1));
    assert_eq!(b.alerts, [true], "an inbound call rings the ring device");
    assert!(audio(&mut b.console, b.now).alerting);
    let id = b.events[0].call_id.clone().expect("call id");
    b.call(Command::Answer(id));
    b.settle(Duration::from_secs(1));
    assert_eq!(b.alerts, [true, false], "answering silences it");
    assert!(!audio(&mut b.console, b.now).alerting);
}

#[test]
fn the_ring_alert_stops_when_the_caller_gives_up() {
    let mut b = Bench::new(false);
    b.peer_invites_console();
    b.settle(Duration::from_secs(1));
    b.caller_cancels();
    b.settle(Duration::from_secs(1));
    assert_eq!(b.alerts, [true, false]);
}

#[test]
fn an_auto_answered_call_never_rings() {
    let mut b = Bench::new(true);
    b.peer_invites_console();
    b.settle(Duration::from_secs(1));
    assert_eq!(b.kinds(), ["call.incoming", "call.answered"]);
    assert!(
        b.alerts.is_empty(),
        "rang for an auto-answered call: {:?}",
        b.alerts
    );
}

#[test]
fn the_ring_alert_keeps_sounding_while_any_inbound_call_waits() {
    let mut b = Bench::new(false);
    b.peer_invites_console();
    b.peer_invites_console();
    b.settle(Duration::from_secs(1));
    let ids: Vec<_> = b
        .events
        .iter()
        .filter(|e| e.body.kind() == "call.incoming")
        .filter_map(|e| e.call_id.clone())
        .collect();
    assert_eq!(ids.len(), 2);
    b.call(Command::Answer(ids[0].clone()));
    b.settle(Duration::from_secs(1));
    assert_eq!(b.alerts, [true], "one call still waits");
    b.call(Command::Reject(ids[1].clone()));
    b.settle(Duration::from_secs(1));
    assert_eq!(b.alerts, [true, false]);
}

#[test]
fn device_changes_and_losses_are_events_and_kept_in_the_status() {
    let mut b = Bench::new(false);
    let opened = AudioStatus {
        enabled: true,
        headless: false,
        input: Some("pulseaudio:mic".into()),
        output: Some("pulseaudio:headset".into()),
        ring: None,
        alerting: false,
    };
    b.console
        .handle_media_event(b.now, MediaEvent::AudioDevices(opened.clone()));
    // The same status again (a switch to the device already in use) is no news.
    b.console
        .handle_media_event(b.now, MediaEvent::AudioDevices(opened.clone()));
    b.console.handle_media_event(
        b.now,
        MediaEvent::AudioDeviceLost {
            role: AudioRole::Output,
            device: "pulseaudio:headset".into(),
            fell_back_to: Some("pulseaudio:speakers".into()),
        },
    );
    b.settle(Duration::from_secs(1));
    assert_eq!(b.kinds(), ["audio.devices", "audio.device_lost"]);
    let EventBody::AudioDeviceLost {
        role,
        device,
        fell_back_to,
        audio: after,
    } = &b.events[1].body
    else {
        panic!()
    };
    assert_eq!(*role, AudioRole::Output);
    assert_eq!(device, "pulseaudio:headset");
    assert_eq!(fell_back_to.as_deref(), Some("pulseaudio:speakers"));
    assert_eq!(after.output.as_deref(), Some("pulseaudio:speakers"));
    assert_eq!(after.input, opened.input, "the microphone is untouched");
    assert_eq!(&audio(&mut b.console, b.now), after);
    assert!(b.events[1].call_id.is_none());
}

#[test]
fn early_media_plays_instead_of_local_ringback() {
    let mut b = Bench::new(false);
    b.call(Command::Dial {
        to: "sip:bob@127.0.0.1:5070".into(),
    });
    b.settle(Duration::from_millis(10));
    let session = b.incoming_session();
    b.peer
        .ringing(b.now, session, 183, SDP.to_vec())
        .expect("183");
    b.settle(Duration::from_millis(10));
    // A later 180 without a body does not bring ringback back over the early media.
    b.peer.ringing(b.now, session, 180, vec![]).expect("180");
    b.settle(Duration::from_millis(10));
    assert!(b.kinds().contains(&"call.ringing"));
    assert!(b.local_tones.is_empty(), "{:?}", b.local_tones);
}
