//! One call's media stream, sans-IO: fed received datagrams and 20 ms ticks with the time,
//! it returns the datagrams to send, the decoded audio and what to report. The task in
//! `media/mod.rs` owns its sockets and clock; tests drive it in virtual time.

use console_core::CallId;
use console_core::{CallQuality, MediaEvent};
use media_engine::RtpRelay;
use media_engine::dtmf::{DtmfReceiver, DtmfSender, DtmfTiming};
use media_engine::jitter::{JitterBuffer, JitterConfig, Playout};
use media_engine::rtp::{ReceivedRtp, RtcpSession, RtpReceiver, RtpSender};
use media_engine::sdp::Direction;
use media_engine::tones::{ToneGenerator, ToneKind};
use media_engine::{AudioCodec, CodecKind};
use std::net::SocketAddr;
use std::time::Duration;

/// How often RTCP reports go out (RFC 3550 suggests ~5 s for small sessions).
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// How often quality figures are reported.
const QUALITY_INTERVAL: Duration = Duration::from_secs(1);
/// Seconds between 1900 and 1970, for NTP timestamps.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// What the console says when no microphone feeds the call (headless mode).
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Digital silence (still sent, so NATs and peers see a live stream).
    Silence,
    /// A sine at this frequency (Hz), e.g. 1004 Hz for tests and line checks.
    Tone(f64),
}

/// Negotiated parameters of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams {
    /// Where the peer wants RTP.
    pub remote: SocketAddr,
    /// Codec.
    pub codec: CodecKind,
    /// Its payload type.
    pub payload_type: u8,
    /// telephone-event payload type.
    pub dtmf_payload_type: Option<u8>,
    /// Send and/or receive.
    pub direction: Direction,
}

/// A datagram to send from the RTP or the RTCP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// true: from the RTCP socket (port + 1).
    pub rtcp: bool,
    /// Destination.
    pub to: SocketAddr,
    /// Bytes.
    pub bytes: Vec<u8>,
}

/// One call's stream state.
pub struct Stream {
    call: CallId,
    params: Option<StreamParams>,
    codec: Option<Box<dyn AudioCodec>>,
    /// Where packets really come from (symmetric RTP, RFC 4961 spirit): once the peer's
    /// packets arrive, we answer there rather than at the SDP address.
    learned_remote: Option<SocketAddr>,
    sender: Option<RtpSender>,
    receiver: RtpReceiver,
    rtcp: RtcpSession,
    jitter: JitterBuffer,
    dtmf_out: Option<DtmfSender>,
    dtmf_in: DtmfReceiver,
    source: Source,
    source_phase: f64,
    tone: Option<ToneGenerator>,
    /// A tone the attendant hears instead of what arrives (ringback while the call rings).
    local_tone: Option<ToneGenerator>,
    /// Which tones `tone` and `local_tone` play, to make them again when the PCM rate changes.
    tone_kinds: (Option<ToneKind>, Option<ToneKind>),
    tone_region: String,
    muted: bool,
    next_rtcp: Duration,
    next_quality: Duration,
    /// Decoded audio of the last tick (at [`Stream::pcm_rate`]), for recording and the speaker.
    played: Vec<i16>,
    /// Audio from the other leg of a bridge (PCM rate), used instead of the source.
    bridged: Option<Vec<i16>>,
    /// The attendant's microphone this tick (PCM rate), used instead of the source.
    mic: Option<Vec<i16>>,
    /// In a same-codec bridge: audio packets go to the other leg undecoded ([`Stream::on_rtp`]
    /// returns them) and arrive from it through [`Stream::relay_in`]; the tick sends only our
    /// own DTMF events and RTCP.
    relaying: bool,
    /// What we send carries nothing above this many Hz (a transcoding bridge with a narrower
    /// codec); the encoder is told, and kept told across codec changes.
    band_limit: Option<u32>,
    scratch: Vec<u8>,
    epoch_unix: Duration,
}

impl Stream {
    /// A stream not yet configured. `epoch_unix` is the wall-clock time (since 1970) at which
    /// `now = 0`, for RTCP NTP timestamps.
    pub fn new(call: CallId, source: Source, tone_region: &str, epoch_unix: Duration) -> Self {
        let ssrc = rand::random::<u32>();
        Self {
            rtcp: RtcpSession::new(ssrc, format!("switchboard-{}", call.0)),
            call,
            params: None,
            codec: None,
            learned_remote: None,
            sender: None,
            receiver: RtpReceiver::new(8000),
            jitter: JitterBuffer::new(JitterConfig::new(8000)),
            dtmf_out: None,
            dtmf_in: DtmfReceiver::new(),
            source,
            source_phase: 0.0,
            tone: None,
            local_tone: None,
            tone_kinds: (None, None),
            tone_region: tone_region.to_string(),
            muted: false,
            next_rtcp: Duration::ZERO,
            next_quality: Duration::ZERO,
            played: Vec::new(),
            bridged: None,
            mic: None,
            relaying: false,
            band_limit: None,
            scratch: Vec::new(),
            epoch_unix,
        }
    }

    /// Applies a (re-)negotiation. A new codec resets the codec state; the RTP sender keeps
    /// its SSRC/sequence/timestamp (a re-INVITE is the same stream).
    pub fn configure(&mut self, now: Duration, params: StreamParams) {
        let codec_changed = self.params.is_none_or(|p| p.codec != params.codec);
        let pcm_rate = self.pcm_rate();
        if codec_changed {
            match params.codec.new_codec() {
                Ok(mut codec) => {
                    if self.band_limit.is_some() {
                        codec.limit_bandwidth(self.band_limit);
                    }
                    self.codec = Some(codec);
                }
                Err(error) => {
                    tracing::warn!(call = %self.call, %error, "cannot create the codec; no media");
                    self.codec = None;
                }
            }
            let rate = params.codec.clock_rate();
            self.receiver = RtpReceiver::new(rate);
            self.jitter = JitterBuffer::new(JitterConfig::new(rate));
            self.dtmf_out = DtmfSender::new(rate, DtmfTiming::default()).ok();
        }
        match self.sender.as_mut() {
            Some(sender) => sender.set_payload_type(params.payload_type),
            None => {
                let mut rng = rand::rng();
                self.sender = Some(RtpSender::with_random(
                    &mut rng,
                    params.payload_type,
                    params.codec.clock_rate(),
                ));
            }
        }
        if self.params.is_some_and(|p| p.remote != params.remote) {
            // The peer moved (re-INVITE with a new address): follow the new SDP target.
            self.learned_remote = None;
        }
        if !params.direction.sends()
            && let Some(sender) = self.sender.as_mut()
        {
            sender.start_talkspurt();
        }
        self.params = Some(params);
        if self.pcm_rate() != pcm_rate {
            self.make_tones();
        }
        if self.next_rtcp.is_zero() {
            self.next_rtcp = now + RTCP_INTERVAL;
            self.next_quality = now + QUALITY_INTERVAL;
        }
    }

    /// Sends a tone instead of the source (`None`: back to the source).
    pub fn set_tone(&mut self, tone: Option<ToneKind>) {
        self.tone_kinds.0 = tone;
        self.tone = self.tone_generator(tone);
    }

    /// Plays a tone to the attendant instead of what the call receives (`None`: stop).
    pub fn set_local_tone(&mut self, tone: Option<ToneKind>) {
        self.tone_kinds.1 = tone;
        self.local_tone = self.tone_generator(tone);
    }

    fn tone_generator(&self, tone: Option<ToneKind>) -> Option<ToneGenerator> {
        let plan = media_engine::tones::tone_plan(&self.tone_region, tone?).ok()?;
        Some(ToneGenerator::new(plan, self.pcm_rate()))
    }

    /// The tones again, at the PCM rate as it is now (it changed).
    fn make_tones(&mut self) {
        self.tone = self.tone_generator(self.tone_kinds.0);
        self.local_tone = self.tone_generator(self.tone_kinds.1);
    }

    /// Queues DTMF digits (RFC 4733).
    pub fn send_dtmf(&mut self, digits: &str) {
        if let Some(dtmf) = self.dtmf_out.as_mut()
            && let Err(error) = dtmf.send(digits)
        {
            tracing::warn!(call = %self.call, %error, "cannot send DTMF");
        }
    }

    /// Sets what the bridge partner said this tick (codec rate, one frame); `None` leaves
    /// the bridge (back to the source).
    pub fn set_bridged(&mut self, frame: Option<Vec<i16>>) {
        self.bridged = frame;
    }

    /// Sets the attendant's microphone frame for this tick (codec rate); `None` (no device, or
    /// no new frame) sends the configured source instead. Muting silences it.
    pub fn set_mic(&mut self, frame: Option<Vec<i16>>) {
        self.mic = frame;
    }

    /// The call this stream belongs to.
    pub fn call(&self) -> &CallId {
        &self.call
    }

    /// Whether this stream has work every 20 ms. A relaying stream only reports (stats
    /// about once a second, RTCP every 5 s) unless it sends DTMF of its own: its task may then
    /// tick slowly, and wakes for packets alone.
    pub fn needs_frame_ticks(&self) -> bool {
        !self.relaying || self.dtmf_out.as_ref().is_some_and(|d| !d.is_idle())
    }

    /// Relaying (see the `relaying` field)?
    pub fn relaying(&self) -> bool {
        self.relaying
    }

    /// Switches the same-codec relay on or off (see the `relaying` field).
    pub fn set_relaying(&mut self, relaying: bool) {
        if self.relaying == relaying {
            return;
        }
        if !relaying && let Some(sender) = self.sender.as_mut() {
            // Our own packets resume the stream: a new talk spurt.
            sender.start_talkspurt();
        }
        // Whatever the playout buffer held belongs to before the switch.
        self.jitter = JitterBuffer::new(JitterConfig::new(self.rtp_rate()));
        self.relaying = relaying;
    }

    /// The negotiated codec, once configured with a working codec.
    pub fn codec_kind(&self) -> Option<CodecKind> {
        self.codec.as_ref().and(self.params.map(|p| p.codec))
    }

    /// The sequence number our next packet will carry (to notice our own packets between
    /// relayed ones).
    pub fn next_sequence(&self) -> Option<u16> {
        self.sender.as_ref().map(RtpSender::next_sequence)
    }

    /// Sends `packet`, relayed from the other leg of a same-codec bridge, as part of our
    /// stream: writes it into `out` and returns where to send it, or `None` when we must not
    /// send (not configured, on hold the other way, no address yet).
    pub fn relay_in(
        &mut self,
        now: Duration,
        relay: &mut RtpRelay,
        packet: &ReceivedRtp<'_>,
        out: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        let params = self.params?;
        let to = self.remote()?;
        if !params.direction.sends() {
            return None;
        }
        let samples = self.codec.as_ref()?.samples_per_frame() as u32;
        let sender = self.sender.as_mut()?;
        relay.relay(now, packet, samples, sender, out).ok()?;
        Some(to)
    }

    /// What this stream sends and plays will carry nothing above `hz` (the other leg of a
    /// transcoding bridge has the narrower codec), or `None`: the codec may save work on empty
    /// bands, and Opus then runs at 8 kHz against G.711 (no resampling on either side of the
    /// bridge, narrowband at a lower complexity: docs/benchmarks.md). [`Stream::pcm_rate`] may
    /// change.
    pub fn limit_bandwidth(&mut self, hz: Option<u32>) {
        if self.band_limit == hz {
            return;
        }
        self.band_limit = hz;
        let pcm_rate = self.pcm_rate();
        if let Some(codec) = self.codec.as_mut() {
            codec.limit_bandwidth(hz);
        }
        if self.pcm_rate() != pcm_rate {
            self.make_tones();
        }
    }

    /// Mutes (sends silence instead of the source).
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Where RTP goes now.
    pub fn remote(&self) -> Option<SocketAddr> {
        let params = self.params?;
        if params.remote.port() == 0 || params.remote.ip().is_unspecified() {
            return self.learned_remote;
        }
        Some(self.learned_remote.unwrap_or(params.remote))
    }

    /// The audio decoded at the last tick.
    pub fn played(&self) -> &[i16] {
        &self.played
    }

    /// The rate of the audio in and out of the codec: of [`Stream::played`], and of what
    /// [`Stream::set_bridged`] and [`Stream::set_mic`] take. The codec's RTP clock rate, unless
    /// a band limit lowered it ([`Stream::limit_bandwidth`]).
    pub fn pcm_rate(&self) -> u32 {
        match &self.codec {
            Some(codec) => codec.pcm_rate(),
            None => self.rtp_rate(),
        }
    }

    /// The negotiated codec's RTP clock rate.
    fn rtp_rate(&self) -> u32 {
        self.params.map_or(8000, |p| p.codec.clock_rate())
    }

    /// A datagram arrived on the RTP socket.
    pub fn on_rtp<'a>(
        &mut self,
        now: Duration,
        from: SocketAddr,
        datagram: &'a [u8],
        events: &mut Vec<MediaEvent>,
    ) -> Option<ReceivedRtp<'a>> {
        let params = self.params?;
        if !params.direction.receives() {
            return None;
        }
        let packet = self.receiver.receive(now, datagram).ok()?;
        if packet.valid && self.learned_remote != Some(from) {
            self.learned_remote = Some(from);
        }
        if Some(packet.payload_type) == params.dtmf_payload_type {
            if let Some(digit) = self.dtmf_in.receive(packet.timestamp, packet.payload) {
                events.push(MediaEvent::Dtmf {
                    call: self.call.clone(),
                    digit: digit.digit,
                });
            }
            // Digits cross a bridge as events the console re-sends, never as relayed packets.
            return None;
        }
        if packet.payload_type != params.payload_type {
            return None;
        }
        if self.relaying {
            return Some(packet);
        }
        self.jitter.push(
            now,
            packet.sequence,
            packet.timestamp,
            packet.payload.to_vec(),
        );
        None
    }

    /// A datagram arrived on the RTCP socket.
    pub fn on_rtcp(&mut self, now: Duration, datagram: &[u8]) {
        let _ = self.rtcp.receive(now, datagram, &mut self.receiver);
    }

    /// The 20 ms tick: play one frame, send one packet, report when due.
    pub fn tick(&mut self, now: Duration, out: &mut Vec<Outgoing>, events: &mut Vec<MediaEvent>) {
        self.tick_media(now, out, events);
        // Ringback for the attendant while the call rings (even before any SDP answer).
        let frame = (self.pcm_rate() / 50) as usize;
        if let Some(tone) = self.local_tone.as_mut() {
            self.played.clear();
            self.played.resize(frame, 0);
            tone.fill(&mut self.played);
        }
    }

    fn tick_media(&mut self, now: Duration, out: &mut Vec<Outgoing>, events: &mut Vec<MediaEvent>) {
        self.played.clear();
        let Some(params) = self.params else { return };
        let remote = self.remote();
        let Some(codec) = self.codec.as_mut() else {
            return;
        };
        // PCM samples per frame, and RTP clock ticks per frame (they differ for Opus at 8 kHz).
        let (frame, ticks) = (codec.pcm_frame(), codec.samples_per_frame() as u32);
        // Play (nothing is decoded while relaying: the packets went to the other leg).
        if self.relaying {
        } else if params.direction.receives() {
            match self.jitter.pop(now) {
                Playout::Frame(payload) => {
                    if codec.decode(&payload, &mut self.played).is_err() {
                        codec.conceal(&mut self.played);
                    }
                }
                Playout::Conceal => match self.jitter.peek_next() {
                    Some(next) => {
                        let next = next.to_vec();
                        codec.decode_fec(&next, &mut self.played);
                    }
                    None => codec.conceal(&mut self.played),
                },
                Playout::Empty => self.played.resize(frame, 0),
            }
        } else {
            self.played.resize(frame, 0);
        }
        // Send.
        let Some(sender) = self.sender.as_mut() else {
            return;
        };
        match (params.direction.sends(), remote) {
            (true, Some(to)) => {
                let event = self
                    .dtmf_out
                    .as_mut()
                    .zip(params.dtmf_payload_type)
                    .and_then(|(dtmf, pt)| dtmf.poll(sender.next_timestamp()).map(|p| (p, pt)));
                let mut bytes = Vec::with_capacity(frame + 12);
                let written = if let Some((packet, pt)) = event {
                    sender.write_event(now, pt, &packet, ticks, &mut bytes)
                } else if self.relaying {
                    // The other leg's packets are our audio.
                    return self.report(now, params, remote, out, events);
                } else {
                    let mut pcm = vec![0i16; frame];
                    if let Some(tone) = self.tone.as_mut() {
                        tone.fill(&mut pcm);
                    } else if let Some(other) = self.bridged.as_ref() {
                        // Anchored transfer: the other leg's audio, not the attendant's.
                        for (o, s) in pcm.iter_mut().zip(other) {
                            *o = *s;
                        }
                    } else if let (false, Some(mic)) = (self.muted, self.mic.as_ref()) {
                        for (o, s) in pcm.iter_mut().zip(mic) {
                            *o = *s;
                        }
                    } else if !self.muted {
                        fill_source(
                            &self.source,
                            &mut self.source_phase,
                            codec.pcm_rate(),
                            &mut pcm,
                        );
                    }
                    self.scratch.clear();
                    match codec.encode(&pcm, &mut self.scratch) {
                        Ok(()) => sender.write_audio(now, &self.scratch, ticks, &mut bytes),
                        Err(_) => return,
                    }
                };
                if written.is_ok() {
                    out.push(Outgoing {
                        rtcp: false,
                        to,
                        bytes,
                    });
                }
            }
            _ if self.relaying => {}
            _ => sender.skip(ticks),
        }
        self.report(now, params, remote, out, events);
    }

    /// RTCP and quality figures, when due.
    fn report(
        &mut self,
        now: Duration,
        params: StreamParams,
        remote: Option<SocketAddr>,
        out: &mut Vec<Outgoing>,
        events: &mut Vec<MediaEvent>,
    ) {
        if now >= self.next_rtcp {
            self.next_rtcp = now + RTCP_INTERVAL;
            if let Some(to) = remote {
                let ntp = ntp_timestamp(self.epoch_unix + now);
                let mut bytes = Vec::new();
                let sending = params.direction.sends();
                let sender = if sending { self.sender.as_mut() } else { None };
                if self
                    .rtcp
                    .build_report(now, ntp, sender, &mut self.receiver, &mut bytes)
                    .is_ok()
                {
                    let rtcp_to = SocketAddr::new(to.ip(), to.port().wrapping_add(1));
                    out.push(Outgoing {
                        rtcp: true,
                        to: rtcp_to,
                        bytes,
                    });
                }
            }
        }
        if now >= self.next_quality {
            self.next_quality = now + QUALITY_INTERVAL;
            if let Some(sender) = self.sender.as_ref() {
                let q = media_engine::CallQuality::new(
                    params.codec,
                    sender,
                    &self.receiver,
                    &self.rtcp,
                    // Relayed packets pass no playout buffer (and the idle one would count
                    // the time since it was last fed as delay).
                    if self.relaying {
                        0.0
                    } else {
                        self.jitter.current_delay_ms(now)
                    },
                );
                events.push(MediaEvent::Quality {
                    call: self.call.clone(),
                    quality: CallQuality {
                        codec: console_core::media::codec_label(params.codec),
                        packets_sent: q.packets_sent,
                        packets_received: q.packets_received,
                        loss_percent: round2(q.loss_percent),
                        jitter_ms: round2(q.jitter_ms),
                        rtt_ms: q.rtt_ms.map(round2),
                        mos: round2(q.mos),
                    },
                });
            }
        }
    }
}

fn fill_source(source: &Source, phase: &mut f64, rate: u32, pcm: &mut [i16]) {
    match source {
        Source::Silence => pcm.fill(0),
        Source::Tone(hz) => {
            let step = std::f64::consts::TAU * hz / f64::from(rate.max(1));
            for s in pcm.iter_mut() {
                // About -10 dBFS: loud enough to measure, far from clipping.
                *s = (phase.sin() * 10_000.0) as i16;
                *phase = (*phase + step) % std::f64::consts::TAU;
            }
        }
    }
}

/// 64-bit NTP timestamp for a time since the Unix epoch.
fn ntp_timestamp(since_unix: Duration) -> u64 {
    let secs = since_unix.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(remote: SocketAddr, dir: Direction) -> StreamParams {
        StreamParams {
            remote,
            codec: CodecKind::Pcmu,
            payload_type: 0,
            dtmf_payload_type: Some(101),
            direction: dir,
        }
    }

    fn pair() -> (Stream, Stream, SocketAddr, SocketAddr) {
        let a_addr: SocketAddr = "127.0.0.1:20000".parse().expect("literal");
        let b_addr: SocketAddr = "127.0.0.1:30000".parse().expect("literal");
        let mut a = Stream::new(
            CallId("a".into()),
            Source::Tone(1004.0),
            "us",
            Duration::ZERO,
        );
        let mut b = Stream::new(CallId("b".into()), Source::Silence, "us", Duration::ZERO);
        a.configure(Duration::ZERO, params(b_addr, Direction::SendRecv));
        b.configure(Duration::ZERO, params(a_addr, Direction::SendRecv));
        (a, b, a_addr, b_addr)
    }

    /// Runs both streams for `ms` of virtual time, delivering packets instantly.
    fn run(
        a: &mut Stream,
        b: &mut Stream,
        a_addr: SocketAddr,
        start_ms: u64,
        ms: u64,
    ) -> (Vec<i16>, Vec<MediaEvent>, usize) {
        let mut heard_by_b = Vec::new();
        let mut events = Vec::new();
        let mut sent_by_a = 0;
        for t in (start_ms..start_ms + ms).step_by(20) {
            let now = Duration::from_millis(t);
            let mut out = Vec::new();
            a.tick(now, &mut out, &mut events);
            for o in out.iter().filter(|o| !o.rtcp) {
                sent_by_a += 1;
                b.on_rtp(now, a_addr, &o.bytes, &mut events);
            }
            let mut back = Vec::new();
            b.tick(now, &mut back, &mut events);
            for o in back.iter().filter(|o| !o.rtcp) {
                a.on_rtp(now, o.to, &o.bytes, &mut events);
            }
            heard_by_b.extend_from_slice(b.played());
        }
        (heard_by_b, events, sent_by_a)
    }

    #[test]
    fn a_tone_crosses_the_stream_at_its_frequency() {
        let (mut a, mut b, a_addr, _) = pair();
        let (heard, events, _) = run(&mut a, &mut b, a_addr, 0, 2000);
        // Skip the jitter buffer's start-up, then look for 1004 Hz.
        let tail = &heard[heard.len() - 8000..];
        let at_tone = media_engine::goertzel(tail, 8000, 1004.0);
        let off_tone = media_engine::goertzel(tail, 8000, 1500.0);
        assert!(at_tone > 100.0 * off_tone, "{at_tone} vs {off_tone}");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, MediaEvent::Quality { .. }))
        );
    }

    #[test]
    fn relaying_hands_packets_out_and_keeps_the_quality_figure_honest() {
        let (mut a, mut b, a_addr, _) = pair();
        run(&mut a, &mut b, a_addr, 0, 1000);
        b.set_relaying(true);
        // A relaying stream returns audio packets instead of playing them, and sends none of
        // its own audio.
        let mut events = Vec::new();
        let mut relayed = 0;
        let mut own = 0;
        for t in (1000..11_000).step_by(20) {
            let now = Duration::from_millis(t);
            let mut out = Vec::new();
            a.tick(now, &mut out, &mut events);
            for o in out.iter().filter(|o| !o.rtcp) {
                if b.on_rtp(now, a_addr, &o.bytes, &mut events).is_some() {
                    relayed += 1;
                }
            }
            let mut back = Vec::new();
            b.tick(now, &mut back, &mut events);
            own += back.iter().filter(|o| !o.rtcp).count();
            assert!(b.played().is_empty());
        }
        assert_eq!((relayed, own), (500, 0));
        let mos = events
            .iter()
            .rev()
            .find_map(|e| match e {
                MediaEvent::Quality { call, quality } if call.0 == "b" => Some(quality.mos),
                _ => None,
            })
            .expect("a quality report");
        assert!(mos > 4.0, "a clean relayed stream reported MOS {mos}");
    }

    #[test]
    fn hold_stops_sending_both_ways() {
        let (mut a, mut b, a_addr, b_addr) = pair();
        run(&mut a, &mut b, a_addr, 0, 200);
        a.configure(
            Duration::from_millis(200),
            params(b_addr, Direction::Inactive),
        );
        let (_, _, sent) = run(&mut a, &mut b, a_addr, 200, 1000);
        assert_eq!(sent, 0, "no RTP while on hold");
    }

    #[test]
    fn dtmf_digits_arrive_once_each() {
        let (mut a, mut b, a_addr, _) = pair();
        a.send_dtmf("12#");
        let (_, events, _) = run(&mut a, &mut b, a_addr, 0, 2000);
        let digits: String = events
            .iter()
            .filter_map(|e| match e {
                MediaEvent::Dtmf { digit, .. } => Some(*digit),
                _ => None,
            })
            .collect();
        assert_eq!(digits, "12#");
    }

    #[test]
    fn opus_told_g711s_band_runs_at_8_khz_with_48_khz_timestamps_and_its_tone_follows() {
        let a_addr: SocketAddr = "127.0.0.1:20000".parse().expect("literal");
        let b_addr: SocketAddr = "127.0.0.1:30000".parse().expect("literal");
        let opus = |remote| StreamParams {
            codec: CodecKind::Opus,
            payload_type: 111,
            ..params(remote, Direction::SendRecv)
        };
        let mut a = Stream::new(CallId("a".into()), Source::Silence, "us", Duration::ZERO);
        let mut b = Stream::new(
            CallId("b".into()),
            Source::Tone(1004.0),
            "us",
            Duration::ZERO,
        );
        a.configure(Duration::ZERO, opus(b_addr));
        b.configure(Duration::ZERO, opus(a_addr));
        // Dial tone set at 48 kHz, then the band limit: the tone is made again at 8 kHz.
        a.set_tone(Some(ToneKind::Dial));
        assert_eq!(a.pcm_rate(), 48000);
        a.limit_bandwidth(Some(4000));
        assert_eq!(a.pcm_rate(), 8000);
        let (mut heard_by_a, mut heard_by_b, mut stamps) = (Vec::new(), Vec::new(), Vec::new());
        let mut events = Vec::new();
        for t in (0..2000).step_by(20) {
            let now = Duration::from_millis(t);
            let mut out = Vec::new();
            a.tick(now, &mut out, &mut events);
            for o in out.iter().filter(|o| !o.rtcp) {
                stamps.push(u32::from_be_bytes([
                    o.bytes[4], o.bytes[5], o.bytes[6], o.bytes[7],
                ]));
                b.on_rtp(now, a_addr, &o.bytes, &mut events);
            }
            heard_by_a.extend_from_slice(a.played());
            let mut back = Vec::new();
            b.tick(now, &mut back, &mut events);
            for o in back.iter().filter(|o| !o.rtcp) {
                a.on_rtp(now, b_addr, &o.bytes, &mut events);
            }
            heard_by_b.extend_from_slice(b.played());
        }
        assert!(
            stamps.windows(2).all(|w| w[1].wrapping_sub(w[0]) == 960),
            "RTP timestamps advance by 960 (48 kHz) per 20 ms: {:?}",
            &stamps[..5]
        );
        // A plays (and would hand a G.711 leg) 8 kHz frames: the peer's 1004 Hz.
        assert_eq!(heard_by_a.len(), 100 * 160);
        let tail = &heard_by_a[heard_by_a.len() - 8000..];
        let f1004 = media_engine::goertzel(tail, 8000, 1004.0);
        assert!(f1004 > 100.0 * media_engine::goertzel(tail, 8000, 1500.0));
        // B, an ordinary 48 kHz peer, hears US dial tone at its frequencies.
        let tail = &heard_by_b[heard_by_b.len() - 48000..];
        let f350 = media_engine::goertzel(tail, 48000, 350.0);
        let f440 = media_engine::goertzel(tail, 48000, 440.0);
        let off =
            media_engine::goertzel(tail, 48000, 58.0) + media_engine::goertzel(tail, 48000, 73.0);
        assert!(
            f350 > 50.0 * off && f440 > 50.0 * off,
            "{f350} {f440} {off}"
        );
        // Lifting the limit returns to 48 kHz.
        a.limit_bandwidth(None);
        assert_eq!(a.pcm_rate(), 48000);
    }

    #[test]
    fn dial_tone_replaces_the_source_while_set() {
        let (mut a, mut b, a_addr, _) = pair();
        a.set_tone(Some(ToneKind::Dial));
        let (heard, _, _) = run(&mut a, &mut b, a_addr, 0, 2000);
        let tail = &heard[heard.len() - 8000..];
        // US dial tone: 350 + 440 Hz, and no 1004 Hz source.
        let f350 = media_engine::goertzel(tail, 8000, 350.0);
        let f440 = media_engine::goertzel(tail, 8000, 440.0);
        let f1004 = media_engine::goertzel(tail, 8000, 1004.0);
        assert!(
            f350 > 50.0 * f1004 && f440 > 50.0 * f1004,
            "{f350} {f440} {f1004}"
        );
        a.set_tone(None);
        let (heard, _, _) = run(&mut a, &mut b, a_addr, 2000, 2000);
        let tail = &heard[heard.len() - 8000..];
        assert!(
            media_engine::goertzel(tail, 8000, 1004.0)
                > 50.0 * media_engine::goertzel(tail, 8000, 350.0)
        );
    }

    #[test]
    fn local_ringback_plays_to_the_attendant_before_any_answer_and_stops() {
        let mut stream = Stream::new(CallId("out".into()), Source::Silence, "us", Duration::ZERO);
        let (mut out, mut events) = (Vec::new(), Vec::new());
        stream.set_local_tone(Some(ToneKind::Ringback));
        let mut heard = Vec::new();
        for n in 0..10u64 {
            stream.tick(Duration::from_millis(20 * n), &mut out, &mut events);
            heard.extend_from_slice(stream.played());
        }
        assert_eq!(
            heard.len(),
            1600,
            "20 ms frames at 8 kHz while no SDP answer came yet"
        );
        let energy = |f| media_engine::goertzel(&heard, 8000, f);
        assert!(energy(440.0) > 10.0 * energy(350.0) && energy(480.0) > 10.0 * energy(350.0));
        assert!(out.is_empty(), "nothing is sent to the far end");
        stream.set_local_tone(None);
        stream.tick(Duration::from_millis(200), &mut out, &mut events);
        assert!(stream.played().is_empty(), "no tone once stopped");
    }
}
