//! Speech through the console's receive path over a simulated network, in virtual time
//! (`tests/load/pesq_bench.py` drives it and scores the result with PESQ).
//!
//! ```text
//! receive_path --codec pcmu|pcma|opus --in ref.wav --out played.wav
//!              [--loss PERCENT] [--jitter MS] [--base-delay MS] [--dist uniform|exponential]
//!              [--fifo] [--seed N] [--out-rate HZ] [--tail-ms MS] [--band-limit HZ]
//!   stdout: one JSON object (what was sent, dropped and reordered; the console's own figures)
//! ```
//!
//! **Sender** (the peer): the WAV (16-bit PCM, any channel count: channel 0 is used) is
//! resampled to the codec rate with [`media_engine::resample::Resampler`] when the rates differ,
//! cut into 20 ms frames, encoded by the codec `CodecKind::new_codec` builds (Opus: 32 kbit/s,
//! in-band FEC) and packetised by [`media_engine::rtp::RtpSender`], packet `k` at `k × 20 ms`.
//!
//! **Network**, seeded: each packet is dropped with probability `loss / 100` (independent,
//! Bernoulli), otherwise delayed by `base + X` where `X` is
//! - `uniform` (default): uniform in `[0, 2 × jitter)`, mean `jitter`;
//! - `exponential`: exponential with mean `jitter` (a long tail).
//!
//! Delays are independent per packet, so packets may overtake each other (at 20 ms jitter
//! with `uniform`, about a third of them do); `--fifo` keeps the sending order instead (a
//! packet never arrives before the one sent ahead of it, as through one router queue). Loss and
//! delay draw from separate generators, so one seed gives the same delays whatever the loss.
//!
//! **Receiver**: the console's own [`console_runtime::media::stream::Stream`], the sans-IO
//! stream its media task drives: every arrival goes to `Stream::on_rtp` at its arrival time
//! (RTP parsing and statistics, the adaptive jitter buffer) and `Stream::tick` runs every
//! 20 ms on a clock of its own (seeded phase against the sender's), which pops the jitter
//! buffer and decodes, with the codec's FEC or loss concealment for missing frames. What each
//! tick played is the output, from virtual time 0 (so it starts with the network and playout
//! delay as silence); `--out-rate` resamples it with the same resampler the console uses for
//! its sound device. Nothing sleeps: the loop jumps from event to event, and a run is
//! deterministic for a seed.

use console_core::{CallId, MediaEvent};
use console_runtime::media::stream::{Source, Stream, StreamParams};
use media_engine::CodecKind;
use media_engine::resample::Resampler;
use media_engine::rtp::RtpSender;
use media_engine::sdp::Direction;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: receive_path --codec pcmu|pcma|opus --in ref.wav --out played.wav \
[--loss PERCENT] [--jitter MS] [--base-delay MS] [--dist uniform|exponential] [--fifo] \
[--seed N] [--out-rate HZ] [--tail-ms MS] [--band-limit HZ]";

/// The packet (and tick) interval.
const FRAME: Duration = Duration::from_millis(20);
/// Silence sent after the file, so that resampler and codec delays flush out.
const TRAILING_SILENCE_MS: usize = 200;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match Args::parse(&args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("receive_path: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("receive_path: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Delay distribution of the simulated network.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dist {
    Uniform,
    Exponential,
}

#[derive(Debug, Clone)]
struct Args {
    codec: CodecKind,
    input: PathBuf,
    output: PathBuf,
    /// Percent, 0..=100.
    loss: f64,
    /// ms.
    jitter: f64,
    /// ms.
    base_delay: f64,
    dist: Dist,
    fifo: bool,
    seed: u64,
    out_rate: Option<u32>,
    /// ms of ticks after the last arrival.
    tail_ms: u64,
    /// Tell the encoder the audio carries nothing above this (as a transcoding bridge with a
    /// narrower codec does: `AudioCodec::limit_bandwidth`).
    band_limit: Option<u32>,
}

impl Args {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut parsed = Args {
            codec: CodecKind::Pcmu,
            input: PathBuf::new(),
            output: PathBuf::new(),
            loss: 0.0,
            jitter: 0.0,
            base_delay: 30.0,
            dist: Dist::Uniform,
            fifo: false,
            seed: 1,
            out_rate: None,
            tail_ms: 500,
            band_limit: None,
        };
        let (mut have_in, mut have_out) = (false, false);
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--fifo" {
                parsed.fifo = true;
                continue;
            }
            let value = it
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .as_str();
            let number = |what: &str| -> Result<f64, String> {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| format!("{what}: {value:?} is not a number ≥ 0"))
            };
            match flag.as_str() {
                "--codec" => {
                    parsed.codec = match value.to_ascii_lowercase().as_str() {
                        "pcmu" => CodecKind::Pcmu,
                        "pcma" => CodecKind::Pcma,
                        "opus" => CodecKind::Opus,
                        _ => return Err(format!("--codec: unknown codec {value:?}")),
                    }
                }
                "--in" => (parsed.input, have_in) = (PathBuf::from(value), true),
                "--band-limit" => parsed.band_limit = Some(number("--band-limit")? as u32),
                "--out" => (parsed.output, have_out) = (PathBuf::from(value), true),
                "--loss" => {
                    parsed.loss = number("--loss")?;
                    if parsed.loss > 100.0 {
                        return Err(format!("--loss: {value} is above 100 %"));
                    }
                }
                "--jitter" => parsed.jitter = number("--jitter")?.min(10_000.0),
                "--base-delay" => parsed.base_delay = number("--base-delay")?.min(10_000.0),
                "--dist" => {
                    parsed.dist = match value {
                        "uniform" => Dist::Uniform,
                        "exponential" => Dist::Exponential,
                        _ => return Err(format!("--dist: unknown distribution {value:?}")),
                    }
                }
                "--seed" => {
                    parsed.seed = value
                        .parse()
                        .map_err(|_| format!("--seed: {value:?} is not an unsigned integer"))?;
                }
                "--out-rate" => {
                    let rate: u32 = value
                        .parse()
                        .ok()
                        .filter(|r| (8000..=192_000).contains(r))
                        .ok_or_else(|| format!("--out-rate: {value:?} is not 8000-192000 Hz"))?;
                    parsed.out_rate = Some(rate);
                }
                "--tail-ms" => parsed.tail_ms = number("--tail-ms")?.min(60_000.0) as u64,
                _ => return Err(format!("unknown option {flag:?}")),
            }
        }
        if !have_in || !have_out {
            return Err("--in and --out are required".into());
        }
        Ok(parsed)
    }
}

/// One packet on the simulated network.
struct Arrival {
    at: Duration,
    bytes: Vec<u8>,
}

fn run(args: &Args) -> Result<String, String> {
    let (wav_rate, input) = read_wav(&args.input)?;
    let mut encoder = args
        .codec
        .new_codec()
        .map_err(|e| format!("cannot create the {:?} encoder: {e}", args.codec))?;
    if args.band_limit.is_some() {
        encoder.limit_bandwidth(args.band_limit);
    }
    // PCM at the codec's PCM rate (Opus band-limited to 4 kHz: 8 kHz), timestamps at its clock.
    let rate = encoder.pcm_rate();
    let frame = encoder.pcm_frame();
    let ticks = args.codec.samples_per_frame() as u32;

    // The peer: resample to the codec's PCM rate, encode, packetise.
    let mut pcm = resample_all(&input, wav_rate, rate).map_err(|e| {
        format!(
            "{}: cannot resample {wav_rate} Hz to {rate} Hz: {e}",
            args.input.display()
        )
    })?;
    pcm.resize(pcm.len() + rate as usize * TRAILING_SILENCE_MS / 1000, 0);
    let mut ids = StdRng::seed_from_u64(args.seed ^ 0x5EED_0001);
    let payload_type = args.codec.default_payload_type();
    let mut sender = RtpSender::new(
        ids.random(),
        payload_type,
        args.codec.clock_rate(),
        ids.random(),
        ids.random(),
    );
    let mut loss_rng = StdRng::seed_from_u64(args.seed);
    let mut delay_rng = StdRng::seed_from_u64(args.seed ^ 0xDE1A_7000);
    let (mut arrivals, mut dropped, mut last_arrival) = (Vec::new(), 0u64, Duration::ZERO);
    let mut chunk = vec![0i16; frame];
    let mut payload = Vec::new();
    let mut sent = 0u64;
    for (k, samples) in pcm.chunks(frame).enumerate() {
        chunk.fill(0);
        chunk[..samples.len()].copy_from_slice(samples);
        payload.clear();
        encoder
            .encode(&chunk, &mut payload)
            .map_err(|e| format!("encoding frame {k}: {e}"))?;
        let sent_at = FRAME * k as u32;
        let mut bytes = Vec::new();
        sender
            .write_audio(sent_at, &payload, ticks, &mut bytes)
            .map_err(|e| format!("writing packet {k}: {e}"))?;
        sent += 1;
        // Both draws happen for every packet, so the delays do not depend on the loss rate.
        let lost = loss_rng.random_bool(args.loss / 100.0);
        let extra_ms = match args.dist {
            Dist::Uniform => delay_rng.random_range(0.0..1.0) * 2.0 * args.jitter,
            Dist::Exponential => -args.jitter * (1.0 - delay_rng.random_range(0.0..1.0f64)).ln(),
        };
        if lost {
            dropped += 1;
            continue;
        }
        let mut at = sent_at + Duration::from_secs_f64((args.base_delay + extra_ms) / 1000.0);
        if args.fifo {
            at = at.max(last_arrival);
        }
        last_arrival = last_arrival.max(at);
        arrivals.push(Arrival { at, bytes });
    }
    // Stable: packets arriving at the same instant keep their sending order.
    arrivals.sort_by_key(|a| a.at);
    let reordered = count_reordered(&arrivals);

    // The console: the same Stream its media task drives.
    let peer: SocketAddr = "192.0.2.10:40000"
        .parse()
        .map_err(|e| format!("peer address: {e}"))?;
    let mut stream = Stream::new(
        CallId("receive-path".into()),
        Source::Silence,
        "us",
        Duration::ZERO,
    );
    stream.configure(
        Duration::ZERO,
        StreamParams {
            remote: peer,
            codec: args.codec,
            payload_type,
            dtmf_payload_type: Some(101),
            direction: Direction::SendRecv,
        },
    );
    // As in a bridge with the narrower codec: the console's side is told the band too (Opus
    // then decodes at 8 kHz).
    stream.limit_bandwidth(args.band_limit);
    let rate = stream.pcm_rate();
    let frame = (rate / 50) as usize;
    let phase = FRAME.mul_f64(ids.random_range(0.0..1.0));
    let end = last_arrival.max(FRAME * sent as u32) + Duration::from_millis(args.tail_ms);
    let mut played: Vec<i16> = Vec::with_capacity(pcm.len() + frame * 64);
    let (mut out, mut events) = (Vec::new(), Vec::new());
    let mut quality = None;
    let mut next = arrivals.iter().peekable();
    let mut tick_at = phase;
    // Each pass consumes one arrival or one tick, both finite: no step cap needed.
    while tick_at <= end {
        match next.peek() {
            Some(a) if a.at <= tick_at => {
                let _ = stream.on_rtp(a.at, peer, &a.bytes, &mut events);
                next.next();
            }
            _ => {
                stream.tick(tick_at, &mut out, &mut events);
                out.clear();
                let got = stream.played();
                // One frame per tick whatever the decoder did, to keep the timeline.
                played.extend(got.iter().copied().chain(std::iter::repeat(0)).take(frame));
                tick_at += FRAME;
            }
        }
        for event in events.drain(..) {
            if let MediaEvent::Quality { quality: q, .. } = event {
                quality = Some(q);
            }
        }
    }

    let out_rate = args.out_rate.unwrap_or(rate);
    let output = resample_all(&played, rate, out_rate)
        .map_err(|e| format!("cannot resample the output {rate} Hz to {out_rate} Hz: {e}"))?;
    write_wav(&args.output, out_rate, &output)
        .map_err(|e| format!("{}: {e}", args.output.display()))?;

    let summary = serde_json::json!({
        "codec": args.codec.encoding_name(),
        "seed": args.seed,
        "network": {
            "loss_percent": args.loss,
            "jitter_ms": args.jitter,
            "base_delay_ms": args.base_delay,
            "dist": match args.dist { Dist::Uniform => "uniform", Dist::Exponential => "exponential" },
            "fifo": args.fifo,
            "tick_phase_ms": phase.as_secs_f64() * 1000.0,
        },
        "packets_sent": sent,
        "packets_dropped": dropped,
        "packets_reordered": reordered,
        "input_rate": wav_rate,
        "output_rate": out_rate,
        "output_seconds": output.len() as f64 / f64::from(out_rate),
        "console": quality.map(|q| serde_json::json!({
            "loss_percent": q.loss_percent,
            "jitter_ms": q.jitter_ms,
            "mos_estimate": q.mos,
        })),
    });
    Ok(summary.to_string())
}

/// Packets that arrive after a packet sent later than them.
fn count_reordered(arrivals: &[Arrival]) -> u64 {
    let mut highest: Option<u16> = None;
    let mut count = 0;
    for a in arrivals {
        let Some(seq) = a.bytes.get(2..4).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
            continue;
        };
        match highest {
            Some(h) if (seq.wrapping_sub(h) as i16) < 0 => count += 1,
            _ => highest = Some(seq),
        }
    }
    count
}

/// Resamples a whole signal 20 ms at a time (the last frame padded with silence).
fn resample_all(pcm: &[i16], from: u32, to: u32) -> Result<Vec<i16>, String> {
    if from == to {
        return Ok(pcm.to_vec());
    }
    let mut resampler = Resampler::new(from, to, 20).map_err(|e| e.to_string())?;
    let n = resampler.input_frames();
    let mut out = Vec::with_capacity(pcm.len() / n * resampler.output_frames() + 1);
    let mut chunk = vec![0i16; n];
    for samples in pcm.chunks(n) {
        chunk.fill(0);
        chunk[..samples.len()].copy_from_slice(samples);
        resampler
            .process(&chunk, &mut out)
            .map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Reads a 16-bit PCM WAV file: (sample rate, channel 0).
fn read_wav(path: &std::path::Path) -> Result<(u32, Vec<i16>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_wav(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse_wav(bytes: &[u8]) -> Result<(u32, Vec<i16>), String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let u16_at = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut format: Option<(u16, u16, u32, u16)> = None; // tag, channels, rate, bits
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(pos + 4).unwrap_or(0) as usize;
        let body = pos + 8;
        // Streaming writers leave the size at 0 or 0xFFFFFFFF: take what is there.
        let end = body.saturating_add(size).min(bytes.len());
        if id == b"fmt " {
            let field = |o: usize| u16_at(body + o).filter(|_| body + 16 <= end);
            let (Some(tag), Some(channels), Some(rate), Some(bits)) = (
                field(0),
                field(2),
                u32_at(body + 4).filter(|_| body + 16 <= end),
                field(14),
            ) else {
                return Err("truncated fmt chunk".into());
            };
            format = Some((tag, channels, rate, bits));
        } else if id == b"data" {
            let Some((tag, channels, rate, bits)) = format else {
                return Err("data chunk before the fmt chunk".into());
            };
            // 1 = PCM, 0xFFFE = WAVE_FORMAT_EXTENSIBLE (sox writes it for some layouts).
            if !(tag == 1 || tag == 0xFFFE) || bits != 16 {
                return Err(format!(
                    "only 16-bit PCM is supported (format tag {tag}, {bits} bits)"
                ));
            }
            if channels == 0 || rate == 0 {
                return Err(format!("bad format: {channels} channels at {rate} Hz"));
            }
            let stride = 2 * usize::from(channels);
            let samples: Vec<i16> = bytes[body..end]
                .chunks_exact(stride)
                .map(|f| i16::from_le_bytes([f[0], f[1]]))
                .collect();
            if samples.is_empty() {
                return Err("no samples".into());
            }
            return Ok((rate, samples));
        }
        pos = body.saturating_add(size).saturating_add(size & 1);
    }
    Err(if format.is_some() {
        "no data chunk".into()
    } else {
        "no fmt chunk".into()
    })
}

/// Writes 16-bit mono PCM.
fn write_wav(path: &std::path::Path, rate: u32, pcm: &[i16]) -> std::io::Result<()> {
    let data_len = u32::try_from(pcm.len() * 2)
        .map_err(|_| std::io::Error::other("output too long for a WAV file"))?;
    let mut bytes = Vec::with_capacity(44 + pcm.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for s in pcm {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, bytes)
}
