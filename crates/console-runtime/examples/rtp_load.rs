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
//! So that the generator costs far less per packet than the relay it loads (otherwise both
//! saturate their cores at the same rate and the figure says nothing about the relay), all A
//! legs share one socket and all B legs another: packets go out in `sendmmsg` batches and come
//! in with `recvmmsg`, timed by the kernel on arrival (`SO_TIMESTAMPNS`). A relay sees one
//! remote address per side, which symmetric RTP handles like any other.
#![allow(missing_docs)]

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, sendmmsg,
    setsockopt, sockopt,
};
use std::io::{BufRead, IoSlice, IoSliceMut, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PACKET: usize = 172;
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
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
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
    let (a, b) = (Arc::new(a), Arc::new(b));
    let receivers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|socket| std::thread::spawn(move || receive(&socket, measure_from_ns, receive_until)))
        .collect();
    let sent = Arc::new(AtomicU64::new(0));
    send(
        &a,
        &b,
        &a_dest,
        &b_dest,
        start,
        stop,
        measure_from_ns,
        &sent,
    )?;

    let mut latencies = Vec::new();
    for receiver in receivers {
        latencies.extend(
            receiver
                .join()
                .map_err(|_| std::io::Error::other("a receiver panicked"))??,
        );
    }
    latencies.sort_unstable();
    let pick = |p: f64| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        let k = ((latencies.len() - 1) as f64 * p).round() as usize;
        latencies[k.min(latencies.len() - 1)]
    };
    let sent = sent.load(Ordering::Relaxed);
    let received = latencies.len() as u64;
    let lost = sent.saturating_sub(received);
    println!(
        "{}",
        serde_json::json!({
            "pairs": pairs,
            "sent": sent,
            "received": received,
            "lost": lost,
            "loss_percent": if sent == 0 { 0.0 } else { 100.0 * lost as f64 / sent as f64 },
            "latency_us": {"p50": pick(0.5), "p99": pick(0.99), "max": pick(1.0)},
        })
    );
    Ok(())
}

fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Sends every leg's packet once per 20 ms, leg `i` of each side in slot `i % SLOTS`, until
/// `stop`; counts the packets sent at or after `measure_from_ns`.
#[allow(clippy::too_many_arguments)]
fn send(
    a: &UdpSocket,
    b: &UdpSocket,
    a_dest: &[SockaddrIn],
    b_dest: &[SockaddrIn],
    start: Instant,
    stop: Duration,
    measure_from_ns: u64,
    sent: &AtomicU64,
) -> std::io::Result<()> {
    let mut packets: Vec<[u8; PACKET]> = vec![[0u8; PACKET]; BATCH];
    for p in &mut packets {
        p[0] = 0x80; // RTP version 2, PT 0 (PCMU)
        p[20..24].copy_from_slice(MAGIC);
    }
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    let mut slot_index = 0u64;
    loop {
        let due = start + Duration::from_millis(slot_index);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let round = slot_index / SLOTS as u64;
        let slot = (slot_index % SLOTS as u64) as usize;
        slot_index += 1;
        if Duration::from_millis(20 * round) >= stop {
            return Ok(());
        }
        for (socket, dests, side) in [(a, a_dest, 0u32), (b, b_dest, 1u32)] {
            let legs: Vec<usize> = (slot..dests.len()).step_by(SLOTS).collect();
            for chunk in legs.chunks(BATCH) {
                let at = realtime_ns();
                for (packet, &leg) in packets.iter_mut().zip(chunk) {
                    packet[2..4].copy_from_slice(&(round as u16).to_be_bytes());
                    packet[4..8].copy_from_slice(&(round as u32).wrapping_mul(160).to_be_bytes());
                    // The SSRC (a relay rewrites it); the payload carries the send time.
                    let ssrc = (leg as u32) << 1 | side;
                    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
                    packet[12..20].copy_from_slice(&at.to_be_bytes());
                }
                let slices: Vec<[IoSlice<'_>; 1]> = packets[..chunk.len()]
                    .iter()
                    .map(|p| [IoSlice::new(p)])
                    .collect();
                let addrs: Vec<Option<SockaddrIn>> =
                    chunk.iter().map(|&l| Some(dests[l])).collect();
                let done = match sendmmsg(
                    socket.as_raw_fd(),
                    &mut headers,
                    &slices,
                    &addrs,
                    [] as [ControlMessage<'_>; 0],
                    MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(results) => results.count() as u64,
                    // A full send buffer drops the batch: the receiver counts it as loss.
                    Err(_) => 0,
                };
                if at >= measure_from_ns {
                    sent.fetch_add(done, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Receives until `until`; returns the one-way latency (µs) of every packet of ours sent at
/// or after `measure_from_ns`, from the kernel's arrival time.
fn receive(socket: &UdpSocket, measure_from_ns: u64, until: Instant) -> std::io::Result<Vec<u64>> {
    let mut buffers = vec![[0u8; 2048]; BATCH];
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(
        BATCH,
        Some(nix::cmsg_space!(nix::sys::time::TimeSpec)),
    );
    let mut latencies = Vec::new();
    let mut arrivals: Vec<(usize, Option<u64>)> = Vec::with_capacity(BATCH);
    while Instant::now() < until {
        arrivals.clear();
        {
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = buffers
                .iter_mut()
                .map(|b| [IoSliceMut::new(&mut b[..])])
                .collect();
            match recvmmsg(
                socket.as_raw_fd(),
                &mut headers,
                slices.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
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
                        arrivals.push((message.bytes, kernel));
                    }
                }
                // The read timeout: look at the clock again.
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        for (buffer, &(len, kernel)) in buffers.iter().zip(&arrivals) {
            if len < 24 || &buffer[20..24] != MAGIC {
                continue;
            }
            let mut at = [0u8; 8];
            at.copy_from_slice(&buffer[12..20]);
            let sent_at = u64::from_be_bytes(at);
            if sent_at >= measure_from_ns {
                let arrived = kernel.unwrap_or_else(realtime_ns);
                latencies.push(arrived.saturating_sub(sent_at) / 1000);
            }
        }
    }
    Ok(latencies)
}
