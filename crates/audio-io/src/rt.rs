//! The real-time half: what runs inside cpal's data callbacks.
//!
//! Rules for everything in this file that a callback reaches:
//! - no allocation, no blocking, no logging, no channel sends;
//! - the rings' endpoints sit behind a `Mutex` only so that a rebuilt stream can take them over
//!   from the old one; callbacks use `try_lock` (one atomic compare-and-swap, never a wait) and
//!   play silence / drop input for one callback in the rare case that it is held — which happens
//!   only while two streams of the same role overlap during a device switch;
//! - all state (channel count, resampler phase) is fixed-size and created before the stream starts.
//!
//! `tests::callbacks_do_not_allocate` runs both processors under a counting global allocator.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use cpal::{FromSample, Sample};
use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};

use crate::{AudioStats, ENGINE_RATE, SILENCE_DBFS};

/// State shared between the engine, the device thread and every stream callback.
pub(crate) struct Shared {
    pub(crate) meters: Meters,
    /// Producer end of the mic ring (written by the input callback).
    pub(crate) mic: Mutex<HeapProd<i16>>,
    /// Consumer end of the speaker ring (read by the output callback).
    pub(crate) speaker: Mutex<HeapCons<i16>>,
    /// Consumer end of the ring-alert ring (read by the ring stream, or mixed into the output).
    pub(crate) ring_alert: Mutex<HeapCons<i16>>,
    /// An input stream is running.
    pub(crate) input_active: AtomicBool,
    /// An output stream is running.
    pub(crate) output_active: AtomicBool,
    /// A separate ring stream is running (else the output stream mixes the ring alert in).
    pub(crate) ring_separate: AtomicBool,
    /// Data callbacks so far per role (input, output, ring): the device thread's watchdog
    /// treats a stream whose count stops moving as lost.
    pub(crate) callbacks: [AtomicU64; 3],
}

impl Shared {
    pub(crate) fn new(
        mic: HeapProd<i16>,
        speaker: HeapCons<i16>,
        ring_alert: HeapCons<i16>,
    ) -> Self {
        Self {
            meters: Meters::default(),
            mic: Mutex::new(mic),
            speaker: Mutex::new(speaker),
            ring_alert: Mutex::new(ring_alert),
            input_active: AtomicBool::new(false),
            output_active: AtomicBool::new(false),
            ring_separate: AtomicBool::new(false),
            callbacks: Default::default(),
        }
    }
}

/// Lock-free counters; callbacks only ever add or raise.
#[derive(Default)]
pub(crate) struct Meters {
    pub(crate) underruns: AtomicU64,
    pub(crate) overruns: AtomicU64,
    pub(crate) playback_overflows: AtomicU64,
    pub(crate) stream_errors: AtomicU64,
    /// Peak |sample| of the mic since the last snapshot (0..=32768).
    pub(crate) input_peak: AtomicU32,
    /// Peak |sample| played since the last snapshot.
    pub(crate) output_peak: AtomicU32,
}

impl Meters {
    /// Reads the counters and resets the peak meters.
    pub(crate) fn snapshot(&self) -> AudioStats {
        AudioStats {
            underruns: self.underruns.load(Ordering::Relaxed),
            overruns: self.overruns.load(Ordering::Relaxed),
            playback_overflows: self.playback_overflows.load(Ordering::Relaxed),
            stream_errors: self.stream_errors.load(Ordering::Relaxed),
            input_level_dbfs: peak_to_dbfs(self.input_peak.swap(0, Ordering::Relaxed)),
            output_level_dbfs: peak_to_dbfs(self.output_peak.swap(0, Ordering::Relaxed)),
        }
    }
}

/// Converts a peak magnitude (0..=32768) to dBFS, floored at [`SILENCE_DBFS`].
pub(crate) fn peak_to_dbfs(peak: u32) -> f32 {
    if peak == 0 {
        return SILENCE_DBFS;
    }
    let db = 20.0 * (peak as f32 / 32768.0).log10();
    db.max(SILENCE_DBFS)
}

/// Turns one input callback's samples (any format, any channel count, any rate) into i16 mono
/// 48 kHz samples in the mic ring.
pub(crate) struct Capture {
    shared: Arc<Shared>,
    channels: usize,
    resampler: Option<PushResampler>,
}

impl Capture {
    /// `channels` ≥ 1 and `device_rate` > 0 come from the stream config that was opened.
    pub(crate) fn new(shared: Arc<Shared>, channels: u16, device_rate: u32) -> Self {
        Self {
            shared,
            channels: usize::from(channels.max(1)),
            resampler: (device_rate != ENGINE_RATE && device_rate > 0)
                .then(|| PushResampler::new(device_rate, ENGINE_RATE)),
        }
    }

    /// The body of the input data callback.
    pub(crate) fn process<T>(&mut self, data: &[T])
    where
        T: Sample,
        f32: FromSample<T>,
    {
        self.shared.callbacks[0].fetch_add(1, Ordering::Relaxed);
        let Some(mut mic) = try_lock(&self.shared.mic) else {
            self.shared.meters.overruns.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut peak: u32 = 0;
        let mut dropped = false;
        let mut emit = |x: f32| {
            let s = f32_to_i16(x);
            peak = peak.max(u32::from(s.unsigned_abs()));
            if mic.try_push(s).is_err() {
                dropped = true;
            }
        };
        let scale = 1.0 / self.channels as f32;
        for frame in data.chunks_exact(self.channels) {
            let mut acc = 0.0f32;
            for s in frame {
                acc += s.to_sample::<f32>();
            }
            let x = acc * scale;
            match &mut self.resampler {
                None => emit(x),
                Some(r) => r.push(x, &mut emit),
            }
        }
        if dropped {
            self.shared.meters.overruns.fetch_add(1, Ordering::Relaxed);
        }
        self.shared
            .meters
            .input_peak
            .fetch_max(peak, Ordering::Relaxed);
    }
}

/// Which ring an output stream plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The call audio (the output stream); mixes the ring alert in when no ring device is set.
    Speaker,
    /// The ring alert only (the separate ring stream).
    RingAlert,
}

/// Fills one output callback's buffer (any format, channel count, rate) from an i16 mono 48 kHz
/// ring, duplicating the mono signal to every channel.
pub(crate) struct Playback {
    shared: Arc<Shared>,
    source: Source,
    channels: usize,
    resampler: Option<PullResampler>,
    /// Audio has been flowing since the last underrun (so the next empty ring is a gap).
    primed: bool,
}

impl Playback {
    /// `channels` ≥ 1 and `device_rate` > 0 come from the stream config that was opened.
    pub(crate) fn new(
        shared: Arc<Shared>,
        source: Source,
        channels: u16,
        device_rate: u32,
    ) -> Self {
        Self {
            shared,
            source,
            channels: usize::from(channels.max(1)),
            resampler: (device_rate != ENGINE_RATE && device_rate > 0)
                .then(|| PullResampler::new(ENGINE_RATE, device_rate)),
            primed: false,
        }
    }

    /// The body of the output data callback.
    pub(crate) fn process<T>(&mut self, out: &mut [T])
    where
        T: Sample + FromSample<f32>,
    {
        let shared = &*self.shared;
        let role = if self.source == Source::Speaker { 1 } else { 2 };
        shared.callbacks[role].fetch_add(1, Ordering::Relaxed);
        let main = match self.source {
            Source::Speaker => &shared.speaker,
            Source::RingAlert => &shared.ring_alert,
        };
        let mut main = try_lock(main);
        let mut alert =
            if self.source == Source::Speaker && !shared.ring_separate.load(Ordering::Relaxed) {
                try_lock(&shared.ring_alert)
            } else {
                None
            };
        let count_gaps = self.source == Source::Speaker;
        let mut primed = self.primed;
        let mut underruns = 0u64;
        let mut peak: u32 = 0;
        let mut pull = || -> f32 {
            let a = match main.as_mut().and_then(|c| c.try_pop()) {
                Some(s) => {
                    primed = true;
                    s
                }
                None => {
                    if primed && count_gaps {
                        underruns += 1;
                    }
                    primed = false;
                    0
                }
            };
            let b = alert.as_mut().and_then(|c| c.try_pop()).unwrap_or(0);
            let s = a.saturating_add(b);
            peak = peak.max(u32::from(s.unsigned_abs()));
            i16_to_f32(s)
        };
        for frame in out.chunks_exact_mut(self.channels) {
            let x = match &mut self.resampler {
                None => pull(),
                Some(r) => r.next(&mut pull),
            };
            let v = T::from_sample(x);
            for slot in frame {
                *slot = v;
            }
        }
        self.primed = primed;
        if underruns > 0 {
            shared
                .meters
                .underruns
                .fetch_add(underruns, Ordering::Relaxed);
        }
        shared.meters.output_peak.fetch_max(peak, Ordering::Relaxed);
    }
}

/// `try_lock` that treats a poisoned lock as usable (the data is plain samples) and a held one as
/// "skip this callback".
fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// i16 → f32 in [-1, 1), exact inverse of [`f32_to_i16`] for every i16.
pub(crate) fn i16_to_f32(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

/// f32 → i16 with rounding and clipping.
pub(crate) fn f32_to_i16(x: f32) -> i16 {
    // The clamp keeps the value inside i16's range, so the cast cannot saturate unexpectedly;
    // NaN casts to 0.
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Streaming linear-interpolation resampler driven by input samples (capture side).
///
/// Linear interpolation is crude (some aliasing) but needs two numbers of state; it only runs
/// when a device refuses 48 kHz, which PulseAudio, PipeWire and most USB headsets never do.
pub(crate) struct PushResampler {
    /// Input samples advanced per output sample.
    step: f64,
    /// Position of the next output sample between `prev` (0) and the incoming sample (1).
    pos: f64,
    prev: f32,
}

impl PushResampler {
    pub(crate) fn new(from_rate: u32, to_rate: u32) -> Self {
        Self {
            step: f64::from(from_rate) / f64::from(to_rate.max(1)),
            pos: 0.0,
            prev: 0.0,
        }
    }

    /// Feeds one input sample; calls `emit` for each output sample that is now due.
    pub(crate) fn push(&mut self, x: f32, emit: &mut impl FnMut(f32)) {
        while self.pos <= 1.0 {
            let t = self.pos as f32;
            emit(self.prev + (x - self.prev) * t);
            self.pos += self.step;
        }
        self.pos -= 1.0;
        self.prev = x;
    }
}

/// Streaming linear-interpolation resampler driven by output samples (playback side).
pub(crate) struct PullResampler {
    /// Input samples advanced per output sample.
    step: f64,
    /// Position of the next output sample between `prev` (0) and `cur` (1).
    pos: f64,
    prev: f32,
    cur: f32,
}

impl PullResampler {
    pub(crate) fn new(from_rate: u32, to_rate: u32) -> Self {
        Self {
            step: f64::from(from_rate) / f64::from(to_rate.max(1)),
            pos: 0.0,
            prev: 0.0,
            cur: 0.0,
        }
    }

    /// Produces the next output sample, calling `pull` for as many input samples as needed.
    pub(crate) fn next(&mut self, pull: &mut impl FnMut() -> f32) -> f32 {
        while self.pos >= 1.0 {
            self.prev = self.cur;
            self.cur = pull();
            self.pos -= 1.0;
        }
        let y = self.prev + (self.cur - self.prev) * self.pos as f32;
        self.pos += self.step;
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::HeapRb;
    use ringbuf::traits::{Observer, Split};

    /// Counts (de)allocations inside `assert_no_alloc` on the calling thread only, so the other
    /// tests running in parallel are unaffected.
    #[global_allocator]
    static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

    struct Rig {
        shared: Arc<Shared>,
        mic: HeapCons<i16>,
        speaker: HeapProd<i16>,
        alert: HeapProd<i16>,
    }

    fn rig(capacity: usize) -> Rig {
        let (mic_p, mic_c) = HeapRb::<i16>::new(capacity).split();
        let (spk_p, spk_c) = HeapRb::<i16>::new(capacity).split();
        let (alert_p, alert_c) = HeapRb::<i16>::new(capacity).split();
        Rig {
            shared: Arc::new(Shared::new(mic_p, spk_c, alert_c)),
            mic: mic_c,
            speaker: spk_p,
            alert: alert_p,
        }
    }

    #[test]
    fn capture_downmixes_stereo_and_converts_f32() {
        let mut r = rig(64);
        let mut cap = Capture::new(r.shared.clone(), 2, ENGINE_RATE);
        // L/R pairs: (0.5, 0.5) -> 0.5; (1.0, -1.0) -> 0.
        cap.process(&[0.5f32, 0.5, 1.0, -1.0]);
        let mut out = [0i16; 4];
        assert_eq!(r.mic.pop_slice(&mut out), 2);
        assert_eq!(&out[..2], &[16384, 0]);
    }

    #[test]
    fn capture_i16_mono_is_bit_exact() {
        let mut r = rig(64);
        let mut cap = Capture::new(r.shared.clone(), 1, ENGINE_RATE);
        let input = [i16::MIN, -1, 0, 1, 12345, i16::MAX];
        cap.process(&input);
        let mut out = [0i16; 6];
        assert_eq!(r.mic.pop_slice(&mut out), 6);
        assert_eq!(out, input);
    }

    #[test]
    fn capture_overrun_drops_newest_and_counts_once_per_callback() {
        let mut r = rig(4);
        let mut cap = Capture::new(r.shared.clone(), 1, ENGINE_RATE);
        cap.process(&[1i16, 2, 3]);
        assert_eq!(r.shared.meters.overruns.load(Ordering::Relaxed), 0);
        cap.process(&[4i16, 5, 6]); // only 4 fits
        assert_eq!(r.shared.meters.overruns.load(Ordering::Relaxed), 1);
        cap.process(&[7i16]); // full: dropped
        assert_eq!(r.shared.meters.overruns.load(Ordering::Relaxed), 2);
        let mut out = [0i16; 8];
        assert_eq!(r.mic.pop_slice(&mut out), 4);
        assert_eq!(&out[..4], &[1, 2, 3, 4]);
    }

    #[test]
    fn playback_underrun_counts_gaps_not_idle_callbacks() {
        let mut r = rig(64);
        let mut play = Playback::new(r.shared.clone(), Source::Speaker, 1, ENGINE_RATE);
        let mut buf = [0i16; 8];
        // Idle (nothing ever written): silence, no underrun.
        play.process(&mut buf);
        play.process(&mut buf);
        assert_eq!(r.shared.meters.underruns.load(Ordering::Relaxed), 0);
        // 4 samples for an 8-sample callback: the rest is silence and one gap is counted.
        assert_eq!(r.speaker.push_slice(&[100, 200, 300, 400]), 4);
        play.process(&mut buf);
        assert_eq!(buf, [100, 200, 300, 400, 0, 0, 0, 0]);
        assert_eq!(r.shared.meters.underruns.load(Ordering::Relaxed), 1);
        // Still empty: the same gap, not a new one.
        play.process(&mut buf);
        assert_eq!(buf, [0; 8]);
        assert_eq!(r.shared.meters.underruns.load(Ordering::Relaxed), 1);
        // Audio resumes and stops again: a second gap.
        assert_eq!(r.speaker.push_slice(&[1; 10]), 10);
        play.process(&mut buf);
        play.process(&mut buf);
        assert_eq!(r.shared.meters.underruns.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn playback_upmixes_to_every_channel_and_mixes_ring_alert() {
        let mut r = rig(64);
        let mut play = Playback::new(r.shared.clone(), Source::Speaker, 2, ENGINE_RATE);
        assert_eq!(r.speaker.push_slice(&[1000, 2000]), 2);
        assert_eq!(r.alert.push_slice(&[10, 20]), 2);
        let mut buf = [0i16; 4];
        play.process(&mut buf);
        assert_eq!(buf, [1010, 1010, 2020, 2020]);
        // With a separate ring device the output no longer touches the alert ring.
        r.shared.ring_separate.store(true, Ordering::Relaxed);
        assert_eq!(r.alert.push_slice(&[5]), 1);
        play.process(&mut buf);
        assert_eq!(buf, [0; 4]);
        assert_eq!(r.alert.occupied_len(), 1);
    }

    #[test]
    fn playback_clips_instead_of_wrapping() {
        let mut r = rig(8);
        let mut play = Playback::new(r.shared.clone(), Source::Speaker, 1, ENGINE_RATE);
        assert_eq!(r.speaker.push_slice(&[30000]), 1);
        assert_eq!(r.alert.push_slice(&[30000]), 1);
        let mut buf = [0f32; 1];
        play.process(&mut buf);
        assert!((buf[0] - i16_to_f32(i16::MAX)).abs() < 1e-6);
    }

    #[test]
    fn resamplers_keep_the_rate_ratio() {
        // 44.1 kHz -> 48 kHz: 4410 input samples give ~4800 outputs.
        let mut up = PushResampler::new(44_100, 48_000);
        let mut n = 0;
        for i in 0..4410 {
            up.push(0.25, &mut |y| {
                // The first input ramps up from the initial 0; after that a DC input stays DC.
                assert!(i == 0 || (y - 0.25).abs() < 1e-6, "{i}: {y}");
                n += 1;
            });
        }
        assert!((4799..=4801).contains(&n), "{n}");
        // 48 kHz -> 16 kHz when pulling: 1600 outputs consume ~4800 inputs.
        let mut down = PullResampler::new(48_000, 16_000);
        let mut pulled = 0;
        for _ in 0..1600 {
            down.next(&mut || {
                pulled += 1;
                0.0
            });
        }
        assert!((4797..=4800).contains(&pulled), "{pulled}");
    }

    #[test]
    fn levels_are_peak_dbfs_and_reset_on_read() {
        let mut r = rig(64);
        let mut cap = Capture::new(r.shared.clone(), 1, ENGINE_RATE);
        cap.process(&[16384i16, -8192]);
        let s = r.shared.meters.snapshot();
        assert!((s.input_level_dbfs - (-6.0206)).abs() < 0.01, "{s:?}");
        assert_eq!(s.output_level_dbfs, SILENCE_DBFS);
        assert_eq!(r.shared.meters.snapshot().input_level_dbfs, SILENCE_DBFS);
        let mut sink = [0i16; 2];
        assert_eq!(r.mic.pop_slice(&mut sink), 2);
        assert_eq!(peak_to_dbfs(32768), 0.0);
        assert_eq!(
            peak_to_dbfs(1),
            SILENCE_DBFS.max(20.0 * (1.0f32 / 32768.0).log10())
        );
    }

    #[test]
    fn callbacks_do_not_allocate() {
        let mut r = rig(4096);
        // Construction may allocate (it happens before the stream starts); processing may not.
        let mut cap = Capture::new(r.shared.clone(), 2, 44_100);
        let mut play = Playback::new(r.shared.clone(), Source::Speaker, 2, 44_100);
        let mut ring = Playback::new(r.shared.clone(), Source::RingAlert, 1, ENGINE_RATE);
        let input_f32 = [0.1f32; 960];
        let input_i16 = [1000i16; 960];
        let mut out_f32 = [0f32; 960];
        let mut out_i32 = [0i32; 960];
        assert_eq!(r.speaker.push_slice(&[500; 600]), 600);
        assert_eq!(r.alert.push_slice(&[50; 600]), 600);
        let mut pulled = [0i16; 4096];

        assert_no_alloc::reset_violation_count();
        assert_no_alloc::assert_no_alloc(|| {
            for _ in 0..3 {
                cap.process(&input_f32);
                cap.process(&input_i16);
                play.process(&mut out_f32);
                play.process(&mut out_i32);
                ring.process(&mut out_f32);
                // Overrun and underrun paths too.
                let _ = r.mic.pop_slice(&mut pulled);
            }
            for _ in 0..10 {
                cap.process(&input_f32);
                play.process(&mut out_f32);
            }
        });
        assert_eq!(
            assert_no_alloc::violation_count(),
            0,
            "a real-time callback allocated"
        );
        assert!(r.shared.meters.overruns.load(Ordering::Relaxed) > 0);
        assert!(r.shared.meters.underruns.load(Ordering::Relaxed) > 0);
    }
}
