//! RTP load for bridge capacity figures (`tests/load/bridge_capacity.py` drives it).
//!
//! ```text
//! rtp_load --pairs N
//!   stdout: {"a_ports": [...], "b_ports": [...]}        the port of every pair's A and B leg
//!   stdin:  {"a_dest": ["ip:port", ...], "b_dest": [...], "warmup_s": 2, "measure_s": 10}
//!   stdout: {"sent": .., "received": .., "lost": .., "loss_percent": ..,
//!            "latency_us": {"p50": .., "p99": .., "max": ..}}
//! ```
//!
//! Every leg sends one 20 ms PCMU-sized RTP packet (172 bytes) every 20 ms to its destination,
//! the legs spread evenly over the 20 ms in 1 ms slots; the payload carries the send time, so
//! whatever arrives back (relayed, not transcoded) gives the one-way latency through the relay.
//! Loss and latency count only packets sent after the warm-up. With `a_dest[i]` = the B port
//! and `b_dest[i]` = the A port, it measures itself (the floor to subtract).
//!
//! `--a-opus`: the A legs send a real 20 ms Opus frame (payload type 111) instead, for a
//! transcoding bridge (Opus caller, PCMU target). Nothing then comes through unchanged, so
//! there is no latency to read; every datagram that arrives during the measurement counts in
//! `a_arrived` / `b_arrived` (what the relay sent to the A and to the B legs), which for a
//! relay that keeps its 20 ms clock on every call is 50 per leg and second. The B legs' PCMU
//! then carries two tones (220 and 1330 Hz, as the criterion benches' "speech") and no send
//! time: a send time and a magic in every frame are a click every 20 ms, which costs a speech
//! encoder far more than speech does (measured: +45 % for the bridge's Opus encoder).
//!
//! So that the generator costs far less per packet than the relay it loads (otherwise both
//! saturate their cores at the same rate and the figure says nothing about the relay), all A
//! legs share one socket and all B legs another: packets go out in `sendmmsg` batches and come
//! in with `recvmmsg`, timed by the kernel on arrival (`SO_TIMESTAMPNS`). A relay sees one
//! remote address per side, which symmetric RTP handles like any other. One thread polls
//! without ever sleeping (it has a core of its own): a receiver asleep in `recvmmsg` would
//! make every packet the relay sends wake it, and that wake-up (an inter-processor interrupt,
//! costly on a VM) is charged to the relay: a quarter of its CPU in a profile.
#![allow(missing_docs)]

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, sendmmsg,
    setsockopt, sockopt,
};
use std::io::{BufRead, IoSlice, IoSliceMut, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PACKET: usize = 172;
/// The payload type of the A legs' Opus packets (`--a-opus`).
const OPUS_PT: u8 = 111;
/// Marks our packets' payload (anything else arriving, such as a console's own audio before
/// the bridge, is not counted).
const MAGIC: &[u8; 4] = b"SBLD";
/// Datagrams per sendmmsg/recvmmsg call.
const BATCH: usize = 256;
/// 1 ms slots per 20 ms packet interval.
const SLOTS: usize = 20;

fn main() -> std::io::Result<()> {
    let pairs = std::env::args()
        .skip_while(|a| a != "--pairs")
        .nth(1)
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| std::io::Error::other("usage: rtp_load --pairs N"))?;
    let bind = || -> std::io::Result<UdpSocket> {
        let s = UdpSocket::bind("127.0.0.1:0")?;
        // Room for a burst of a whole 20 ms of packets (root may pass rmem_max).
        let size = 16 << 20;
        let _ = setsockopt(&s, sockopt::RcvBufForce, &size)
            .or_else(|_| setsockopt(&s, sockopt::RcvBuf, &size));
        setsockopt(&s, sockopt::ReceiveTimestampns, &true).map_err(std::io::Error::from)?;
        Ok(s)
    };
    let (a, b) = (bind()?, bind()?);
    let port = |s: &UdpSocket| s.local_addr().map(|a| a.port());
    let (a_port, b_port) = (port(&a)?, port(&b)?);
    println!(
        "{}",
        serde_json::json!({"a_ports": vec![a_port; pairs], "b_ports": vec![b_port; pairs]})
    );
    std::io::stdout().flush()?;

    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let plan: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| std::io::Error::other(e.to_string()))?;
    let dests = |key: &str| -> std::io::Result<Vec<SockaddrIn>> {
        plan[key]
            .as_array()
            .ok_or_else(|| std::io::Error::other(format!("{key} missing")))?
            .iter()
            .map(
                |v| match v.as_str().and_then(|s| s.parse::<SocketAddr>().ok()) {
                    Some(SocketAddr::V4(addr)) => Ok(SockaddrIn::from(addr)),
                    _ => Err(std::io::Error::other(format!("bad IPv4 address in {key}"))),
                },
            )
            .collect()
    };
    let a_opus = std::env::args().any(|a| a == "--a-opus");
    let (a_dest, b_dest) = (dests("a_dest")?, dests("b_dest")?);
    if a_dest.len() != pairs || b_dest.len() != pairs {
        return Err(std::io::Error::other("one destination per pair"));
    }
    let warmup = Duration::from_secs_f64(plan["warmup_s"].as_f64().unwrap_or(2.0));
    let measure = Duration::from_secs_f64(plan["measure_s"].as_f64().unwrap_or(10.0));

    let start = Instant::now();
    let epoch_ns = realtime_ns();
    let measure_from_ns = epoch_ns + warmup.as_nanos() as u64;
    let stop = warmup + measure;
    let receive_until = start + stop + Duration::from_secs(1);
    let mut sender = Sender::new(&a_dest, &b_dest, start, stop, measure_from_ns);
    if a_opus {
        sender.a_packet = Some(opus_packet()?);
        sender.b_payload = Some(two_tones_ulaw());
    }
    let measure_until_ns = measure_from_ns + measure.as_nanos() as u64;
    let mut receivers = [
        Receiver::new(measure_from_ns, measure_until_ns),
        Receiver::new(measure_from_ns, measure_until_ns),
    ];
    let mut headers = Headers::new();
    loop {
        let now = Instant::now();
        if now >= receive_until {
            break;
        }
        sender.poll(now, &a, &b, &mut headers.send);
        receivers[0].poll(&a, &mut headers.recv)?;
        receivers[1].poll(&b, &mut headers.recv)?;
    }
    let (sent, sent_total) = (sender.sent, sender.sent_total);
    let (a_arrived, b_arrived) = (receivers[0].arrived, receivers[1].arrived);
    let mut latencies: Vec<u64> = receivers.into_iter().flat_map(|r| r.latencies).collect();
    latencies.sort_unstable();
    let pick = |p: f64| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        let k = ((latencies.len() - 1) as f64 * p).round() as usize;
        latencies[k.min(latencies.len() - 1)]
    };
    let received = latencies.len() as u64;
    let lost = sent.saturating_sub(received);
    println!(
        "{}",
        serde_json::json!({
            "pairs": pairs,
            "sent": sent,
            "sent_total": sent_total,
            "received": received,
            "lost": lost,
            "loss_percent": if sent == 0 { 0.0 } else { 100.0 * lost as f64 / sent as f64 },
            "latency_us": {"p50": pick(0.5), "p99": pick(0.99), "max": pick(1.0)},
            "a_arrived": a_arrived,
            "b_arrived": b_arrived,
        })
    );
    Ok(())
}

/// A 20 ms Opus frame of a 1 kHz tone at -12 dBFS (the A legs' payload with `--a-opus`): a
/// real one, so the relay's decoder does its real work.
fn opus_packet() -> std::io::Result<Vec<u8>> {
    let mut codec = media_engine::CodecKind::Opus
        .new_codec()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut payload = Vec::new();
    // The encoder's first frames settle; keep the tenth.
    for frame in 0..10 {
        let pcm: Vec<i16> = (0..960)
            .map(|i| {
                let t = (frame * 960 + i) as f64 / 48_000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
            })
            .collect();
        payload.clear();
        codec
            .encode(&pcm, &mut payload)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    let mut packet = vec![0u8; 12];
    packet[0] = 0x80;
    packet[1] = OPUS_PT;
    packet.extend_from_slice(&payload);
    Ok(packet)
}

/// 20 ms of 220 + 1330 Hz at 8 kHz, µ-law (the B legs' payload with `--a-opus`).
fn two_tones_ulaw() -> Vec<u8> {
    let pcm: Vec<i16> = (0..PACKET - 12)
        .map(|i| {
            let t = i as f64 / 8000.0;
            (6000.0 * (std::f64::consts::TAU * 220.0 * t).sin()
                + 3000.0 * (std::f64::consts::TAU * 1330.0 * t).sin()) as i16
        })
        .collect();
    let mut ulaw = Vec::new();
    media_engine::g711::encode_ulaw(&pcm, &mut ulaw);
    ulaw
}

fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The sendmmsg/recvmmsg headers, allocated once.
struct Headers {
    send: MultiHeaders<SockaddrIn>,
    recv: MultiHeaders<SockaddrIn>,
}

impl Headers {
    fn new() -> Self {
        Self {
            send: MultiHeaders::preallocate(BATCH, None),
            recv: MultiHeaders::preallocate(
                BATCH,
                Some(nix::cmsg_space!(nix::sys::time::TimeSpec)),
            ),
        }
    }
}

/// Sends every leg's packet once per 20 ms, leg `i` of each side in slot `i % SLOTS`, until
/// `stop`; counts the packets sent at or after `measure_from_ns`.
struct Sender<'a> {
    a_dest: &'a [SockaddrIn],
    b_dest: &'a [SockaddrIn],
    start: Instant,
    stop: Duration,
    measure_from_ns: u64,
    slot_index: u64,
    packets: Vec<[u8; PACKET]>,
    /// What the A legs send instead (`--a-opus`): header room and payload.
    a_packet: Option<Vec<u8>>,
    /// Its copies, one per batch slot.
    a_packets: Vec<Vec<u8>>,
    /// The B legs' whole payload instead of send time, magic and tone (`--a-opus`).
    b_payload: Option<Vec<u8>>,
    sent: u64,
    /// Every packet sent, warm-up included (for CPU per packet).
    sent_total: u64,
    done: bool,
}

impl<'a> Sender<'a> {
    fn new(
        a_dest: &'a [SockaddrIn],
        b_dest: &'a [SockaddrIn],
        start: Instant,
        stop: Duration,
        measure_from_ns: u64,
    ) -> Self {
        // The payload after the send time and the magic is a 1 kHz tone (what a transcoding
        // relay decodes and re-encodes; a relay does not look).
        let tone: Vec<i16> = (0..PACKET - 24)
            .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * i as f64 / 8.0).sin()) as i16)
            .collect();
        let mut ulaw = Vec::new();
        media_engine::g711::encode_ulaw(&tone, &mut ulaw);
        let mut packets = vec![[0u8; PACKET]; BATCH];
        for p in &mut packets {
            p[0] = 0x80; // RTP version 2, PT 0 (PCMU)
            p[20..24].copy_from_slice(MAGIC);
            p[24..].copy_from_slice(&ulaw);
        }
        Self {
            a_dest,
            b_dest,
            start,
            stop,
            measure_from_ns,
            slot_index: 0,
            packets,
            a_packet: None,
            a_packets: Vec::new(),
            b_payload: None,
            sent: 0,
            sent_total: 0,
            done: false,
        }
    }

    /// Sends the slots that are due.
    fn poll(
        &mut self,
        now: Instant,
        a: &UdpSocket,
        b: &UdpSocket,
        headers: &mut MultiHeaders<SockaddrIn>,
    ) {
        while !self.done && now >= self.start + Duration::from_millis(self.slot_index) {
            let round = self.slot_index / SLOTS as u64;
            let slot = (self.slot_index % SLOTS as u64) as usize;
            self.slot_index += 1;
            if Duration::from_millis(20 * round) >= self.stop {
                self.done = true;
                return;
            }
            for (socket, dests, side) in [(a, self.a_dest, 0u32), (b, self.b_dest, 1u32)] {
                let legs: Vec<usize> = (slot..dests.len()).step_by(SLOTS).collect();
                for chunk in legs.chunks(BATCH) {
                    let at = realtime_ns();
                    for (packet, &leg) in self.packets.iter_mut().zip(chunk) {
                        packet[2..4].copy_from_slice(&(round as u16).to_be_bytes());
                        packet[4..8]
                            .copy_from_slice(&(round as u32).wrapping_mul(160).to_be_bytes());
                        // The SSRC (a relay rewrites it); the payload carries the send time.
                        let ssrc = (leg as u32) << 1 | side;
                        packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
                        packet[12..20].copy_from_slice(&at.to_be_bytes());
                    }
                    if let (1, Some(payload)) = (side, &self.b_payload) {
                        for packet in &mut self.packets[..chunk.len()] {
                            packet[12..].copy_from_slice(payload);
                        }
                    }
                    if let (0, Some(opus)) = (side, &self.a_packet) {
                        self.a_packets.resize(chunk.len(), opus.clone());
                        for (packet, plain) in self.a_packets.iter_mut().zip(&self.packets) {
                            packet[2..12].copy_from_slice(&plain[2..12]);
                            // Opus's RTP clock is 48 kHz.
                            let ts = (round as u32).wrapping_mul(960);
                            packet[4..8].copy_from_slice(&ts.to_be_bytes());
                        }
                    }
                    let slices: Vec<[IoSlice<'_>; 1]> = match (side, &self.a_packet) {
                        (0, Some(_)) => self.a_packets[..chunk.len()]
                            .iter()
                            .map(|p| [IoSlice::new(p)])
                            .collect(),
                        _ => self.packets[..chunk.len()]
                            .iter()
                            .map(|p| [IoSlice::new(p)])
                            .collect(),
                    };
                    let addrs: Vec<Option<SockaddrIn>> =
                        chunk.iter().map(|&l| Some(dests[l])).collect();
                    let done = match sendmmsg(
                        socket.as_raw_fd(),
                        headers,
                        &slices,
                        &addrs,
                        [] as [ControlMessage<'_>; 0],
                        MsgFlags::MSG_DONTWAIT,
                    ) {
                        Ok(results) => results.count() as u64,
                        // A full send buffer drops the batch: the receiver counts it as loss.
                        Err(_) => 0,
                    };
                    self.sent_total += done;
                    if at >= self.measure_from_ns {
                        self.sent += done;
                    }
                }
            }
        }
    }
}

/// Takes what has arrived on one socket (never waits); keeps the one-way latency (µs) of every
/// packet of ours sent at or after `measure_from_ns`, from the kernel's arrival time.
struct Receiver {
    measure_from_ns: u64,
    measure_until_ns: u64,
    /// Every datagram that arrived during the measurement, ours or not.
    arrived: u64,
    buffers: Vec<[u8; 2048]>,
    arrivals: Vec<(usize, Option<u64>)>,
    latencies: Vec<u64>,
}

impl Receiver {
    fn new(measure_from_ns: u64, measure_until_ns: u64) -> Self {
        Self {
            measure_from_ns,
            measure_until_ns,
            arrived: 0,
            buffers: vec![[0u8; 2048]; BATCH],
            arrivals: Vec::with_capacity(BATCH),
            latencies: Vec::new(),
        }
    }

    fn poll(
        &mut self,
        socket: &UdpSocket,
        headers: &mut MultiHeaders<SockaddrIn>,
    ) -> std::io::Result<()> {
        self.arrivals.clear();
        {
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
                .buffers
                .iter_mut()
                .map(|b| [IoSliceMut::new(&mut b[..])])
                .collect();
            match recvmmsg(
                socket.as_raw_fd(),
                headers,
                slices.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            ) {
                Ok(results) => {
                    for message in results {
                        let kernel = message.cmsgs().ok().and_then(|mut cmsgs| {
                            cmsgs.find_map(|c| match c {
                                ControlMessageOwned::ScmTimestampns(ts) => {
                                    Some(ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64)
                                }
                                _ => None,
                            })
                        });
                        self.arrivals.push((message.bytes, kernel));
                    }
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        for (buffer, &(len, kernel)) in self.buffers.iter().zip(&self.arrivals) {
            let arrived = kernel.unwrap_or_else(realtime_ns);
            if (self.measure_from_ns..self.measure_until_ns).contains(&arrived) {
                self.arrived += 1;
            }
            if len < 24 || &buffer[20..24] != MAGIC {
                continue;
            }
            let mut at = [0u8; 8];
            at.copy_from_slice(&buffer[12..20]);
            let sent_at = u64::from_be_bytes(at);
            if sent_at >= self.measure_from_ns {
                let arrived = kernel.unwrap_or_else(realtime_ns);
                self.latencies.push(arrived.saturating_sub(sent_at) / 1000);
            }
        }
        Ok(())
    }
}
