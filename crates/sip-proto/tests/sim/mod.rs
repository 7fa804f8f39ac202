//! A simulated network for driving user agents in virtual time: seeded loss, duplication and
//! delay jitter (which reorders), a virtual clock that jumps to the next deadline, and a step cap
//! that turns a livelock into a test failure.

#![allow(dead_code, missing_docs)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sip_message::rsip::SipMessage;
use sip_proto::{Destination, TimerConfig, Transport, UaConfig, UaEvent, UserAgent};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub struct Link {
    pub loss: f64,
    pub duplicate: f64,
    pub delay: Duration,
    pub jitter: Duration,
}

impl Link {
    pub fn perfect() -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            delay: Duration::from_millis(5),
            jitter: Duration::ZERO,
        }
    }
    pub fn lossy(loss: f64) -> Self {
        Self {
            loss,
            duplicate: 0.05,
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(40),
        }
    }
}

/// A datagram on its way: (delivery time, sequence, receiver index, sender, bytes).
type InFlight = (Instant, u64, usize, SocketAddr, Vec<u8>);

pub struct Sim {
    pub now: Instant,
    pub start: Instant,
    pub agents: Vec<(SocketAddr, UserAgent)>,
    /// Everything put on the wire: (time since start, from, to, message).
    pub wire: Vec<(Duration, SocketAddr, SocketAddr, SipMessage)>,
    /// Events per agent index.
    pub events: Vec<Vec<(Duration, UaEvent)>>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    link: Link,
    rng: StdRng,
    seq: u64,
    steps: u64,
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn agent(port: u16) -> UserAgent {
    UserAgent::new(UaConfig {
        timers: TimerConfig::default(),
        user_agent: "sim".into(),
        local: vec![(Transport::Udp, addr(port))],
        hosts: HashMap::new(),
    })
}

impl Sim {
    pub fn new(seed: u64, link: Link, ports: &[u16]) -> Self {
        let now = Instant::now();
        Self {
            now,
            start: now,
            agents: ports.iter().map(|&p| (addr(p), agent(p))).collect(),
            wire: Vec::new(),
            events: ports.iter().map(|_| Vec::new()).collect(),
            in_flight: BinaryHeap::new(),
            link,
            rng: StdRng::seed_from_u64(seed),
            seq: 0,
            steps: 0,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves transmits of every agent onto the wire and collects events.
    pub fn flush(&mut self) {
        for i in 0..self.agents.len() {
            let from = self.agents[i].0;
            while let Some(t) = self.agents[i].1.poll_transmit() {
                let bytes = sip_message::to_bytes(&t.message);
                self.wire
                    .push((self.now - self.start, from, t.destination, t.message));
                let copies = if self.rng.random_bool(self.link.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    if self.rng.random_bool(self.link.loss) {
                        continue;
                    }
                    let jitter = if self.link.jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        self.link.jitter.mul_f64(self.rng.random::<f64>())
                    };
                    let at = self.now + self.link.delay + jitter;
                    self.seq += 1;
                    let Some(to) = self.agents.iter().position(|(a, _)| *a == t.destination) else {
                        continue;
                    };
                    self.in_flight
                        .push(Reverse((at, self.seq, to, from, bytes.clone())));
                }
            }
            while let Some(e) = self.agents[i].1.poll_event() {
                self.events[i].push((self.now - self.start, e));
            }
        }
    }

    /// Advances to the next delivery or deadline and processes it. Returns false when nothing
    /// is left to do.
    pub fn step(&mut self) -> bool {
        self.steps += 1;
        assert!(self.steps < 100_000, "step cap reached: livelock?");
        self.flush();
        let next_delivery = self.in_flight.peek().map(|Reverse((at, ..))| *at);
        let next_timer = self
            .agents
            .iter()
            .filter_map(|(_, a)| a.poll_timeout())
            .min();
        let next = match (next_delivery, next_timer) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => return false,
            },
        };
        self.now = self.now.max(next);
        while let Some(Reverse((at, ..))) = self.in_flight.peek() {
            if *at > self.now {
                break;
            }
            let Some(Reverse((_, _, to, from, bytes))) = self.in_flight.pop() else {
                break;
            };
            let source = Destination {
                transport: Transport::Udp,
                addr: from,
            };
            let now = self.now;
            self.agents[to].1.handle_datagram(now, &bytes, source);
        }
        let now = self.now;
        for (_, a) in &mut self.agents {
            if a.poll_timeout().is_some_and(|t| t <= now) {
                a.handle_timeout(now);
            }
        }
        self.flush();
        true
    }

    /// Steps until `done` holds or virtual time passes `limit`.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if self.elapsed() > limit || !self.step() {
                return done(self);
            }
        }
    }

    /// Injects raw bytes into agent `to` as if sent from `from`.
    pub fn inject(&mut self, to: usize, from: SocketAddr, bytes: &[u8]) {
        let now = self.now;
        self.agents[to].1.handle_datagram(
            now,
            bytes,
            Destination {
                transport: Transport::Udp,
                addr: from,
            },
        );
        self.flush();
    }
}
