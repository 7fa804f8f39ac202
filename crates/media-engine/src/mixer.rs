//! The bridge: an N-way mix-minus over 20 ms frames, as a pure function.
//!
//! Every call leg, and the console's own headset, is a participant. Each participant hears the
//! sum of all *other* participants; a listener (for example a supervisor listening in, or a
//! recorder) is an output whose id is not among the inputs, so it hears everyone and nobody
//! hears it. All frames must have the same length and rate: resample before mixing.

/// Identifies a participant of a bridge (a call leg, the console's headset, a recorder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u32);

/// Errors of mixing (caller misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MixError {
    /// An input or output frame has a different length than the first input.
    #[error("frame of {participant:?} has {got} samples, expected {expected}")]
    LengthMismatch {
        /// Which participant.
        participant: ParticipantId,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
}

/// Samples per chunk of the on-stack accumulator (no allocation per frame).
const CHUNK: usize = 256;

/// Mixes one frame. `inputs` are what each participant said this frame; for every
/// `(id, buffer)` in `outputs`, `buffer` receives the saturating sum of all inputs whose id is
/// not `id`. An output id that has no input is a listener and hears every input.
///
/// Cost is O(samples × (inputs + outputs)), with no allocation.
///
/// # Errors
/// [`MixError::LengthMismatch`] if frames differ in length (nothing is written then).
pub fn mix(
    inputs: &[(ParticipantId, &[i16])],
    outputs: &mut [(ParticipantId, &mut [i16])],
) -> Result<(), MixError> {
    let expected = inputs
        .first()
        .map(|(_, f)| f.len())
        .or_else(|| outputs.first().map(|(_, f)| f.len()))
        .unwrap_or(0);
    let lengths = inputs
        .iter()
        .map(|(id, f)| (*id, f.len()))
        .chain(outputs.iter().map(|(id, f)| (*id, f.len())));
    for (participant, got) in lengths {
        if got != expected {
            return Err(MixError::LengthMismatch {
                participant,
                expected,
                got,
            });
        }
    }
    let mut total = [0i32; CHUNK];
    let mut start = 0;
    while start < expected {
        let end = (start + CHUNK).min(expected);
        let total = &mut total[..end - start];
        total.fill(0);
        for (_, frame) in inputs {
            for (acc, &s) in total.iter_mut().zip(&frame[start..end]) {
                *acc += i32::from(s);
            }
        }
        for (id, out) in outputs.iter_mut() {
            let out = &mut out[start..end];
            out.iter_mut()
                .zip(total.iter())
                .for_each(|(o, &t)| *o = saturate(t));
            // Mix-minus: take each of this participant's own inputs back out of the exact sum.
            for (_, own) in inputs.iter().filter(|(input_id, _)| input_id == id) {
                for ((o, &t), &s) in out.iter_mut().zip(total.iter()).zip(&own[start..end]) {
                    *o = saturate(t - i32::from(s));
                }
            }
        }
        start = end;
    }
    Ok(())
}

fn saturate(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tones::goertzel;

    fn tone(freq: f64, amp: f64) -> Vec<i16> {
        (0..160)
            .map(|i| (amp * (std::f64::consts::TAU * freq * f64::from(i) / 8000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn two_legs_hear_each_other_and_the_listener_hears_both() {
        let (a, b, console) = (ParticipantId(1), ParticipantId(2), ParticipantId(99));
        let ta = tone(400.0, 5000.0);
        let tb = tone(1000.0, 5000.0);
        let (mut oa, mut ob, mut oc) = (vec![0i16; 160], vec![0i16; 160], vec![0i16; 160]);
        mix(
            &[(a, &ta), (b, &tb)],
            &mut [(a, &mut oa), (b, &mut ob), (console, &mut oc)],
        )
        .expect("same lengths");
        let full = 5000.0 * 5000.0 / 2.0;
        let hears = |o: &[i16], f: f64| goertzel(o, 8000, f) > 0.8 * full;
        let silent = |o: &[i16], f: f64| goertzel(o, 8000, f) < 0.01 * full;
        assert!(hears(&oa, 1000.0) && silent(&oa, 400.0), "A hears only B");
        assert!(hears(&ob, 400.0) && silent(&ob, 1000.0), "B hears only A");
        assert!(
            hears(&oc, 400.0) && hears(&oc, 1000.0),
            "the listener hears both"
        );
        assert_eq!(oa, tb);
        assert_eq!(ob, ta);
    }

    #[test]
    fn three_way_conference_is_mix_minus() {
        let ids = [ParticipantId(1), ParticipantId(2), ParticipantId(3)];
        let frames = [
            tone(400.0, 3000.0),
            tone(700.0, 3000.0),
            tone(1100.0, 3000.0),
        ];
        let mut outs = vec![vec![0i16; 160]; 3];
        let inputs: Vec<(ParticipantId, &[i16])> = ids
            .iter()
            .zip(&frames)
            .map(|(id, f)| (*id, f.as_slice()))
            .collect();
        let mut outputs: Vec<(ParticipantId, &mut [i16])> = ids
            .iter()
            .zip(outs.iter_mut())
            .map(|(id, o)| (*id, o.as_mut_slice()))
            .collect();
        mix(&inputs, &mut outputs).expect("same lengths");
        let freqs = [400.0, 700.0, 1100.0];
        for (i, out) in outs.iter().enumerate() {
            for (j, f) in freqs.iter().enumerate() {
                let p = goertzel(out, 8000, *f);
                if i == j {
                    assert!(p < 1000.0, "{i} hears itself: {p}");
                } else {
                    assert!(p > 3_000_000.0, "{i} misses {j}: {p}");
                }
            }
        }
    }

    #[test]
    fn clipping_saturates_and_lengths_are_checked() {
        let (a, b, c, l) = (
            ParticipantId(1),
            ParticipantId(2),
            ParticipantId(3),
            ParticipantId(4),
        );
        let loud = vec![30000i16; 300];
        let quiet = vec![-30000i16; 300];
        let mut out_a = vec![0i16; 300];
        let mut out_l = vec![0i16; 300];
        mix(
            &[(a, &loud), (b, &loud), (c, &loud)],
            &mut [(a, &mut out_a), (l, &mut out_l)],
        )
        .expect("same lengths");
        assert!(out_a.iter().all(|&s| s == i16::MAX));
        assert!(out_l.iter().all(|&s| s == i16::MAX));
        mix(
            &[(a, &quiet), (b, &quiet), (c, &quiet)],
            &mut [(l, &mut out_l)],
        )
        .expect("ok");
        assert!(out_l.iter().all(|&s| s == i16::MIN));
        let short = vec![0i16; 10];
        assert!(matches!(
            mix(&[(a, &loud), (b, &short)], &mut [(a, &mut out_a)]),
            Err(MixError::LengthMismatch {
                participant: ParticipantId(2),
                ..
            })
        ));
        // No inputs: outputs get silence.
        mix(&[], &mut [(l, &mut out_l)]).expect("ok");
        assert!(out_l.iter().all(|&s| s == 0));
    }
}
