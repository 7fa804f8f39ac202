//! Audio codecs behind one trait: G.711 µ-law/A-law (with waveform-repetition PLC) and Opus
//! (libopus through the `opus` crate, with in-band FEC and PLC).

use crate::g711;

/// The codecs Switchboard negotiates, in no particular order (preference lives in
/// [`crate::sdp::LocalCapabilities`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// G.711 µ-law, static payload type 0, 8 kHz.
    Pcmu,
    /// G.711 A-law, static payload type 8, 8 kHz.
    Pcma,
    /// Opus (RFC 7587), dynamic payload type, 48 kHz RTP clock, mono here.
    Opus,
}

impl CodecKind {
    /// All codecs we implement, in our default preference order.
    pub const ALL: [CodecKind; 3] = [CodecKind::Opus, CodecKind::Pcmu, CodecKind::Pcma];

    /// The static RTP payload type (RFC 3551), or `None` for dynamic codecs.
    #[must_use]
    pub const fn static_payload_type(self) -> Option<u8> {
        match self {
            CodecKind::Pcmu => Some(0),
            CodecKind::Pcma => Some(8),
            CodecKind::Opus => None,
        }
    }

    /// The payload type we use when we make the offer.
    #[must_use]
    pub const fn default_payload_type(self) -> u8 {
        match self {
            CodecKind::Pcmu => 0,
            CodecKind::Pcma => 8,
            CodecKind::Opus => 111,
        }
    }

    /// The encoding name of the `a=rtpmap` line (compared case-insensitively).
    #[must_use]
    pub const fn encoding_name(self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
            CodecKind::Opus => "opus",
        }
    }

    /// The RTP clock rate in Hz.
    #[must_use]
    pub const fn clock_rate(self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma => 8000,
            CodecKind::Opus => 48000,
        }
    }

    /// The channel count written in `a=rtpmap` (RFC 7587 requires `opus/48000/2`).
    #[must_use]
    pub const fn rtpmap_channels(self) -> Option<u8> {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma => None,
            CodecKind::Opus => Some(2),
        }
    }

    /// Samples (per channel) in one 20 ms frame at the codec's clock rate.
    #[must_use]
    pub const fn samples_per_frame(self) -> usize {
        (self.clock_rate() / 50) as usize
    }

    /// Creates a fresh encoder/decoder pair for this codec.
    ///
    /// # Errors
    /// [`CodecError::Opus`] if libopus refuses to create its state (out of memory).
    pub fn new_codec(self) -> Result<Box<dyn AudioCodec>, CodecError> {
        Ok(match self {
            CodecKind::Pcmu => Box::new(G711Codec::new(G711Law::MuLaw)),
            CodecKind::Pcma => Box::new(G711Codec::new(G711Law::ALaw)),
            CodecKind::Opus => Box::new(OpusCodec::new()?),
        })
    }
}

/// Errors of encoding and decoding. Peer misbehaviour (a corrupt payload) is
/// [`CodecError::Opus`] on decode; caller misuse (a wrong frame size) is
/// [`CodecError::FrameSize`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The PCM frame given to `encode` does not have `samples_per_frame()` samples.
    #[error("frame has {got} samples, the codec needs {expected}")]
    FrameSize {
        /// Samples the codec expects per frame.
        expected: usize,
        /// Samples that were given.
        got: usize,
    },
    /// A received packet had an empty payload (a peer fault; conceal instead).
    #[error("empty payload")]
    EmptyPayload,
    /// libopus reported an error (corrupt packet on decode, bad state on encode).
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
}

/// One audio codec instance: an encoder and a decoder for one call leg.
///
/// The media task calls `encode` once per 20 ms frame it sends and, per frame it plays, either
/// `decode` (a packet is there), `decode_fec` (this frame was lost but the next packet is
/// there), or `conceal` (nothing to go on).
///
/// Two rates: the RTP clock ([`AudioCodec::clock_rate`], what timestamps count) and the PCM
/// rate ([`AudioCodec::pcm_rate`], what `encode` takes and the decoders give). They are the same
/// except for Opus told a band limit, whose PCM may run below its fixed 48 kHz RTP clock.
pub trait AudioCodec: Send {
    /// Which codec this is.
    fn kind(&self) -> CodecKind;
    /// Encodes exactly one frame of `pcm_frame()` samples, appending the payload to `out`.
    ///
    /// # Errors
    /// [`CodecError::FrameSize`] on a wrong frame length; [`CodecError::Opus`] from libopus.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError>;
    /// Decodes one received payload, appending the samples to `out`; returns how many.
    ///
    /// # Errors
    /// [`CodecError::Opus`] if the payload is corrupt (a peer fault: conceal instead).
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError>;
    /// Produces one frame of concealment for a lost packet, appending it to `out`.
    fn conceal(&mut self, out: &mut Vec<i16>);
    /// Recovers a lost frame from the *next* packet's redundancy (Opus in-band FEC), appending
    /// one frame to `out`. Codecs without FEC conceal. Call `decode(next)` afterwards as usual.
    fn decode_fec(&mut self, next_payload: &[u8], out: &mut Vec<i16>) {
        let _ = next_payload;
        self.conceal(out);
    }
    /// The RTP clock rate in Hz.
    fn clock_rate(&self) -> u32;
    /// RTP clock ticks per 20 ms frame (what a packet's timestamp advances by).
    fn samples_per_frame(&self) -> usize;
    /// The rate, in Hz, of the PCM `encode` takes and `decode`/`conceal` give.
    fn pcm_rate(&self) -> u32 {
        self.clock_rate()
    }
    /// PCM samples per 20 ms frame at [`AudioCodec::pcm_rate`].
    fn pcm_frame(&self) -> usize {
        (self.pcm_rate() / 50) as usize
    }
    /// The audio will carry nothing above `hz` either way (the other side of a bridge is a
    /// narrower codec, such as G.711), or `None` for no such limit. A codec may then spend less
    /// work and fewer bits on bands that are empty anyway, and may lower its
    /// [`AudioCodec::pcm_rate`] (read it again afterwards). Default: nothing changes.
    fn limit_bandwidth(&mut self, hz: Option<u32>) {
        let _ = hz;
    }
}

/// Which G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711Law {
    /// µ-law (PCMU).
    MuLaw,
    /// A-law (PCMA).
    ALaw,
}

/// G.711 codec with packet-loss concealment by pitch-period waveform repetition.
///
/// PLC (in the spirit of G.711 Appendix I, simplified): the pitch period is estimated by
/// autocorrelation over the last 30 ms of history; the last period is repeated, with the gain
/// falling linearly by 20 % per 10 ms after the first 10 ms so that a long gap fades to silence
/// after 60 ms. As in Appendix I, the last quarter of the repeated period is cross-faded with
/// the period before it, so that the period's end joins its start: speech is never exactly
/// periodic, and without this every repetition clicks (PESQ over 3 % loss: about +0.03 MOS,
/// see `docs/benchmarks.md`). The first good frame after a gap is cross-faded over 4 ms with
/// the continuation of the concealment to avoid a click.
#[derive(Debug, Clone)]
pub struct G711Codec {
    law: G711Law,
    /// The last `HISTORY` decoded (or concealed) samples, oldest first.
    history: Vec<i16>,
    /// Samples concealed since the last good frame (0 = not concealing).
    concealed: usize,
    /// The period repeated during the current gap (its pitch in samples, end loop-smoothed).
    period: Vec<f64>,
    /// Read position inside the repeated period.
    pos: usize,
}

const HISTORY: usize = 240; // 30 ms at 8 kHz
const MIN_PITCH: usize = 20; // 400 Hz
const MAX_PITCH: usize = 120; // 66 Hz
const FADE_IN: usize = 32; // 4 ms

impl G711Codec {
    /// Creates a codec for the given law.
    #[must_use]
    pub fn new(law: G711Law) -> Self {
        Self {
            law,
            history: vec![0; HISTORY],
            concealed: 0,
            period: Vec::with_capacity(MAX_PITCH),
            pos: 0,
        }
    }

    fn push_history(&mut self, samples: &[i16]) {
        if samples.len() >= HISTORY {
            self.history.clear();
            self.history
                .extend_from_slice(&samples[samples.len() - HISTORY..]);
        } else {
            self.history.drain(..samples.len());
            self.history.extend_from_slice(samples);
        }
    }

    fn estimate_pitch(&self) -> usize {
        let h = &self.history;
        let window = 80; // correlate the last 10 ms against earlier copies
        let tail = &h[h.len() - window..];
        let mut best = MIN_PITCH;
        let mut best_score = f64::MIN;
        for lag in MIN_PITCH..=MAX_PITCH {
            let start = h.len() - window - lag;
            let (mut cross, mut energy) = (0.0f64, 0.0f64);
            for (a, b) in tail.iter().zip(&h[start..start + window]) {
                cross += f64::from(*a) * f64::from(*b);
                energy += f64::from(*b) * f64::from(*b);
            }
            let score = if energy > 0.0 {
                cross / energy.sqrt()
            } else {
                0.0
            };
            if score > best_score {
                best_score = score;
                best = lag;
            }
        }
        best
    }

    /// Cuts the period to repeat from the end of the history. Its last quarter fades into the
    /// samples one period earlier, which lead into its first sample: the loop has no step.
    fn start_gap(&mut self) {
        let pitch = self.estimate_pitch();
        let quarter = pitch / 4;
        let h = &self.history;
        self.period.clear();
        self.period.extend((0..pitch).map(|i| {
            let this = f64::from(h[HISTORY - pitch + i]);
            match (i + quarter + 1).checked_sub(pitch) {
                // Weight 1/(q+1) .. q/(q+1) over the last `quarter` samples.
                Some(k) if k > 0 => {
                    let w = k as f64 / (quarter + 1) as f64;
                    (1.0 - w) * this + w * f64::from(h[HISTORY - 2 * pitch + i])
                }
                _ => this,
            }
        }));
        self.pos = 0;
    }

    /// Next concealment sample (repetition of the period), before gain.
    fn next_repeat(&mut self) -> f64 {
        // `period` is never empty during a gap (pitch >= MIN_PITCH); 0 keeps that an invariant.
        let Some(&s) = self.period.get(self.pos) else {
            return 0.0;
        };
        self.pos = (self.pos + 1) % self.period.len();
        s
    }

    fn gain_at(concealed: usize) -> f64 {
        // Full level for 10 ms, then -20 % per 10 ms: silent after 60 ms.
        let ms = concealed as f64 / 8.0;
        if ms <= 10.0 {
            1.0
        } else {
            (1.0 - (ms - 10.0) * 0.02).max(0.0)
        }
    }
}

impl AudioCodec for G711Codec {
    fn kind(&self) -> CodecKind {
        match self.law {
            G711Law::MuLaw => CodecKind::Pcmu,
            G711Law::ALaw => CodecKind::Pcma,
        }
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        // G.711 is sample-based: any length encodes, so no FrameSize error here.
        match self.law {
            G711Law::MuLaw => g711::encode_ulaw(pcm, out),
            G711Law::ALaw => g711::encode_alaw(pcm, out),
        }
        Ok(())
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        let start = out.len();
        match self.law {
            G711Law::MuLaw => g711::decode_ulaw(payload, out),
            G711Law::ALaw => g711::decode_alaw(payload, out),
        }
        if self.concealed > 0 {
            // Cross-fade from the concealment continuation into the real signal.
            let gain = Self::gain_at(self.concealed);
            let n = FADE_IN.min(payload.len());
            for i in 0..n {
                let w = (i + 1) as f64 / (n + 1) as f64;
                let c = self.next_repeat() * gain;
                let real = f64::from(out[start + i]);
                out[start + i] = (w * real + (1.0 - w) * c) as i16;
            }
            self.concealed = 0;
        }
        let decoded = out.len() - start;
        let tail: Vec<i16> = out[start..].to_vec();
        self.push_history(&tail);
        Ok(decoded)
    }

    fn conceal(&mut self, out: &mut Vec<i16>) {
        if self.concealed == 0 {
            self.start_gap();
        }
        for _ in 0..self.samples_per_frame() {
            self.concealed += 1;
            let gain = Self::gain_at(self.concealed);
            out.push((self.next_repeat() * gain) as i16);
        }
        // Keep the history as it was at the start of the gap: repeating concealed output
        // would re-apply the gain. Only the position inside the period moves on.
    }

    fn clock_rate(&self) -> u32 {
        8000
    }

    fn samples_per_frame(&self) -> usize {
        160
    }
}

/// Opus mono, 20 ms frames, VoIP application, in-band FEC on; PCM at 48 kHz unless a band limit
/// lowers it (see [`AudioCodec::limit_bandwidth`]).
pub struct OpusCodec {
    encoder: opus::Encoder,
    /// libopus's own complexity setting, restored when a band limit is lifted.
    default_complexity: i32,
    decoder: opus::Decoder,
    /// The PCM rate encoder and decoder were made for: 48 kHz, or the lowest rate libopus
    /// takes that holds a band limit (8 kHz for G.711's band).
    pcm_rate: u32,
    /// Scratch buffer for one decoded packet (up to 120 ms).
    scratch: Vec<i16>,
}

impl std::fmt::Debug for OpusCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusCodec").finish_non_exhaustive()
    }
}

/// Largest Opus packet we produce (RFC 7587 has no limit; 1275 is the Opus maximum per frame).
const OPUS_MAX_PACKET: usize = 1275;
/// 120 ms at 48 kHz, the longest packet a peer may send.
const OPUS_MAX_SAMPLES: usize = 5760;

impl OpusCodec {
    /// Creates the encoder and decoder. Bitrate 32 kbit/s, expected loss 10 % (which makes the
    /// encoder spend bits on FEC).
    ///
    /// # Errors
    /// [`CodecError::Opus`] if libopus cannot allocate or configure its state.
    pub fn new() -> Result<Self, CodecError> {
        let (mut encoder, decoder) = Self::state(48000)?;
        let default_complexity = encoder.get_complexity()?;
        Ok(Self {
            default_complexity,
            encoder,
            decoder,
            pcm_rate: 48000,
            scratch: vec![0; OPUS_MAX_SAMPLES],
        })
    }

    /// A configured encoder and a decoder for PCM at `rate` (8, 12, 16, 24 or 48 kHz).
    fn state(rate: u32) -> Result<(opus::Encoder, opus::Decoder), CodecError> {
        let mut encoder = opus::Encoder::new(rate, opus::Channels::Mono, opus::Application::Voip)?;
        encoder.set_inband_fec(true)?;
        encoder.set_packet_loss_perc(10)?;
        encoder.set_bitrate(opus::Bitrate::Bits(32000))?;
        let decoder = opus::Decoder::new(rate, opus::Channels::Mono)?;
        Ok((encoder, decoder))
    }

    fn decode_into(
        &mut self,
        payload: &[u8],
        fec: bool,
        limit: usize,
        out: &mut Vec<i16>,
    ) -> usize {
        match self
            .decoder
            .decode(payload, &mut self.scratch[..limit], fec)
        {
            Ok(n) => {
                out.extend_from_slice(&self.scratch[..n]);
                n
            }
            Err(_) => {
                // libopus does not fail PLC with a valid frame size; keep the timeline anyway.
                out.extend(std::iter::repeat_n(0, limit));
                limit
            }
        }
    }
}

/// Opus's complexity for narrowband-limited audio (a bridge with G.711): measured in
/// docs/benchmarks.md ("Opus ↔ PCMU transcode") against PESQ and CPU.
const NARROWBAND_COMPLEXITY: i32 = 5;

impl AudioCodec for OpusCodec {
    fn kind(&self) -> CodecKind {
        CodecKind::Opus
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        if pcm.len() != self.pcm_frame() {
            return Err(CodecError::FrameSize {
                expected: self.pcm_frame(),
                got: pcm.len(),
            });
        }
        let start = out.len();
        out.resize(start + OPUS_MAX_PACKET, 0);
        match self.encoder.encode(pcm, &mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e.into())
            }
        }
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if payload.is_empty() {
            // An empty payload would mean "PLC" to libopus; for a received packet it is junk.
            return Err(CodecError::EmptyPayload);
        }
        let n = self.decoder.decode(payload, &mut self.scratch, false)?;
        out.extend_from_slice(&self.scratch[..n]);
        Ok(n)
    }

    fn conceal(&mut self, out: &mut Vec<i16>) {
        self.decode_into(&[], false, self.pcm_frame(), out);
    }

    fn decode_fec(&mut self, next_payload: &[u8], out: &mut Vec<i16>) {
        if next_payload.is_empty() {
            self.conceal(out);
        } else {
            self.decode_into(next_payload, true, self.pcm_frame(), out);
        }
    }

    fn clock_rate(&self) -> u32 {
        48000
    }

    fn samples_per_frame(&self) -> usize {
        960
    }

    fn pcm_rate(&self) -> u32 {
        self.pcm_rate
    }

    /// Also runs the PCM at the lowest rate that holds the band (8 kHz for G.711's 4 kHz):
    /// libopus then neither resamples to and from 48 kHz inside, nor does the bridge outside
    /// (measured in docs/benchmarks.md, "Opus at the bridge's rate"). The new rate takes a new
    /// encoder and decoder: the codec's history restarts, as at a codec change.
    fn limit_bandwidth(&mut self, hz: Option<u32>) {
        // Each Opus band with the lowest PCM rate that holds it.
        let (band, rate) = match hz {
            Some(0..=4000) => (opus::Bandwidth::Narrowband, 8000),
            Some(4001..=6000) => (opus::Bandwidth::Mediumband, 12000),
            Some(6001..=8000) => (opus::Bandwidth::Wideband, 16000),
            Some(8001..=12000) => (opus::Bandwidth::Superwideband, 24000),
            _ => (opus::Bandwidth::Fullband, 48000),
        };
        if rate != self.pcm_rate {
            // Creating state at a rate libopus supports fails only without memory; the codec
            // then keeps running at the rate it has, which is still correct.
            if let Ok((encoder, decoder)) = Self::state(rate) {
                self.encoder = encoder;
                self.decoder = decoder;
                self.pcm_rate = rate;
            }
        }
        let complexity = match band {
            opus::Bandwidth::Narrowband | opus::Bandwidth::Mediumband => NARROWBAND_COMPLEXITY,
            _ => self.default_complexity,
        };
        // Valid settings for an encoder that exists: libopus has no reason to refuse, and if it
        // did, encoding at the full band and complexity is still correct.
        let _ = self.encoder.set_max_bandwidth(band);
        let _ = self.encoder.set_complexity(complexity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tones::goertzel;

    fn sine(freq: f64, rate: u32, n: usize, offset: usize, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = (i + offset) as f64 / f64::from(rate);
                (amp * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn descriptors() {
        assert_eq!(CodecKind::Pcmu.static_payload_type(), Some(0));
        assert_eq!(CodecKind::Pcma.static_payload_type(), Some(8));
        assert_eq!(CodecKind::Opus.static_payload_type(), None);
        assert_eq!(CodecKind::Opus.samples_per_frame(), 960);
        assert_eq!(CodecKind::Pcmu.samples_per_frame(), 160);
    }

    #[test]
    fn g711_plc_repeats_then_fades() {
        let mut codec = G711Codec::new(G711Law::MuLaw);
        let mut out = Vec::new();
        for f in 0..5 {
            let pcm = sine(400.0, 8000, 160, f * 160, 8000.0);
            let mut payload = Vec::new();
            codec
                .encode(&pcm, &mut payload)
                .expect("g711 encodes any length");
            codec
                .decode(&payload, &mut out)
                .expect("g711 decodes any payload");
        }
        let mut concealed = Vec::new();
        codec.conceal(&mut concealed);
        // The first concealed frame still carries the 400 Hz tone at near full level.
        let p = goertzel(&concealed, 8000, 400.0);
        assert!(p > 0.5 * 8000.0 * 8000.0 / 2.0, "power {p}");
        for _ in 0..3 {
            concealed.clear();
            codec.conceal(&mut concealed);
        }
        // After 80 ms of loss the output is silent.
        assert!(concealed.iter().all(|&s| s == 0));
    }

    #[test]
    fn g711_plc_loops_the_period_without_a_click() {
        // A gliding tone (150 -> 250 Hz over the 100 ms before the gap), like a voice's
        // pitch: no lag repeats it exactly, so a period repeated as it is steps at every loop.
        let signal = |i: usize| {
            let t = i as f64 / 8000.0;
            let phase = std::f64::consts::TAU * (150.0 * t + 500.0 * t * t);
            8000.0 * phase.sin()
        };
        let mut codec = G711Codec::new(G711Law::MuLaw);
        let mut decoded = Vec::new();
        for f in 0..5 {
            let pcm: Vec<i16> = (f * 160..(f + 1) * 160).map(|i| signal(i) as i16).collect();
            let mut payload = Vec::new();
            codec
                .encode(&pcm, &mut payload)
                .expect("g711 encodes any length");
            codec
                .decode(&payload, &mut decoded)
                .expect("g711 decodes any payload");
        }
        // Clicks are broadband: compare the energy of the second difference (a high-pass)
        // per sample in the concealment's first 10 ms (full level) with the signal's.
        let roughness = |x: &[i16]| {
            let e: f64 = x
                .windows(3)
                .map(|w| (f64::from(w[2]) - 2.0 * f64::from(w[1]) + f64::from(w[0])).powi(2))
                .sum();
            e / (x.len() - 2) as f64
        };
        let real = roughness(&decoded[decoded.len() - 240..]);
        let mut concealed = Vec::new();
        codec.conceal(&mut concealed);
        let rough = roughness(&concealed[..80]);
        assert!(
            rough <= 1.2 * real,
            "the concealment is {:.2} times as rough as the signal",
            rough / real
        );
    }

    /// Twenty frames of a `hz` tone from a 48 kHz peer (`tx`), decoded by `rx` with packet 10
    /// lost and recovered from packet 11's FEC: the packets, the samples decoded from each
    /// packet received, and the decoded audio.
    fn tone_with_packet_10_lost(
        tx: &mut OpusCodec,
        rx: &mut OpusCodec,
        hz: f64,
    ) -> (Vec<Vec<u8>>, Vec<usize>, Vec<i16>) {
        let packets: Vec<Vec<u8>> = (0..20)
            .map(|f| {
                let mut payload = Vec::new();
                tx.encode(&sine(hz, 48000, 960, f * 960, 10000.0), &mut payload)
                    .expect("encode");
                payload
            })
            .collect();
        let (mut decoded, mut out) = (Vec::new(), Vec::new());
        for (i, p) in packets.iter().enumerate() {
            if i == 10 {
                rx.decode_fec(&packets[11], &mut out);
            } else {
                decoded.push(rx.decode(p, &mut out).expect("decode"));
            }
        }
        (packets, decoded, out)
    }

    #[test]
    fn opus_round_trip_keeps_a_tone_and_uses_fec() {
        let mut tx = OpusCodec::new().expect("opus state");
        let mut rx = OpusCodec::new().expect("opus state");
        let (packets, _, out) = tone_with_packet_10_lost(&mut tx, &mut rx, 1000.0);
        assert!(packets.iter().all(|p| !p.is_empty() && p.len() < 400));
        assert_eq!(out.len(), 20 * 960);
        let lost = &out[10 * 960..11 * 960];
        let p = goertzel(lost, 48000, 1000.0);
        assert!(p > 0.25 * 10000.0 * 10000.0 / 2.0, "fec frame power {p}");
        let mut plc = Vec::new();
        rx.conceal(&mut plc);
        assert_eq!(plc.len(), 960);
        assert!(matches!(
            tx.encode(&[0; 100], &mut Vec::new()),
            Err(CodecError::FrameSize { .. })
        ));
        assert!(rx.decode(&[], &mut Vec::new()).is_err());
    }

    /// The audio bandwidth an Opus packet's TOC byte names (RFC 6716 3.1), in Hz.
    fn opus_bandwidth(packet: &[u8]) -> u32 {
        match packet[0] >> 3 {
            0..=3 | 16..=19 => 4000,
            4..=7 => 6000,
            8..=11 | 20..=23 => 8000,
            12..=13 | 24..=27 => 12000,
            _ => 20000,
        }
    }

    #[test]
    fn opus_limited_to_a_narrow_band_runs_at_8_khz_encodes_narrowband_and_keeps_the_speech_band() {
        // Speech-band tones plus, at 48 kHz, one at 10 kHz: a full-band signal.
        let frame = |f: usize, rate: u32| -> Vec<i16> {
            let n = (rate / 50) as usize;
            let low = sine(1004.0, rate, n, f * n, 6000.0);
            if rate < 48000 {
                return low;
            }
            let high = sine(10_000.0, rate, n, f * n, 6000.0);
            low.iter().zip(&high).map(|(a, b)| a + b).collect()
        };
        // The receiver is a peer's ordinary 48 kHz decoder: the packets are plain Opus.
        let run = |limit: Option<u32>| {
            let mut tx = OpusCodec::new().expect("opus state");
            let mut rx = OpusCodec::new().expect("opus state");
            tx.limit_bandwidth(limit);
            let rate = tx.pcm_rate();
            assert_eq!(tx.pcm_frame(), (rate / 50) as usize);
            assert_eq!(tx.samples_per_frame(), 960, "the RTP clock stays 48 kHz");
            let (mut bands, mut out) = (Vec::new(), Vec::new());
            for f in 0..25 {
                let mut payload = Vec::new();
                tx.encode(&frame(f, rate), &mut payload).expect("encode");
                bands.push(opus_bandwidth(&payload));
                assert_eq!(rx.decode(&payload, &mut out).expect("decode"), 960);
            }
            (rate, bands, out)
        };
        let (rate, full, _) = run(None);
        assert_eq!(rate, 48000);
        assert!(full[5..].iter().all(|&b| b > 8000), "unlimited: {full:?}");
        let (rate, narrow, out) = run(Some(4000));
        assert_eq!(rate, 8000, "G.711's band runs the PCM at 8 kHz");
        assert!(
            narrow[5..].iter().all(|&b| b == 4000),
            "limited: {narrow:?}"
        );
        let last = &out[20 * 960..];
        let speech = goertzel(last, 48000, 1004.0);
        assert!(
            speech > 0.25 * 6000.0 * 6000.0 / 2.0,
            "1004 Hz kept: {speech}"
        );
        // A wideband limit (G.722's, say) runs at 16 kHz; lifting the limit returns to the
        // full band at 48 kHz, with a 48 kHz frame again.
        let mut tx = OpusCodec::new().expect("opus state");
        tx.limit_bandwidth(Some(8000));
        assert_eq!(tx.pcm_rate(), 16000);
        tx.limit_bandwidth(Some(4000));
        tx.limit_bandwidth(None);
        assert_eq!((tx.pcm_rate(), tx.pcm_frame()), (48000, 960));
        assert!(matches!(
            tx.encode(&[0; 160], &mut Vec::new()),
            Err(CodecError::FrameSize {
                expected: 960,
                got: 160
            })
        ));
        let mut last_band = 0;
        for f in 0..25 {
            let mut payload = Vec::new();
            tx.encode(&frame(f, 48000), &mut payload).expect("encode");
            last_band = opus_bandwidth(&payload);
        }
        assert!(last_band > 8000);
    }

    #[test]
    fn opus_at_8_khz_decodes_a_full_band_peer_and_conceals_one_8_khz_frame() {
        let mut peer = OpusCodec::new().expect("opus state");
        let mut us = OpusCodec::new().expect("opus state");
        us.limit_bandwidth(Some(4000));
        let (_, decoded, out) = tone_with_packet_10_lost(&mut peer, &mut us, 1004.0);
        assert!(decoded.iter().all(|&n| n == 160), "{decoded:?}");
        assert_eq!(out.len(), 20 * 160);
        let recovered = goertzel(&out[10 * 160..11 * 160], 8000, 1004.0);
        assert!(
            recovered > 0.25 * 10000.0 * 10000.0 / 2.0,
            "fec frame power {recovered}"
        );
        let mut plc = Vec::new();
        us.conceal(&mut plc);
        assert_eq!(plc.len(), 160);
    }
}
