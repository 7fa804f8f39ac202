//! Sample-rate conversion between the audio device rate and the codec rate, on `rubato`.
//!
//! Each direction of a call owns one [`Resampler`] that turns one 20 ms frame at the input rate
//! into one 20 ms frame at the output rate (rubato's synchronous FFT resampler with both chunk
//! sizes fixed). The FFT resampler has a fixed group delay of [`Resampler::delay`] output
//! samples; that is acceptable for voice and is reported so the runtime can account for it.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

/// Errors of resampling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    /// The rates or frame size cannot be resampled frame by frame (e.g. a 0 Hz rate, or a
    /// frame duration that is not a whole number of samples at both rates).
    #[error("unsupported resampling {from} Hz -> {to} Hz with {frame_ms} ms frames")]
    Unsupported {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// Frame duration.
        frame_ms: u32,
    },
    /// The input frame does not have `input_frames()` samples (caller misuse).
    #[error("frame has {got} samples, expected {expected}")]
    FrameSize {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// rubato reported an error.
    #[error("rubato: {0}")]
    Rubato(String),
}

/// A mono, frame-by-frame resampler. Same rate in and out is a copy.
pub struct Resampler {
    inner: Option<Fft<f32>>,
    input_frames: usize,
    output_frames: usize,
    in_buf: Vec<f32>,
    out_buf: Vec<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("input_frames", &self.input_frames)
            .field("output_frames", &self.output_frames)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    /// Creates a resampler from `from` Hz to `to` Hz for frames of `frame_ms` milliseconds
    /// (20 for RTP audio). Device rates such as 44100 work with 20 ms (882 samples).
    ///
    /// # Errors
    /// [`ResampleError::Unsupported`] when a frame is not a whole number of samples at either
    /// rate, or rubato rejects the configuration.
    pub fn new(from: u32, to: u32, frame_ms: u32) -> Result<Self, ResampleError> {
        let unsupported = ResampleError::Unsupported { from, to, frame_ms };
        let samples = |rate: u32| -> Option<usize> {
            let total = u64::from(rate) * u64::from(frame_ms);
            (rate > 0 && frame_ms > 0 && total % 1000 == 0).then_some((total / 1000) as usize)
        };
        let (Some(input_frames), Some(output_frames)) = (samples(from), samples(to)) else {
            return Err(unsupported);
        };
        let inner = if from == to {
            None
        } else {
            let fft = Fft::<f32>::new(
                from as usize,
                to as usize,
                input_frames,
                1,
                1,
                FixedSync::Both,
            )
            .map_err(|e| ResampleError::Rubato(e.to_string()))?;
            if fft.input_frames_next() != input_frames || fft.output_frames_next() != output_frames
            {
                return Err(unsupported);
            }
            Some(fft)
        };
        Ok(Self {
            inner,
            input_frames,
            output_frames,
            in_buf: vec![0.0; input_frames],
            out_buf: vec![0.0; output_frames],
        })
    }

    /// Samples per input frame.
    #[must_use]
    pub fn input_frames(&self) -> usize {
        self.input_frames
    }

    /// Samples per output frame.
    #[must_use]
    pub fn output_frames(&self) -> usize {
        self.output_frames
    }

    /// Group delay in output samples (0 when the rates are equal).
    #[must_use]
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Resamples one frame, appending `output_frames()` samples to `out`.
    ///
    /// # Errors
    /// [`ResampleError::FrameSize`] if `input` is not `input_frames()` long.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) -> Result<(), ResampleError> {
        if input.len() != self.input_frames {
            return Err(ResampleError::FrameSize {
                expected: self.input_frames,
                got: input.len(),
            });
        }
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            return Ok(());
        };
        for (dst, &src) in self.in_buf.iter_mut().zip(input) {
            *dst = f32::from(src) / 32768.0;
        }
        let rubato_err = |e: &dyn std::fmt::Display| ResampleError::Rubato(e.to_string());
        let adapter_in = InterleavedSlice::new(&self.in_buf[..], 1, self.input_frames)
            .map_err(|e| rubato_err(&e))?;
        let mut adapter_out =
            InterleavedSlice::new_mut(&mut self.out_buf[..], 1, self.output_frames)
                .map_err(|e| rubato_err(&e))?;
        let (_, produced) = inner
            .process_into_buffer(&adapter_in, &mut adapter_out, None)
            .map_err(|e| rubato_err(&e))?;
        out.extend(
            self.out_buf[..produced]
                .iter()
                .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tones::goertzel;

    fn tone(rate: u32, freq: f64, n: usize, offset: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = (i + offset) as f64 / f64::from(rate);
                (8000.0 * (std::f64::consts::TAU * freq * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn down_and_up_keep_a_tone() {
        for (from, to) in [
            (48000, 8000),
            (8000, 48000),
            (44100, 8000),
            (16000, 48000),
            (8000, 8000),
        ] {
            let mut r = Resampler::new(from, to, 20).expect("supported");
            let n_in = r.input_frames();
            let mut out = Vec::new();
            for f in 0..25 {
                r.process(&tone(from, 1000.0, n_in, f * n_in), &mut out)
                    .expect("frame");
            }
            assert_eq!(out.len(), 25 * r.output_frames());
            // Skip the start-up delay, then the tone is there at full level and alone.
            let steady = &out[out.len() / 2..];
            let p = goertzel(steady, to, 1000.0);
            assert!(p > 0.8 * 8000.0 * 8000.0 / 2.0, "{from}->{to}: {p}");
            assert!(goertzel(steady, to, 2500.0) < 0.01 * p);
        }
    }

    #[test]
    fn rejects_bad_frames() {
        assert!(Resampler::new(0, 8000, 20).is_err());
        assert!(Resampler::new(44100, 8000, 1).is_err());
        let mut r = Resampler::new(48000, 8000, 20).expect("supported");
        assert!(matches!(
            r.process(&[0; 10], &mut Vec::new()),
            Err(ResampleError::FrameSize { .. })
        ));
    }
}
