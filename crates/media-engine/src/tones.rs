//! Call-progress tones (dial, ringback, busy, congestion, call waiting) per region, a pure
//! sample generator, in-band DTMF, and the Goertzel detector used to check them.
//!
//! The plans live in `assets/tones.toml`, compiled into the binary and parsed on first use.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Peak amplitude of a 0 dBm0 sine in 16-bit linear PCM: G.711's full-scale sine is
/// +3.17 dBm0, so 0 dBm0 sits 3.17 dB below 32767.
pub const DBM0_PEAK: f64 = 22_737.0;

/// The call-progress tones every region defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneKind {
    /// Dial tone (off-hook, nothing dialled).
    Dial,
    /// Ringback: the far end is ringing (180 without early media).
    Ringback,
    /// Busy (486).
    Busy,
    /// Congestion / reorder (503, no route).
    Congestion,
    /// Call waiting: a short beep over an active call.
    CallWaiting,
}

impl ToneKind {
    /// All tone kinds.
    pub const ALL: [ToneKind; 5] = [
        ToneKind::Dial,
        ToneKind::Ringback,
        ToneKind::Busy,
        ToneKind::Congestion,
        ToneKind::CallWaiting,
    ];
}

/// One tone: frequencies summed, switched on and off by a cadence.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TonePlan {
    /// Frequencies in Hz, summed.
    pub frequencies: Vec<u32>,
    /// Alternating on/off durations in ms, starting with "on"; empty = continuous.
    #[serde(default)]
    pub cadence_ms: Vec<u32>,
    /// Whether the cadence repeats; a one-shot tone is silent after its cadence.
    #[serde(default = "default_repeat")]
    pub repeat: bool,
    /// Level of each frequency in dBm0.
    #[serde(default = "default_level")]
    pub level_dbm0: f64,
}

fn default_repeat() -> bool {
    true
}

fn default_level() -> f64 {
    -13.0
}

/// The five tones of one region.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionTones {
    /// Dial tone.
    pub dial: TonePlan,
    /// Ringback tone.
    pub ringback: TonePlan,
    /// Busy tone.
    pub busy: TonePlan,
    /// Congestion (reorder) tone.
    pub congestion: TonePlan,
    /// Call-waiting tone.
    pub call_waiting: TonePlan,
}

impl RegionTones {
    /// The plan for one tone kind.
    #[must_use]
    pub fn get(&self, kind: ToneKind) -> &TonePlan {
        match kind {
            ToneKind::Dial => &self.dial,
            ToneKind::Ringback => &self.ringback,
            ToneKind::Busy => &self.busy,
            ToneKind::Congestion => &self.congestion,
            ToneKind::CallWaiting => &self.call_waiting,
        }
    }
}

/// A table of regions (`us`, `etsi`, `uk`, ...), keyed by the region name used in config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct ToneTable {
    /// Regions by name.
    pub regions: BTreeMap<String, RegionTones>,
}

/// Errors of tone tables.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ToneError {
    /// The TOML did not parse or did not match the schema.
    #[error("tone table: {0}")]
    Parse(String),
    /// A plan is unusable (no frequency, a frequency above Nyquist at 8 kHz, ...).
    #[error("tone table: region {region}: {reason}")]
    Invalid {
        /// The region name.
        region: String,
        /// What is wrong.
        reason: String,
    },
    /// The region is not in the table.
    #[error("unknown tone region {0:?}")]
    UnknownRegion(String),
}

impl ToneTable {
    /// Parses and validates a table in the `assets/tones.toml` format.
    ///
    /// # Errors
    /// [`ToneError::Parse`] or [`ToneError::Invalid`].
    pub fn parse(text: &str) -> Result<Self, ToneError> {
        let table: ToneTable = toml::from_str(text).map_err(|e| ToneError::Parse(e.to_string()))?;
        for (name, region) in &table.regions {
            for kind in ToneKind::ALL {
                let plan = region.get(kind);
                let invalid = |reason: &str| ToneError::Invalid {
                    region: name.clone(),
                    reason: format!("{kind:?}: {reason}"),
                };
                if plan.frequencies.is_empty() {
                    return Err(invalid("no frequency"));
                }
                if plan.frequencies.iter().any(|&f| f == 0 || f >= 4000) {
                    return Err(invalid("frequency must be in 1..4000 Hz"));
                }
                if plan.cadence_ms.contains(&0) && plan.cadence_ms.len() == 1 {
                    return Err(invalid("zero-length cadence"));
                }
                if !(-60.0..=3.0).contains(&plan.level_dbm0) {
                    return Err(invalid("level outside -60..=3 dBm0"));
                }
            }
        }
        Ok(table)
    }

    /// The built-in table from `assets/tones.toml`, parsed once.
    ///
    /// # Errors
    /// Only if the compiled-in asset is broken (a test guards against that).
    pub fn builtin() -> Result<&'static ToneTable, ToneError> {
        static TABLE: OnceLock<Result<ToneTable, ToneError>> = OnceLock::new();
        TABLE
            .get_or_init(|| ToneTable::parse(include_str!("../../../assets/tones.toml")))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The tones of one region.
    ///
    /// # Errors
    /// [`ToneError::UnknownRegion`].
    pub fn region(&self, name: &str) -> Result<&RegionTones, ToneError> {
        self.regions
            .get(&name.to_ascii_lowercase())
            .ok_or_else(|| ToneError::UnknownRegion(name.to_owned()))
    }
}

/// Looks up a built-in plan: `tone_plan("us", ToneKind::Ringback)`.
///
/// # Errors
/// [`ToneError::UnknownRegion`] for a region not in `assets/tones.toml`.
pub fn tone_plan(region: &str, kind: ToneKind) -> Result<&'static TonePlan, ToneError> {
    Ok(ToneTable::builtin()?.region(region)?.get(kind))
}

/// A pure, phase-continuous, sample-exact tone generator.
///
/// Sample `n` (counted from creation) is `Σ A·sin(2π·f·n/rate)` while the cadence is "on" and 0
/// while it is "off". Because the phase is computed from the absolute sample index with integer
/// arithmetic (`f·n mod rate`), it never drifts, and filling in chunks of any size yields exactly
/// the same samples as one big fill. Cadence boundaries are rounded once from cumulative
/// milliseconds, so they never accumulate rounding error either.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    frequencies: Vec<u32>,
    amplitude: f64,
    sample_rate: u32,
    /// Cumulative end (exclusive, in samples) of each cadence segment within one period.
    boundaries: Vec<u64>,
    repeat: bool,
    /// Samples produced so far.
    position: u64,
}

impl ToneGenerator {
    /// Creates a generator for `plan` at `sample_rate` Hz (e.g. 8000 or 48000).
    #[must_use]
    pub fn new(plan: &TonePlan, sample_rate: u32) -> Self {
        let rate = u64::from(sample_rate.max(1));
        let mut cumulative_ms = 0u64;
        let boundaries = plan
            .cadence_ms
            .iter()
            .map(|&ms| {
                cumulative_ms += u64::from(ms);
                (cumulative_ms * rate + 500) / 1000
            })
            .collect();
        Self {
            frequencies: plan.frequencies.clone(),
            amplitude: DBM0_PEAK * 10f64.powf(plan.level_dbm0 / 20.0),
            sample_rate: sample_rate.max(1),
            boundaries,
            repeat: plan.repeat,
            position: 0,
        }
    }

    /// An in-band DTMF digit (`0-9`, `*`, `#`, `A-D`) for `duration_ms`, at -7 dBm0 (high) /
    /// -9 dBm0 (low) as is usual for DTMF; `None` for an unknown digit.
    #[must_use]
    pub fn dtmf(digit: char, duration_ms: u32, sample_rate: u32) -> Option<Self> {
        let (low, high) = dtmf_frequencies(digit)?;
        let mut generator = Self::new(
            &TonePlan {
                frequencies: vec![low, high],
                cadence_ms: vec![duration_ms],
                repeat: false,
                level_dbm0: -8.0,
            },
            sample_rate,
        );
        generator.amplitude = DBM0_PEAK * 10f64.powf(-8.0 / 20.0);
        Some(generator)
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        let rate = u64::from(self.sample_rate);
        for sample in out.iter_mut() {
            *sample = if self.is_on_at(self.position) {
                let n = self.position % rate;
                let mut v = 0.0;
                for &f in &self.frequencies {
                    let phase = (u64::from(f) * n) % rate;
                    v += (std::f64::consts::TAU * phase as f64 / rate as f64).sin();
                }
                (v * self.amplitude).round().clamp(-32768.0, 32767.0) as i16
            } else {
                0
            };
            self.position += 1;
        }
    }

    /// Whether sample `n` (counted from creation) lies in an "on" segment.
    #[must_use]
    pub fn is_on_at(&self, n: u64) -> bool {
        let Some(&period) = self.boundaries.last() else {
            return true; // continuous
        };
        if period == 0 {
            return true;
        }
        let t = if self.repeat {
            n % period
        } else if n >= period {
            return false;
        } else {
            n
        };
        // Segment index i is "on" for even i.
        let segment = self.boundaries.partition_point(|&end| end <= t);
        segment % 2 == 0
    }

    /// True once a one-shot tone has played its whole cadence.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        !self.repeat
            && self
                .boundaries
                .last()
                .is_some_and(|&end| self.position >= end)
    }

    /// Samples produced so far.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The sample indices (within one period) where cadence segments end.
    #[must_use]
    pub fn boundaries(&self) -> &[u64] {
        &self.boundaries
    }
}

/// The (low, high) frequency pair of a DTMF digit.
#[must_use]
pub fn dtmf_frequencies(digit: char) -> Option<(u32, u32)> {
    const LOW: [u32; 4] = [697, 770, 852, 941];
    const HIGH: [u32; 4] = [1209, 1336, 1477, 1633];
    let (row, col) = match digit.to_ascii_uppercase() {
        '1' => (0, 0),
        '2' => (0, 1),
        '3' => (0, 2),
        'A' => (0, 3),
        '4' => (1, 0),
        '5' => (1, 1),
        '6' => (1, 2),
        'B' => (1, 3),
        '7' => (2, 0),
        '8' => (2, 1),
        '9' => (2, 2),
        'C' => (2, 3),
        '*' => (3, 0),
        '0' => (3, 1),
        '#' => (3, 2),
        'D' => (3, 3),
        _ => return None,
    };
    Some((LOW[row], HIGH[col]))
}

/// Goertzel power of `freq` Hz in `samples` at `sample_rate` Hz.
///
/// Normalised as the mean-square power of that sinusoidal component: a sine of peak amplitude
/// `A` at exactly `freq` gives `A²/2` (for a whole number of periods), whatever the length.
/// The frequency need not fall on a DFT bin. Returns 0 for an empty input.
#[must_use]
pub fn goertzel(samples: &[i16], sample_rate: u32, freq: f64) -> f64 {
    if samples.is_empty() || sample_rate == 0 {
        return 0.0;
    }
    let omega = std::f64::consts::TAU * freq / f64::from(sample_rate);
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let magnitude_sq = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = samples.len() as f64;
    2.0 * magnitude_sq / (n * n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(region: &str, kind: ToneKind) -> (Vec<u32>, Vec<u32>, bool) {
        use ToneKind::*;
        match (region, kind) {
            ("us", Dial) => (vec![350, 440], vec![], true),
            ("us", Ringback) => (vec![440, 480], vec![2000, 4000], true),
            ("us", Busy) => (vec![480, 620], vec![500, 500], true),
            ("us", Congestion) => (vec![480, 620], vec![250, 250], true),
            ("us", CallWaiting) => (vec![440], vec![300], false),
            ("etsi", Dial) => (vec![425], vec![], true),
            ("etsi", Ringback) => (vec![425], vec![1000, 4000], true),
            ("etsi", Busy) => (vec![425], vec![500, 500], true),
            ("etsi", Congestion) => (vec![425], vec![250, 250], true),
            ("etsi", CallWaiting) => (vec![425], vec![200, 200, 200], false),
            ("uk", Dial) => (vec![350, 450], vec![], true),
            ("uk", Ringback) => (vec![400, 450], vec![400, 200, 400, 2000], true),
            ("uk", Busy) => (vec![400], vec![375, 375], true),
            ("uk", Congestion) => (vec![400], vec![400, 350, 225, 525], true),
            ("uk", CallWaiting) => (vec![400], vec![100], false),
            _ => unreachable!("test table covers all regions"),
        }
    }

    #[test]
    fn builtin_table_matches_the_specification() {
        let table = ToneTable::builtin().expect("asset parses");
        assert_eq!(
            table.regions.keys().collect::<Vec<_>>(),
            vec!["etsi", "uk", "us"]
        );
        for region in ["us", "etsi", "uk"] {
            for kind in ToneKind::ALL {
                let plan = tone_plan(region, kind).expect("region exists");
                let (freqs, cadence, repeat) = expected(region, kind);
                assert_eq!(plan.frequencies, freqs, "{region} {kind:?}");
                assert_eq!(plan.cadence_ms, cadence, "{region} {kind:?}");
                assert_eq!(plan.repeat, repeat, "{region} {kind:?}");
                assert!((plan.level_dbm0 + 13.0).abs() < 1e-9);
            }
        }
        assert!(matches!(
            tone_plan("mars", ToneKind::Dial),
            Err(ToneError::UnknownRegion(_))
        ));
    }

    /// Every (region, tone) at 8 and 48 kHz: on-segments contain exactly the plan's frequencies,
    /// off-segments are digital silence, and boundaries are exact to the sample.
    #[test]
    fn every_tone_has_its_frequencies_and_exact_cadence() {
        let probe_freqs = [350.0, 400.0, 425.0, 440.0, 450.0, 480.0, 620.0, 1000.0];
        for rate in [8000u32, 48000] {
            for region in ["us", "etsi", "uk"] {
                for kind in ToneKind::ALL {
                    let plan = tone_plan(region, kind).expect("region exists");
                    let mut generator = ToneGenerator::new(plan, rate);
                    // Two periods (or 3 s for continuous/one-shot), filled in odd chunks.
                    let period_ms: u32 = plan.cadence_ms.iter().sum();
                    let total_ms = if plan.repeat && period_ms > 0 {
                        2 * period_ms
                    } else {
                        3000
                    };
                    let total = (u64::from(total_ms) * u64::from(rate) / 1000) as usize;
                    let mut samples = vec![0i16; total];
                    for chunk in samples.chunks_mut(97) {
                        generator.fill(chunk);
                    }
                    // The same samples in one go: chunking does not matter.
                    let mut whole = vec![0i16; total];
                    ToneGenerator::new(plan, rate).fill(&mut whole);
                    assert_eq!(samples, whole);

                    let segments = segments(plan, rate, total as u64);
                    let amp = DBM0_PEAK * 10f64.powf(-13.0 / 20.0);
                    let full = amp * amp / 2.0;
                    for (start, end, on) in segments {
                        let (s, e) = (start as usize, end as usize);
                        let part = &samples[s..e];
                        if on {
                            for &f in &probe_freqs {
                                let p = goertzel(part, rate, f);
                                if plan.frequencies.contains(&(f as u32)) {
                                    assert!(p > 0.8 * full, "{region} {kind:?} {f} Hz on: {p}");
                                } else {
                                    assert!(p < 0.05 * full, "{region} {kind:?} {f} Hz leak: {p}");
                                }
                            }
                            // Sample-exact edges: sound right at the start and the end...
                            assert!(part[..3].iter().any(|&x| x != 0), "{region} {kind:?} start");
                            assert!(part[part.len() - 3..].iter().any(|&x| x != 0));
                        } else {
                            // ...and digital silence everywhere off.
                            assert!(part.iter().all(|&x| x == 0), "{region} {kind:?} off");
                        }
                    }
                }
            }
        }
    }

    /// (start, end, on) segments of a plan over `total` samples, computed independently.
    fn segments(plan: &TonePlan, rate: u32, total: u64) -> Vec<(u64, u64, bool)> {
        if plan.cadence_ms.is_empty() {
            return vec![(0, total, true)];
        }
        let mut out = Vec::new();
        let mut t_ms = 0u64;
        let mut i = 0usize;
        loop {
            let idx = i % plan.cadence_ms.len();
            if !plan.repeat && i >= plan.cadence_ms.len() {
                let start = t_ms * u64::from(rate) / 1000;
                if start < total {
                    out.push((start, total, false));
                }
                break;
            }
            let start = t_ms * u64::from(rate) / 1000;
            t_ms += u64::from(plan.cadence_ms[idx]);
            let end = (t_ms * u64::from(rate) / 1000).min(total);
            if start >= total {
                break;
            }
            out.push((start, end, idx.is_multiple_of(2)));
            i += 1;
        }
        out
    }

    #[test]
    fn phase_is_continuous_across_fills() {
        let plan = tone_plan("etsi", ToneKind::Dial).expect("etsi");
        let mut g = ToneGenerator::new(plan, 8000);
        let mut a = [0i16; 160];
        let mut b = [0i16; 160];
        g.fill(&mut a);
        g.fill(&mut b);
        // The step between the last sample of one frame and the first of the next is no larger
        // than the largest step inside a frame.
        let max_step = a.windows(2).map(|w| (w[1] - w[0]).abs()).max().unwrap_or(0);
        assert!((b[0] - a[159]).abs() <= max_step);
    }

    #[test]
    fn one_shot_finishes_and_dtmf_digits_are_detectable() {
        let plan = tone_plan("us", ToneKind::CallWaiting).expect("us");
        let mut g = ToneGenerator::new(plan, 8000);
        let mut buf = vec![0i16; 2400];
        g.fill(&mut buf);
        assert!(g.is_finished());
        assert!(buf.iter().any(|&x| x != 0));
        g.fill(&mut buf);
        assert!(buf.iter().all(|&x| x == 0));

        let mut d = ToneGenerator::dtmf('5', 100, 8000).expect("valid digit");
        let mut buf = vec![0i16; 800];
        d.fill(&mut buf);
        assert!(goertzel(&buf, 8000, 770.0) > 1e6);
        assert!(goertzel(&buf, 8000, 1336.0) > 1e6);
        assert!(goertzel(&buf, 8000, 697.0) < 1e5);
        assert!(ToneGenerator::dtmf('x', 100, 8000).is_none());
    }

    #[test]
    fn goertzel_normalisation() {
        let s: Vec<i16> = (0..8000)
            .map(|i| {
                (1000.0 * (std::f64::consts::TAU * 1000.0 * f64::from(i) / 8000.0).sin()) as i16
            })
            .collect();
        let p = goertzel(&s, 8000, 1000.0);
        assert!((p - 500_000.0).abs() < 5_000.0, "{p}");
        assert_eq!(goertzel(&[], 8000, 1000.0), 0.0);
    }
}
