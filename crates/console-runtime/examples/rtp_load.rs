//! RTP load for bridge capacity figures (`tests/load/bridge_capacity.py` drives it).
//!
//! ```text
//! rtp_load --pairs N
//!   stdout: {"a_ports": [...], "b_ports": [...]}        the 2N sockets it bound on 127.0.0.1
//!   stdin:  {"a_dest": ["ip:port", ...], "b_dest": [...], "warmup_s": 2, "measure_s": 10}
//!   stdout: {"sent": .., "received": .., "lost": .., "loss_percent": ..,
//!            "latency_us": {"p50": .., "p99": .., "max": ..}}
//! ```
//!
//! Every socket sends one 20 ms PCMU-sized RTP packet (172 bytes) every 20 ms to its
//! destination, the pairs spread evenly over the 20 ms; the payload carries the send time, so
//! whatever arrives back on the pair's other socket (relayed, not transcoded) gives the one-way
//! latency through the relay. Loss and latency count only packets sent after the warm-up.
//! With `a_dest[i]` = the B socket and `b_dest[i]` = the A socket, it measures itself (the
//! floor to subtract).
#![allow(missing_docs)]

use std::io::{BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PACKET: usize = 172;
/// Marks our packets' payload (anything else arriving, such as a console's own audio before
/// the bridge, is not counted).
const MAGIC: &[u8; 4] = b"SBLD";

fn main() -> std::io::Result<()> {
    let pairs = std::env::args()
        .skip_while(|a| a != "--pairs")
        .nth(1)
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| std::io::Error::other("usage: rtp_load --pairs N"))?;
    let bind = || -> std::io::Result<UdpSocket> {
        let s = UdpSocket::bind("127.0.0.1:0")?;
        s.set_nonblocking(true)?;
        Ok(s)
    };
    let a: Vec<UdpSocket> = (0..pairs).map(|_| bind()).collect::<Result<_, _>>()?;
    let b: Vec<UdpSocket> = (0..pairs).map(|_| bind()).collect::<Result<_, _>>()?;
    let ports = |v: &[UdpSocket]| -> Vec<u16> {
        v.iter()
            .filter_map(|s| s.local_addr().ok().map(|a| a.port()))
            .collect()
    };
    println!(
        "{}",
        serde_json::json!({"a_ports": ports(&a), "b_ports": ports(&b)})
    );
    std::io::stdout().flush()?;

    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let plan: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| std::io::Error::other(e.to_string()))?;
    let dests = |key: &str| -> std::io::Result<Vec<SocketAddr>> {
        plan[key]
            .as_array()
            .ok_or_else(|| std::io::Error::other(format!("{key} missing")))?
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| std::io::Error::other(format!("bad address in {key}")))
            })
            .collect()
    };
    let (a_dest, b_dest) = (dests("a_dest")?, dests("b_dest")?);
    if a_dest.len() != pairs || b_dest.len() != pairs {
        return Err(std::io::Error::other("one destination per pair"));
    }
    let warmup = Duration::from_secs_f64(plan["warmup_s"].as_f64().unwrap_or(2.0));
    let measure = Duration::from_secs_f64(plan["measure_s"].as_f64().unwrap_or(10.0));

    // Senders: (socket, destination, ssrc); index i < pairs is A_i, else B_(i - pairs).
    let sockets: Vec<Arc<UdpSocket>> = a.into_iter().chain(b).map(Arc::new).collect();
    let dest: Vec<SocketAddr> = a_dest.into_iter().chain(b_dest).collect();
    let start = Instant::now();
    let measure_from = warmup;
    let stop_sending = warmup + measure;
    let sent = Arc::new(AtomicU64::new(0));

    // One thread, one current-thread runtime: a sending task and a task per socket, so the
    // measuring side never competes with a thread of its own for the core.
    let (received, mut latencies) = run(&sockets, &dest, start, measure_from, stop_sending, &sent);
    latencies.sort_unstable();
    let pick = |p: f64| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        let k = ((latencies.len() - 1) as f64 * p).round() as usize;
        latencies[k.min(latencies.len() - 1)]
    };
    let sent = sent.load(Ordering::Relaxed);
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

/// Sends one packet per socket every 20 ms (the sockets spread evenly over the 20 ms, in
/// 1 ms slots) until `stop`, and receives on every socket until a second after; returns
/// (packets counted, latencies in µs) for packets sent at or after `measure_from`.
fn run(
    sockets: &[Arc<UdpSocket>],
    dest: &[SocketAddr],
    start: Instant,
    measure_from: Duration,
    stop: Duration,
    sent: &AtomicU64,
) -> (u64, Vec<u64>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("rtp_load: no runtime: {error}");
            return (0, Vec::new());
        }
    };
    let from_ns = measure_from.as_nanos() as u64;
    let deadline = stop + Duration::from_secs(1);
    runtime.block_on(async move {
        let tokio_sockets: Vec<Arc<tokio::net::UdpSocket>> = sockets
            .iter()
            .filter_map(|s| s.try_clone().and_then(tokio::net::UdpSocket::from_std).ok())
            .map(Arc::new)
            .collect();
        let results = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
        let mut tasks = Vec::new();
        for socket in tokio_sockets.clone() {
            let results = results.clone();
            tasks.push(tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let mut mine = Vec::new();
                let until = tokio::time::Instant::from_std(start + deadline);
                while let Ok(Ok((len, _))) =
                    tokio::time::timeout_at(until, socket.recv_from(&mut buf)).await
                {
                    if len < 24 || &buf[20..24] != MAGIC {
                        continue;
                    }
                    let now = start.elapsed().as_nanos() as u64;
                    let mut at = [0u8; 8];
                    at.copy_from_slice(&buf[12..20]);
                    let sent_at = u64::from_be_bytes(at);
                    if sent_at >= from_ns {
                        mine.push(now.saturating_sub(sent_at) / 1000);
                    }
                }
                if let Ok(mut all) = results.lock() {
                    all.extend(mine);
                }
            }));
        }
        // The sender.
        let n = tokio_sockets.len();
        let mut packet = [0u8; PACKET];
        packet[0] = 0x80; // RTP version 2, PT 0 (PCMU)
        packet[20..24].copy_from_slice(MAGIC);
        let slots = 20usize;
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::from_std(start),
            Duration::from_millis(1),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut slot_index = 0u64;
        loop {
            tick.tick().await;
            let round = slot_index / slots as u64;
            let slot = (slot_index % slots as u64) as usize;
            slot_index += 1;
            let round_start = Duration::from_millis(20 * round);
            if round_start >= stop {
                break;
            }
            // Sockets i with i % slots == slot send in this slot.
            for i in (slot..n).step_by(slots) {
                let seq = round as u16;
                let ts = (round as u32).wrapping_mul(160);
                packet[2..4].copy_from_slice(&seq.to_be_bytes());
                packet[4..8].copy_from_slice(&ts.to_be_bytes());
                // The SSRC (rewritten by a relay); the payload carries the send time.
                packet[8..12].copy_from_slice(&(i as u32).to_be_bytes());
                let at = start.elapsed().as_nanos() as u64;
                packet[12..20].copy_from_slice(&at.to_be_bytes());
                // Counted by the same rule as on arrival: sent at or after `measure_from`.
                if tokio_sockets[i].try_send_to(&packet, dest[i]).is_ok() && at >= from_ns {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for task in tasks {
            let _ = task.await;
        }
        let all = results.lock().map(|v| v.clone()).unwrap_or_default();
        (all.len() as u64, all)
    })
}
