//! Adaptive jitter buffer, sans-IO.
//!
//! The runtime calls [`JitterBuffer::push`] for every received audio packet and
//! [`JitterBuffer::pop`] once per frame period (20 ms) on its own clock. `now` is a
//! `Duration` since any fixed epoch; nothing here reads a clock.
//!
//! # Algorithm
//! For each packet the relative delay `D = arrival - timestamp/rate` is recorded (the unknown
//! clock offset cancels out). Over a sliding window of recent packets, the *variation*
//! `D - min(D)` gives the jitter distribution; the target playout delay is its 98th percentile
//! plus a small margin, clamped to `[min_delay, max_delay]`. The current delay is how long after
//! its earliest possible arrival (`timestamp/rate + min(D)`) the frame now due is played. The
//! buffer moves toward the target one frame at a time: it *stretches* (plays a concealment frame
//! without advancing, so the delay grows by a frame) when below target, and *shrinks* (drops
//! one frame) only after the delay has been at least a frame above target for a sustained run,
//! so it does not oscillate. Late packets (for frames already played) are dropped but still
//! feed the delay statistics, which is how a jitter increase is noticed.
//!
//! Reordering is absorbed by keying frames by timestamp; duplicates are dropped. After a long
//! gap (hold, DTX, the far end stopping) the buffer reports [`Playout::Empty`] and resynchronises
//! on the next packet.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// What to play for one frame period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode this payload.
    Frame(Vec<u8>),
    /// The frame is missing (lost, late, or the buffer is growing): conceal it. If
    /// [`JitterBuffer::peek_next`] returns a payload, Opus can recover the frame by FEC.
    Conceal,
    /// Nothing to play (not started, or the stream stopped): play silence or comfort noise.
    Empty,
}

/// Tuning of the jitter buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    /// RTP clock rate of the stream.
    pub clock_rate: u32,
    /// Samples per frame (packet), e.g. 160 for 20 ms at 8 kHz.
    pub frame_samples: u32,
    /// Lowest target delay above the minimum network delay.
    pub min_delay: Duration,
    /// Highest target delay (bounds latency whatever the jitter).
    pub max_delay: Duration,
    /// Added to the measured jitter percentile.
    pub margin: Duration,
    /// Packets in the statistics window.
    pub window: usize,
    /// Consecutive concealed frames after which an empty buffer reports `Empty` and waits for a
    /// new start.
    pub max_conceal_frames: u32,
}

impl JitterConfig {
    /// Defaults for a 20 ms stream at `clock_rate`: 0-200 ms target, 5 ms margin, 250-packet
    /// (5 s) window, `Empty` after 5 missing frames.
    #[must_use]
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            frame_samples: clock_rate.max(50) / 50,
            min_delay: Duration::ZERO,
            max_delay: Duration::from_millis(200),
            margin: Duration::from_millis(5),
            window: 250,
            max_conceal_frames: 5,
        }
    }
}

/// Counters of one jitter buffer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JitterStats {
    /// Packets pushed.
    pub received: u64,
    /// Frames played from packets.
    pub played: u64,
    /// Concealment frames produced (losses and stretches).
    pub concealed: u64,
    /// Of those, frames inserted to grow the delay.
    pub stretched: u64,
    /// Frames dropped to shrink the delay.
    pub shrunk: u64,
    /// Packets that arrived after their frame was played.
    pub late: u64,
    /// Duplicate packets.
    pub duplicates: u64,
    /// Current target delay in ms (above the minimum network delay).
    pub target_ms: f64,
}

/// An adaptive jitter buffer for one received stream.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterConfig,
    /// Frames keyed by extended (unwrapped) timestamp.
    frames: BTreeMap<i64, Vec<u8>>,
    /// Last extended timestamp seen, for unwrapping.
    last_ext_ts: Option<i64>,
    /// Extended timestamp of the next frame to play; `None` until started.
    next_ts: Option<i64>,
    /// Whether the playout has started (the start delay has elapsed).
    playing: bool,
    /// Relative delays (seconds) of recent packets.
    delays: VecDeque<f64>,
    /// Room to find a percentile of `delays` in.
    scratch: Vec<f64>,
    target: f64,
    misses: u32,
    above_target_run: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    /// Creates an empty buffer.
    #[must_use]
    pub fn new(config: JitterConfig) -> Self {
        let target = (0.04f64).clamp(
            config.min_delay.as_secs_f64(),
            config.max_delay.as_secs_f64(),
        );
        Self {
            config,
            frames: BTreeMap::new(),
            last_ext_ts: None,
            next_ts: None,
            playing: false,
            delays: VecDeque::with_capacity(config.window),
            scratch: Vec::with_capacity(config.window),
            target,
            misses: 0,
            above_target_run: 0,
            stats: JitterStats::default(),
        }
    }

    /// Counters and the current target.
    #[must_use]
    pub fn stats(&self) -> JitterStats {
        JitterStats {
            target_ms: self.target * 1000.0,
            ..self.stats
        }
    }

    /// Adds a received packet. Call for every audio RTP packet of the stream, as it arrives.
    /// `seq` is only used to tell duplicates; frames are ordered by `timestamp`.
    pub fn push(&mut self, now: Duration, seq: u16, timestamp: u32, payload: Vec<u8>) {
        let _ = seq;
        self.stats.received += 1;
        let ext = self.unwrap_ts(timestamp);
        let rate = f64::from(self.config.clock_rate);
        self.record_delay(now.as_secs_f64() - ext as f64 / rate);

        match self.next_ts {
            None => {
                self.next_ts = Some(ext);
                self.playing = false;
            }
            Some(next) => {
                let frame = i64::from(self.config.frame_samples);
                let far = ext - next > i64::from(self.config.clock_rate) * 2;
                let stalled = self.playing && self.misses >= self.config.max_conceal_frames;
                if far || stalled {
                    // New talk spurt after silence, or a timestamp jump: resynchronise.
                    self.frames.clear();
                    self.next_ts = Some(ext);
                    self.playing = false;
                    self.misses = 0;
                } else if ext + frame <= next {
                    self.stats.late += 1;
                    return;
                }
            }
        }
        if self.frames.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.frames.insert(ext, payload);
    }

    /// Takes the frame to play now. Call exactly once per frame period.
    #[must_use]
    pub fn pop(&mut self, now: Duration) -> Playout {
        let Some(next) = self.next_ts else {
            return Playout::Empty;
        };
        let frame = i64::from(self.config.frame_samples);
        let current = self.current_delay(now, next);

        if !self.playing {
            if current + 1e-9 < self.target {
                return Playout::Empty;
            }
            self.playing = true;
        } else if current + 1e-9 < self.target && self.frames.contains_key(&next) {
            // Below target while the frame is here: hold it one period (stretch).
            self.above_target_run = 0;
            self.stats.concealed += 1;
            self.stats.stretched += 1;
            return Playout::Conceal;
        } else if current - self.frame_secs() >= self.target + 0.002 {
            self.above_target_run += 1;
            if self.above_target_run >= 25 {
                // Sustained excess delay: skip one frame (prefer one that is missing anyway).
                self.above_target_run = 0;
                if self.frames.remove(&next).is_some() {
                    self.stats.shrunk += 1;
                }
                self.advance_to(next + frame);
                return self.pop_at(next + frame);
            }
        } else {
            self.above_target_run = 0;
        }
        self.pop_at(next)
    }

    /// The payload of the frame that the next `pop` would play, if it is already here (for
    /// Opus FEC after [`Playout::Conceal`]).
    #[must_use]
    pub fn peek_next(&self) -> Option<&[u8]> {
        let next = self.next_ts?;
        self.frames.get(&next).map(Vec::as_slice)
    }

    /// Current playout delay above the minimum network delay, in ms (for call quality).
    #[must_use]
    pub fn current_delay_ms(&self, now: Duration) -> f64 {
        self.next_ts
            .map_or(0.0, |next| self.current_delay(now, next) * 1000.0)
    }

    fn pop_at(&mut self, ts: i64) -> Playout {
        let frame = i64::from(self.config.frame_samples);
        // Play the first frame starting within [ts, ts + frame) (tolerates odd timestamps).
        let found = self.frames.range(ts..ts + frame).next().map(|(&k, _)| k);
        if let Some(key) = found {
            // Invariant: `key` was just found in the map.
            let payload = self.frames.remove(&key).unwrap_or_default();
            self.advance_to(key + frame);
            self.misses = 0;
            self.stats.played += 1;
            return Playout::Frame(payload);
        }
        self.advance_to(ts + frame);
        self.misses += 1;
        if self.misses > self.config.max_conceal_frames && self.frames.is_empty() {
            return Playout::Empty;
        }
        self.stats.concealed += 1;
        Playout::Conceal
    }

    fn advance_to(&mut self, ts: i64) {
        self.next_ts = Some(ts);
        // Anything before the playout point can never be played.
        while let Some((&k, _)) = self.frames.first_key_value() {
            if k >= ts {
                break;
            }
            self.frames.remove(&k);
            self.stats.late += 1;
        }
    }

    fn frame_secs(&self) -> f64 {
        f64::from(self.config.frame_samples) / f64::from(self.config.clock_rate)
    }

    fn current_delay(&self, now: Duration, next: i64) -> f64 {
        let min = self.delays.iter().copied().fold(f64::INFINITY, f64::min);
        if !min.is_finite() {
            return 0.0;
        }
        now.as_secs_f64() - next as f64 / f64::from(self.config.clock_rate) - min
    }

    fn record_delay(&mut self, d: f64) {
        if self.delays.len() == self.config.window.max(1) {
            self.delays.pop_front();
        }
        self.delays.push_back(d);
        let min = self.delays.iter().copied().fold(f64::INFINITY, f64::min);
        // The 98th percentile by selection in a reused buffer, not a sorted copy per packet
        // (an allocation and a sort of 250 values showed in a transcoding profile).
        let variation = &mut self.scratch;
        variation.clear();
        variation.extend(self.delays.iter().map(|x| x - min));
        let idx = ((variation.len() as f64 - 1.0) * 0.98).round() as usize;
        let q = if idx < variation.len() {
            *variation.select_nth_unstable_by(idx, f64::total_cmp).1
        } else {
            0.0
        };
        self.target = (q + self.config.margin.as_secs_f64()).clamp(
            self.config.min_delay.as_secs_f64(),
            self.config.max_delay.as_secs_f64(),
        );
    }

    fn unwrap_ts(&mut self, ts: u32) -> i64 {
        let ext = match self.last_ext_ts {
            None => i64::from(ts),
            Some(last) => {
                let delta = ts.wrapping_sub(last as u32) as i32;
                last + i64::from(delta)
            }
        };
        self.last_ext_ts = Some(match self.last_ext_ts {
            Some(last) if last > ext => last,
            _ => ext,
        });
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const FRAME: Duration = Duration::from_millis(20);

    /// Network model: per-packet delay (None = lost) for frame `k`.
    struct Scenario {
        frames: u32,
        base: Duration,
        /// Pop clock phase relative to the sender's.
        phase: Duration,
        delay: Box<dyn FnMut(u32) -> Option<Duration>>,
    }

    struct Outcome {
        /// (frame index, extra delay in ms) of frames played.
        played: Vec<(u32, f64)>,
        conceals: u64,
        stats: JitterStats,
    }

    /// Runs a scenario in virtual time: events (arrivals and pops) in time order.
    fn simulate(mut s: Scenario, start_ts: u32, start_seq: u16) -> Outcome {
        let mut jb = JitterBuffer::new(JitterConfig::new(8000));
        let mut arrivals: Vec<(Duration, u32)> = (0..s.frames)
            .filter_map(|k| (s.delay)(k).map(|d| (FRAME * k + s.base + d, k)))
            .collect();
        arrivals.sort();
        let end = FRAME * (s.frames + 20) + s.base;
        let mut pops = Vec::new();
        let mut t = s.phase;
        while t < end {
            pops.push(t);
            t += FRAME;
        }
        let (mut ai, mut played, mut conceals, mut conceals_in_stream) = (0, Vec::new(), 0, 0);
        for pop_at in pops {
            while ai < arrivals.len() && arrivals[ai].0 <= pop_at {
                let (at, k) = arrivals[ai];
                jb.push(
                    at,
                    start_seq.wrapping_add(k as u16),
                    start_ts.wrapping_add(160 * k),
                    k.to_be_bytes().to_vec(),
                );
                ai += 1;
            }
            match jb.pop(pop_at) {
                Playout::Frame(p) => {
                    let k = u32::from_be_bytes(p.try_into().expect("4-byte test payload"));
                    let extra = pop_at.as_secs_f64() - (FRAME * k + s.base).as_secs_f64();
                    played.push((k, extra * 1000.0));
                    conceals_in_stream = conceals;
                }
                Playout::Conceal => conceals += 1,
                Playout::Empty => {}
            }
        }
        Outcome {
            played,
            conceals: conceals_in_stream,
            stats: jb.stats(),
        }
    }

    fn p95(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 - 1.0) * 0.95).round() as usize]
    }

    #[test]
    fn zero_jitter_converges_to_a_small_delay() {
        let out = simulate(
            Scenario {
                frames: 1000,
                base: Duration::from_millis(30),
                phase: Duration::from_millis(7),
                delay: Box::new(|_| Some(Duration::ZERO)),
            },
            u32::MAX - 1000, // wraps during the run
            65000,
        );
        assert_eq!(out.played.len(), 1000);
        // After the first 5 s the delay sits within one frame above the margin.
        let tail: Vec<f64> = out.played[500..].iter().map(|&(_, e)| e).collect();
        assert!(
            tail.iter().all(|&e| e <= 25.0),
            "max {}",
            tail.iter().cloned().fold(0.0, f64::max)
        );
        assert_eq!(out.stats.late, 0);
    }

    #[test]
    fn twenty_ms_jitter_stays_within_60_ms_and_under_1_percent_late() {
        for (name, seed) in [("uniform", 1u64), ("normal", 2)] {
            let mut rng = StdRng::seed_from_u64(seed);
            let normal = name == "normal";
            let out = simulate(
                Scenario {
                    frames: 3000,
                    base: Duration::from_millis(30),
                    phase: Duration::from_millis(13),
                    delay: Box::new(move |_| {
                        let ms = if normal {
                            // Box-Muller, mean 10 ms, sd 5 ms, clipped to [0, 20+]: a 20 ms spread.
                            let (u1, u2): (f64, f64) =
                                (rng.random::<f64>().max(1e-12), rng.random());
                            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                            (10.0 + 5.0 * z).max(0.0)
                        } else {
                            rng.random_range(0.0..20.0)
                        };
                        Some(Duration::from_secs_f64(ms / 1000.0))
                    }),
                },
                12345,
                1,
            );
            let extra: Vec<f64> = out.played.iter().map(|&(_, e)| e).collect();
            let lost = 3000 - out.played.len();
            let p = p95(extra);
            // Printed for the record (`cargo test -- --nocapture`).
            println!(
                "{name} 20 ms jitter: p95 extra delay {p:.1} ms, {lost} of 3000 not played, {:?}",
                out.stats
            );
            assert!(p <= 60.0, "{name}: p95 extra delay {p} ms");
            assert!(
                (lost as f64) < 0.01 * 3000.0,
                "{name}: {lost} frames not played, {:?}",
                out.stats
            );
        }
    }

    #[test]
    fn three_percent_loss_conceals_exactly_the_lost_frames() {
        let mut rng = StdRng::seed_from_u64(3);
        let lost: Vec<u32> = (0..2000)
            .filter(|k| *k > 10 && *k < 1990 && rng.random_bool(0.03))
            .collect();
        let lost_set = lost.clone();
        let out = simulate(
            Scenario {
                frames: 2000,
                base: Duration::from_millis(30),
                phase: Duration::from_millis(5),
                delay: Box::new(move |k| (!lost_set.contains(&k)).then_some(Duration::ZERO)),
            },
            0,
            0,
        );
        assert!(lost.len() > 30);
        assert_eq!(out.played.len(), 2000 - lost.len());
        // Conceals: the lost frames plus the stretches of the initial settling, which are counted.
        assert_eq!(
            out.conceals,
            lost.len() as u64 + out.stats.stretched,
            "{:?}",
            out.stats
        );
        assert_eq!(out.stats.stretched, 0, "no stretching at zero jitter");
        assert_eq!(out.stats.shrunk, 0);
        let played: Vec<u32> = out.played.iter().map(|&(k, _)| k).collect();
        assert!(played.windows(2).all(|w| w[0] < w[1]), "in order");
    }

    #[test]
    fn reorder_and_duplicates() {
        let mut jb = JitterBuffer::new(JitterConfig::new(8000));
        let ms = Duration::from_millis;
        // Frames 0,2,1,3 with 1 and 2 swapped, and 2 duplicated.
        jb.push(ms(0), 0, 0, vec![0]);
        jb.push(ms(20), 2, 320, vec![2]);
        jb.push(ms(21), 1, 160, vec![1]);
        jb.push(ms(22), 2, 320, vec![2]);
        jb.push(ms(60), 3, 480, vec![3]);
        let mut got = Vec::new();
        for i in 0..8u64 {
            if let Playout::Frame(p) = jb.pop(ms(40 + 20 * i)) {
                got.push(p[0]);
            }
        }
        assert_eq!(got, vec![0, 1, 2, 3]);
        assert_eq!(jb.stats().duplicates, 1);
        // A packet for a frame already played is late.
        jb.push(ms(200), 1, 160, vec![1]);
        assert_eq!(jb.stats().late, 1);
    }

    #[test]
    fn stream_stop_goes_empty_then_resyncs() {
        let mut jb = JitterBuffer::new(JitterConfig::new(8000));
        let ms = Duration::from_millis;
        for k in 0..10u32 {
            jb.push(ms(20 * u64::from(k)), k as u16, 160 * k, vec![1]);
        }
        let mut kinds = Vec::new();
        for i in 0..30u64 {
            kinds.push(jb.pop(ms(40 + 20 * i)));
        }
        assert!(matches!(kinds.last(), Some(Playout::Empty)));
        // New talk spurt 10 s later with a jumped timestamp.
        jb.push(ms(10_000), 100, 160 * 500, vec![9]);
        let mut resumed = false;
        for i in 0..5u64 {
            if jb.pop(ms(10_000 + 20 * i)) == Playout::Frame(vec![9]) {
                resumed = true;
            }
        }
        assert!(resumed);
    }
}
