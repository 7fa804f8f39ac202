//! A whole call through two user agents in memory: INVITE, 100, 200, ACK, BYE, 200 — every
//! message parsed, matched to its transaction and dialog, and printed. This is the per-call
//! cost of the SIP core without sockets.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use sip_proto::{Destination, InviteParams, TimerConfig, Transport, UaConfig, UaEvent, UserAgent};
use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

const SDP: &[u8] = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn agent(addr: SocketAddr) -> UserAgent {
    UserAgent::new(UaConfig {
        timers: TimerConfig::default(),
        user_agent: "bench".into(),
        local: vec![(Transport::Udp, addr)],
        hosts: HashMap::new(),
    })
}

/// Moves every pending transmit of `from` into `to`, answering incoming calls at once.
fn deliver(now: Instant, from: &mut UserAgent, from_addr: SocketAddr, to: &mut UserAgent) -> usize {
    let mut n = 0;
    while let Some(t) = from.poll_transmit() {
        let bytes = sip_message::to_bytes(&t.message);
        to.handle_datagram(
            now,
            &bytes,
            Destination {
                transport: Transport::Udp,
                addr: from_addr,
            },
        );
        n += 1;
    }
    while let Some(event) = to.poll_event() {
        if let UaEvent::IncomingCall { session, .. } = event {
            let _ = to.answer(now, session, SDP.to_vec());
        }
    }
    n
}

fn call(a: &mut UserAgent, b: &mut UserAgent, a_addr: SocketAddr, b_addr: SocketAddr) {
    let now = Instant::now();
    let params = InviteParams {
        request_uri: format!("sip:bob@{b_addr}"),
        from: format!("<sip:alice@{a_addr}>"),
        to: format!("<sip:bob@{b_addr}>"),
        contact_user: "alice".into(),
        outbound_proxy: None,
        credentials: None,
        headers: vec![],
        sdp: SDP.to_vec(),
    };
    let Ok(session) = a.invite(now, params) else {
        return;
    };
    loop {
        let moved = deliver(now, a, a_addr, b) + deliver(now, b, b_addr, a);
        let mut answered = false;
        while let Some(e) = a.poll_event() {
            answered |= matches!(e, UaEvent::Answered { .. });
        }
        if answered {
            let _ = a.hangup(now, session);
        }
        if moved == 0 && !answered {
            break;
        }
    }
    black_box(a.load());
}

fn bench(c: &mut Criterion) {
    let a_addr: SocketAddr = "127.0.0.1:5001".parse().expect("literal");
    let b_addr: SocketAddr = "127.0.0.1:5002".parse().expect("literal");
    // Fresh agents per call: lingering transactions (Timer D/K/L/M) would otherwise pile up,
    // because virtual time never advances inside the benchmark loop.
    c.bench_function("call_flow/invite_200_ack_bye_200", |bench| {
        bench.iter_batched(
            || (agent(a_addr), agent(b_addr)),
            |(mut a, mut b)| call(&mut a, &mut b, a_addr, b_addr),
            criterion::BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
