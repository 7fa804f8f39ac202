//! A minimal WAV (RIFF, 16-bit PCM mono) writer for call recordings; sizes are patched in when
//! the recording finishes.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use media_engine::resample::Resampler;

/// Writes 16-bit mono PCM to a WAV file.
pub(crate) struct WavWriter {
    file: BufWriter<File>,
    samples: u32,
    /// The file's rate, fixed by its header.
    rate: u32,
    /// Audio that comes at another rate (a call whose codec runs band-limited in a bridge)
    /// goes through this, made for that rate.
    resampler: Option<(u32, Resampler)>,
    resampled: Vec<i16>,
}

impl WavWriter {
    /// Creates the file and writes a header with zero lengths.
    pub(crate) fn create(path: &Path, rate: u32) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = BufWriter::new(File::create(path)?);
        file.write_all(&header(rate, 0))?;
        Ok(Self {
            file,
            samples: 0,
            rate,
            resampler: None,
            resampled: Vec::new(),
        })
    }

    /// Appends one 20 ms frame at `rate`, converted to the file's rate when they differ.
    pub(crate) fn write_frame(&mut self, pcm: &[i16], rate: u32) -> std::io::Result<()> {
        if rate == self.rate {
            return self.write(pcm);
        }
        let invalid = |e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        let resampler = match &mut self.resampler {
            Some((from, resampler)) if *from == rate => resampler,
            slot => {
                let resampler = Resampler::new(rate, self.rate, 20).map_err(invalid)?;
                &mut slot.insert((rate, resampler)).1
            }
        };
        let mut out = std::mem::take(&mut self.resampled);
        out.clear();
        let result = resampler
            .process(pcm, &mut out)
            .map_err(invalid)
            .and_then(|()| self.write(&out));
        self.resampled = out;
        result
    }

    /// Appends samples.
    pub(crate) fn write(&mut self, pcm: &[i16]) -> std::io::Result<()> {
        for s in pcm {
            self.file.write_all(&s.to_le_bytes())?;
        }
        self.samples = self.samples.saturating_add(pcm.len() as u32);
        Ok(())
    }

    /// Patches the lengths into the header and closes the file.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        let data = self.samples.saturating_mul(2);
        self.file.flush()?;
        let file = self.file.get_mut();
        file.seek(SeekFrom::Start(4))?;
        file.write_all(&(36u32.saturating_add(data)).to_le_bytes())?;
        file.seek(SeekFrom::Start(40))?;
        file.write_all(&data.to_le_bytes())?;
        file.flush()
    }
}

fn header(rate: u32, data_len: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data_len).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_at_another_rate_are_converted_to_the_files_rate() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("call.wav");
        let mut wav = WavWriter::create(&path, 48000)?;
        // Half a second of 1 kHz at 8 kHz (a band-limited Opus leg), 20 ms at a time.
        let tone: Vec<i16> = (0..4000)
            .map(|n| {
                (8000.0 * (std::f64::consts::TAU * 1000.0 * f64::from(n) / 8000.0).sin()) as i16
            })
            .collect();
        for frame in tone.chunks(160) {
            wav.write_frame(frame, 8000)?;
        }
        wav.finish()?;
        let bytes = std::fs::read(&path)?;
        assert_eq!(
            u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]),
            48000
        );
        let samples: Vec<i16> = bytes[44..]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(
            samples.len(),
            6 * 4000,
            "every frame written at the file's rate"
        );
        let tail = &samples[samples.len() - 9600..];
        let at = media_engine::goertzel(tail, 48000, 1000.0);
        let off = media_engine::goertzel(tail, 48000, 1500.0)
            + media_engine::goertzel(tail, 48000, 6000.0);
        assert!(at > 100.0 * off, "1 kHz {at} against {off}");
        Ok(())
    }
}
