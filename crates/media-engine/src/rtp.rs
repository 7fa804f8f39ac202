//! RTP and RTCP (RFC 3550): packet building and parsing on `rtp-types` / `rtcp-types`, the
//! sender state (SSRC, sequence, timestamp), receiver statistics (Appendix A.1, A.3, A.8),
//! SR/RR generation and parsing, RTT from LSR/DLSR, and per-call quality with an E-model MOS.
//!
//! Time is passed in as `now: Duration` since an arbitrary epoch chosen by the runtime (for
//! example the call start on a monotonic clock); nothing here reads a clock. The only wall-clock
//! value is the NTP timestamp put into an SR, which the runtime passes in as well.

use crate::codec::CodecKind;
use crate::dtmf::DtmfPacket;
use rtcp_types::{
    Compound, CompoundBuilder, Packet as RtcpPacket, ReceiverReport, ReportBlock,
    ReportBlockBuilder, RtcpPacketWriter, Sdes, SdesChunk, SdesItem, SenderReport,
};
use rtp_types::RtpPacket;
use std::collections::VecDeque;
use std::time::Duration;

/// Errors of RTP/RTCP processing. Parse errors are peer faults (drop the packet and go on);
/// write errors are caller misuse (an over-long payload).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// The datagram is not a valid RTP packet.
    #[error("invalid RTP packet: {0}")]
    Parse(String),
    /// The datagram is not a valid RTCP compound packet.
    #[error("invalid RTCP packet: {0}")]
    RtcpParse(String),
    /// A packet could not be written.
    #[error("cannot write packet: {0}")]
    Write(String),
}

/// The sending side of one RTP stream: SSRC, sequence numbers and timestamps.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    payload_type: u8,
    clock_rate: u32,
    sequence: u16,
    timestamp: u32,
    marker_next: bool,
    packets_sent: u64,
    octets_sent: u64,
    /// (RTP timestamp, time) of the last packet sent, to extrapolate the SR's RTP timestamp.
    last_sent: Option<(u32, Duration)>,
    sent_since_report: bool,
}

impl RtpSender {
    /// Creates a sender with explicit initial values (tests, or continuing a stream).
    #[must_use]
    pub fn new(
        ssrc: u32,
        payload_type: u8,
        clock_rate: u32,
        sequence: u16,
        timestamp: u32,
    ) -> Self {
        Self {
            ssrc,
            payload_type: payload_type & 0x7F,
            clock_rate: clock_rate.max(1),
            sequence,
            timestamp,
            marker_next: true,
            packets_sent: 0,
            octets_sent: 0,
            last_sent: None,
            sent_since_report: false,
        }
    }

    /// Creates a sender with a random SSRC, initial sequence number and timestamp, as RFC 3550
    /// §5.1 requires.
    #[must_use]
    pub fn with_random<R: rand::Rng + ?Sized>(
        rng: &mut R,
        payload_type: u8,
        clock_rate: u32,
    ) -> Self {
        Self::new(
            rng.random(),
            payload_type,
            clock_rate,
            rng.random(),
            rng.random(),
        )
    }

    /// Our SSRC.
    #[must_use]
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet will carry.
    #[must_use]
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }

    /// The RTP timestamp of the next frame (pass it to [`crate::dtmf::DtmfSender::poll`]).
    #[must_use]
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Packets sent so far.
    #[must_use]
    pub fn packets_sent(&self) -> u64 {
        self.packets_sent
    }

    /// Payload octets sent so far.
    #[must_use]
    pub fn octets_sent(&self) -> u64 {
        self.octets_sent
    }

    /// Changes the payload type (after a re-INVITE changed the codec).
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.payload_type = payload_type & 0x7F;
    }

    /// Marks the next packet as the start of a talk spurt (marker bit), e.g. after hold or mute.
    pub fn start_talkspurt(&mut self) {
        self.marker_next = true;
    }

    /// Advances the timestamp over `samples` not sent (silence suppression, mute, hold); the
    /// next packet starts a talk spurt.
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
        self.marker_next = true;
    }

    /// Writes one audio packet with `payload` covering `samples` samples into `out` (cleared
    /// first), then advances sequence and timestamp (both wrap around).
    ///
    /// # Errors
    /// [`RtpError::Write`] if the packet cannot be built.
    pub fn write_audio(
        &mut self,
        now: Duration,
        payload: &[u8],
        samples: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        let marker = std::mem::take(&mut self.marker_next);
        let (pt, ts) = (self.payload_type, self.timestamp);
        self.write(now, pt, ts, marker, payload, out)?;
        self.timestamp = self.timestamp.wrapping_add(samples);
        Ok(())
    }

    /// Writes a telephone-event packet from [`crate::dtmf::DtmfSender::poll`] with payload type
    /// `event_pt`, occupying the tick's `samples` on the timeline like an audio frame would.
    ///
    /// # Errors
    /// [`RtpError::Write`] if the packet cannot be built.
    pub fn write_event(
        &mut self,
        now: Duration,
        event_pt: u8,
        event: &DtmfPacket,
        samples: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        self.write(
            now,
            event_pt & 0x7F,
            event.timestamp,
            event.marker,
            &event.payload,
            out,
        )?;
        self.timestamp = self.timestamp.wrapping_add(samples);
        // Audio after an event is a new talk spurt.
        self.marker_next = true;
        Ok(())
    }

    /// Writes a packet relayed from another stream (see [`crate::relay::RtpRelay`]) with the
    /// given `sequence` and `timestamp` under our SSRC and payload type. The sender's own
    /// counters move past it (never backwards: a late, reordered packet leaves them), so its
    /// own packets continue the stream after the relay stops.
    ///
    /// # Errors
    /// [`RtpError::Write`] if the packet cannot be built.
    #[allow(clippy::too_many_arguments)]
    pub fn write_relayed(
        &mut self,
        now: Duration,
        sequence: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
        samples: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        let (own_seq, own_ts) = (self.sequence, self.timestamp);
        self.sequence = sequence;
        let pt = self.payload_type;
        self.write(now, pt, timestamp, marker, payload, out)?;
        // `write` advanced `sequence` to sequence + 1. A packet "behind" our counter (by the
        // RFC 1982 serial-number comparison) keeps the counter where it was.
        if (sequence.wrapping_sub(own_seq) as i16) < 0 {
            self.sequence = own_seq;
        }
        let next_ts = timestamp.wrapping_add(samples);
        self.timestamp = if (next_ts.wrapping_sub(own_ts) as i32) < 0 {
            own_ts
        } else {
            next_ts
        };
        self.marker_next = false;
        Ok(())
    }

    fn write(
        &mut self,
        now: Duration,
        pt: u8,
        ts: u32,
        marker: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        // The fixed header alone (version 2, no padding, extension or CSRC), written directly:
        // every packet we send or relay goes through here.
        if pt > 0x7f {
            return Err(RtpError::Write(format!("payload type {pt} is not 7 bits")));
        }
        out.clear();
        out.reserve(12 + payload.len());
        out.extend_from_slice(&[0x80, pt | if marker { 0x80 } else { 0 }]);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&ts.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
        self.sequence = self.sequence.wrapping_add(1);
        self.packets_sent += 1;
        self.octets_sent += payload.len() as u64;
        self.last_sent = Some((ts, now));
        self.sent_since_report = true;
        Ok(())
    }

    /// The RTP timestamp corresponding to `now`, extrapolated from the last packet (for SRs).
    fn rtp_time_at(&self, now: Duration) -> u32 {
        match self.last_sent {
            Some((ts, at)) => {
                let elapsed = now.saturating_sub(at);
                ts.wrapping_add(clock_ticks(elapsed, self.clock_rate))
            }
            None => self.timestamp,
        }
    }
}

/// `time` in ticks of a `rate` Hz clock, wrapping at 32 bits like an RTP timestamp (64-bit
/// arithmetic: a 128-bit division per packet showed in the relay's profile).
fn clock_ticks(time: Duration, rate: u32) -> u32 {
    let rate = u64::from(rate);
    let whole = time.as_secs().wrapping_mul(rate);
    let part = u64::from(time.subsec_nanos()) * rate / 1_000_000_000;
    whole.wrapping_add(part) as u32
}

/// A parsed, accounted RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedRtp<'a> {
    /// Sender SSRC.
    pub ssrc: u32,
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Marker bit.
    pub marker: bool,
    /// The payload (padding removed).
    pub payload: &'a [u8],
    /// `false` while the source is on probation or after an implausible sequence jump
    /// (RFC 3550 A.1). Audio can still be played; statistics ignore it.
    pub valid: bool,
}

/// Receiver statistics of the current remote source.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReceiveStats {
    /// The remote SSRC, once a packet arrived.
    pub ssrc: Option<u32>,
    /// Valid packets received (A.1 `received`).
    pub packets_received: u64,
    /// Extended highest sequence number received (cycles + max_seq).
    pub extended_highest_sequence: u64,
    /// Packets expected (extended highest - base + 1).
    pub expected: u64,
    /// Cumulative packets lost (may be negative with duplicates).
    pub cumulative_lost: i64,
    /// Interarrival jitter in RTP timestamp units (A.8).
    pub jitter: f64,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
}

const RTP_SEQ_MOD: u64 = 1 << 16;
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const MIN_SEQUENTIAL: u32 = 2;

/// RFC 3550 A.1 per-source sequence state.
#[derive(Debug, Clone, Default)]
struct Source {
    ssrc: u32,
    max_seq: u16,
    cycles: u64,
    base_seq: u64,
    bad_seq: u64,
    probation: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    transit: Option<i64>,
    jitter: f64,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Self {
        let mut s = Source {
            ssrc,
            ..Source::default()
        };
        s.init_seq(seq);
        s.max_seq = seq.wrapping_sub(1);
        s.probation = MIN_SEQUENTIAL;
        s
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u64::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// A.1 `update_seq`: returns whether the packet is valid.
    fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += RTP_SEQ_MOD;
            }
            self.max_seq = seq;
        } else if u64::from(udelta) <= RTP_SEQ_MOD - u64::from(MAX_MISORDER) {
            if u64::from(seq) == self.bad_seq {
                // Two sequential packets after a big jump: the sender restarted.
                self.init_seq(seq);
            } else {
                self.bad_seq = (u64::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        }
        // else: duplicate or reordered packet, counted as received.
        self.received += 1;
        true
    }

    fn extended_max(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    fn expected(&self) -> u64 {
        (self.extended_max() + 1).saturating_sub(self.base_seq)
    }
}

/// The receiving side of one RTP stream: parsing and RFC 3550 statistics.
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    clock_rate: u32,
    source: Option<Source>,
    /// Middle 32 bits of the NTP time of the last SR from the remote, and when it arrived.
    last_sr: Option<(u32, Duration)>,
}

impl RtpReceiver {
    /// Creates a receiver for a stream with the given RTP clock rate.
    #[must_use]
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            source: None,
            last_sr: None,
        }
    }

    /// Parses one datagram received at `now` and updates the statistics. A new SSRC (the far
    /// end restarted, or media was re-anchored) resets them.
    ///
    /// # Errors
    /// [`RtpError::Parse`] for a datagram that is not RTP version 2.
    pub fn receive<'a>(
        &mut self,
        now: Duration,
        datagram: &'a [u8],
    ) -> Result<ReceivedRtp<'a>, RtpError> {
        let packet = RtpPacket::parse(datagram).map_err(|e| RtpError::Parse(e.to_string()))?;
        let (ssrc, seq, ts) = (packet.ssrc(), packet.sequence_number(), packet.timestamp());
        let offset = packet.payload_offset();
        // rtp-types validated these bounds; `get` keeps that an invariant rather than a panic.
        let payload = datagram
            .get(offset..offset + packet.payload_len())
            .ok_or_else(|| RtpError::Parse("payload out of bounds".into()))?;
        let (payload_type, marker) = (packet.payload_type(), packet.marker_bit());
        let source = match &mut self.source {
            Some(s) if s.ssrc == ssrc => s,
            slot => slot.insert(Source::new(ssrc, seq)),
        };
        let valid = source.update_seq(seq);
        // A.8 interarrival jitter, in timestamp units.
        let arrival = clock_ticks(now, self.clock_rate);
        let transit = i64::from(arrival.wrapping_sub(ts) as i32);
        if let Some(prev) = source.transit {
            let d = (transit - prev).abs() as f64;
            source.jitter += (d - source.jitter) / 16.0;
        }
        source.transit = Some(transit);
        Ok(ReceivedRtp {
            ssrc,
            payload_type,
            sequence: seq,
            timestamp: ts,
            marker,
            payload,
            valid,
        })
    }

    /// Current statistics.
    #[must_use]
    pub fn stats(&self) -> ReceiveStats {
        let Some(s) = &self.source else {
            return ReceiveStats::default();
        };
        let expected = s.expected();
        ReceiveStats {
            ssrc: Some(s.ssrc),
            packets_received: s.received,
            extended_highest_sequence: s.extended_max(),
            expected,
            cumulative_lost: expected as i64 - s.received as i64,
            jitter: s.jitter,
            jitter_ms: s.jitter * 1000.0 / f64::from(self.clock_rate),
        }
    }

    /// Records an SR from the remote (called by [`RtcpSession::receive`]).
    fn note_sender_report(&mut self, ntp: u64, now: Duration) {
        self.last_sr = Some(((ntp >> 16) as u32, now));
    }

    /// The report block about the remote source for our next SR/RR (A.3 interval loss), or
    /// `None` before any packet arrived. Advances the "prior" counters.
    fn report_block(&mut self, now: Duration) -> Option<ReportBlockData> {
        let s = self.source.as_mut()?;
        let expected = s.expected();
        let lost = expected as i64 - s.received as i64;
        let expected_interval = expected.saturating_sub(s.expected_prior);
        s.expected_prior = expected;
        let received_interval = s.received.saturating_sub(s.received_prior);
        s.received_prior = s.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (lsr, dlsr) = match self.last_sr {
            Some((middle, at)) => {
                let delay = now.saturating_sub(at);
                (
                    middle,
                    (delay.as_nanos() * 65536 / 1_000_000_000).min(u128::from(u32::MAX)) as u32,
                )
            }
            None => (0, 0),
        };
        Some(ReportBlockData {
            ssrc: s.ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7F_FFFF) as i32,
            extended_highest_sequence: s.extended_max() as u32,
            jitter: s.jitter as u32,
            last_sr: lsr,
            delay_since_last_sr: dlsr,
        })
    }
}

/// The contents of one RTCP report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlockData {
    /// SSRC of the source reported on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// LSR: middle 32 bits of the NTP time of the last SR received, 0 if none.
    pub last_sr: u32,
    /// DLSR: delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlockData {
    fn from_parsed(rb: &ReportBlock<'_>) -> Self {
        let raw = rb.cumulative_lost() & 0xFF_FFFF;
        // Sign-extend the 24-bit field.
        let cumulative_lost = ((raw << 8) as i32) >> 8;
        Self {
            ssrc: rb.ssrc(),
            fraction_lost: rb.fraction_lost(),
            cumulative_lost,
            extended_highest_sequence: rb.extended_sequence_number(),
            jitter: rb.interarrival_jitter(),
            last_sr: rb.last_sender_report_timestamp(),
            delay_since_last_sr: rb.delay_since_last_sender_report_timestamp(),
        }
    }

    fn builder(&self) -> ReportBlockBuilder {
        ReportBlock::builder(self.ssrc)
            .fraction_lost(self.fraction_lost)
            .cumulative_lost((self.cumulative_lost as u32) & 0xFF_FFFF)
            .extended_sequence_number(self.extended_highest_sequence)
            .interarrival_jitter(self.jitter)
            .last_sender_report_timestamp(self.last_sr)
            .delay_since_last_sender_report_timestamp(self.delay_since_last_sr)
    }
}

/// What the remote told us in its last report about our stream.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RemoteReport {
    /// Fraction of our packets the remote lost in its last interval (0.0-1.0).
    pub fraction_lost: f64,
    /// Cumulative loss of our packets at the remote.
    pub cumulative_lost: i32,
    /// Jitter the remote measured on our stream, in timestamp units.
    pub jitter: u32,
}

/// RTCP for one call leg: builds our compound SR/RR + SDES and digests the remote's.
///
/// Call [`RtcpSession::build_report`] about every 5 s (RFC 3550 recommends randomising the
/// interval to 0.5-1.5 × that) and [`RtcpSession::receive`] for every RTCP datagram.
#[derive(Debug, Clone)]
pub struct RtcpSession {
    ssrc: u32,
    cname: String,
    /// (middle 32 bits of NTP, when) of the SRs we sent recently, to match LSR.
    sent_srs: VecDeque<(u32, Duration)>,
    rtt: Option<Duration>,
    remote: Option<RemoteReport>,
}

impl RtcpSession {
    /// Creates a session for our SSRC with the given CNAME (e.g. `switchboard@host`).
    #[must_use]
    pub fn new(ssrc: u32, cname: impl Into<String>) -> Self {
        Self {
            ssrc,
            cname: cname.into(),
            sent_srs: VecDeque::new(),
            rtt: None,
            remote: None,
        }
    }

    /// Latest round-trip time estimate.
    #[must_use]
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The remote's latest report about our stream.
    #[must_use]
    pub fn remote_report(&self) -> Option<RemoteReport> {
        self.remote
    }

    /// Writes a compound RTCP packet into `out` (cleared first): an SR if we sent RTP since the
    /// last report, else an RR, with a report block about the remote source if we receive one,
    /// followed by an SDES CNAME. `ntp` is the current wall-clock time in NTP format.
    ///
    /// # Errors
    /// [`RtpError::Write`] if the CNAME is too long (over 255 bytes).
    pub fn build_report(
        &mut self,
        now: Duration,
        ntp: u64,
        sender: Option<&mut RtpSender>,
        receiver: &mut RtpReceiver,
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        let block = receiver.report_block(now).map(|b| b.builder());
        let sdes = Sdes::builder().add_chunk(
            SdesChunk::builder(self.ssrc).add_item(SdesItem::builder(SdesItem::CNAME, &self.cname)),
        );
        let mut compound = CompoundBuilder::default();
        match sender {
            Some(sender) if sender.sent_since_report => {
                sender.sent_since_report = false;
                let mut sr = SenderReport::builder(self.ssrc)
                    .ntp_timestamp(ntp)
                    .rtp_timestamp(sender.rtp_time_at(now))
                    .packet_count(sender.packets_sent as u32)
                    .octet_count(sender.octets_sent as u32);
                if let Some(b) = block {
                    sr = sr.add_report_block(b);
                }
                if self.sent_srs.len() == 8 {
                    self.sent_srs.pop_front();
                }
                self.sent_srs.push_back(((ntp >> 16) as u32, now));
                compound = compound.add_packet(sr);
            }
            _ => {
                let mut rr = ReceiverReport::builder(self.ssrc);
                if let Some(b) = block {
                    rr = rr.add_report_block(b);
                }
                compound = compound.add_packet(rr);
            }
        }
        compound = compound.add_packet(sdes);
        let size = compound
            .calculate_size()
            .map_err(|e| RtpError::Write(e.to_string()))?;
        out.clear();
        out.resize(size, 0);
        compound.write_into_unchecked(out);
        Ok(())
    }

    /// Digests one RTCP datagram received at `now`: a remote SR feeds our next report's
    /// LSR/DLSR; a report block about our SSRC updates [`RtcpSession::remote_report`] and, if
    /// it echoes one of our SRs, the RTT (`now - sent - DLSR`). Returns the report blocks about
    /// us that were found.
    ///
    /// # Errors
    /// [`RtpError::RtcpParse`] for a malformed datagram (drop it).
    pub fn receive(
        &mut self,
        now: Duration,
        datagram: &[u8],
        receiver: &mut RtpReceiver,
    ) -> Result<Vec<ReportBlockData>, RtpError> {
        let compound = Compound::parse(datagram).map_err(|e| RtpError::RtcpParse(e.to_string()))?;
        let mut about_us = Vec::new();
        for packet in compound {
            let packet = packet.map_err(|e| RtpError::RtcpParse(e.to_string()))?;
            let blocks: Vec<ReportBlockData> = match &packet {
                RtcpPacket::Sr(sr) => {
                    receiver.note_sender_report(sr.ntp_timestamp(), now);
                    sr.report_blocks()
                        .map(|b| ReportBlockData::from_parsed(&b))
                        .collect()
                }
                RtcpPacket::Rr(rr) => rr
                    .report_blocks()
                    .map(|b| ReportBlockData::from_parsed(&b))
                    .collect(),
                _ => Vec::new(),
            };
            for block in blocks.into_iter().filter(|b| b.ssrc == self.ssrc) {
                self.remote = Some(RemoteReport {
                    fraction_lost: f64::from(block.fraction_lost) / 256.0,
                    cumulative_lost: block.cumulative_lost,
                    jitter: block.jitter,
                });
                if block.last_sr != 0
                    && let Some(&(_, sent)) =
                        self.sent_srs.iter().find(|(mid, _)| *mid == block.last_sr)
                {
                    let dlsr = Duration::from_nanos(
                        u64::from(block.delay_since_last_sr) * 1_000_000_000 / 65536,
                    );
                    self.rtt = Some(now.saturating_sub(sent).saturating_sub(dlsr));
                }
                about_us.push(block);
            }
        }
        Ok(about_us)
    }
}

/// Per-call quality figures, as shown in the console and `call.stats`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallQuality {
    /// The codec in use.
    pub codec: CodecKind,
    /// RTP packets we sent.
    pub packets_sent: u64,
    /// RTP packets we received.
    pub packets_received: u64,
    /// Receive loss in percent (cumulative lost / expected).
    pub loss_percent: f64,
    /// Receive interarrival jitter in ms (RFC 3550 A.8).
    pub jitter_ms: f64,
    /// Round-trip time in ms, once the remote echoed one of our SRs.
    pub rtt_ms: Option<f64>,
    /// Estimated MOS-CQE (1.0-4.5) from [`estimate_mos`].
    pub mos: f64,
}

impl CallQuality {
    /// Gathers the figures of one call leg. `jitter_buffer_ms` is the current playout delay.
    #[must_use]
    pub fn new(
        codec: CodecKind,
        sender: &RtpSender,
        receiver: &RtpReceiver,
        rtcp: &RtcpSession,
        jitter_buffer_ms: f64,
    ) -> Self {
        let stats = receiver.stats();
        let loss_percent = if stats.expected == 0 {
            0.0
        } else {
            (stats.cumulative_lost.max(0) as f64 * 100.0 / stats.expected as f64).min(100.0)
        };
        let rtt_ms = rtcp.rtt().map(|d| d.as_secs_f64() * 1000.0);
        Self {
            codec,
            packets_sent: sender.packets_sent(),
            packets_received: stats.packets_received,
            loss_percent,
            jitter_ms: stats.jitter_ms,
            rtt_ms,
            mos: estimate_mos(
                codec,
                loss_percent,
                rtt_ms.unwrap_or(0.0) / 2.0 + jitter_buffer_ms + 20.0,
            ),
        }
    }
}

/// MOS from a simplified ITU-T G.107 E-model (the usual "Cole & Rosenbluth" reduction):
///
/// - `R = 93.2 - Id - Ie_eff`
/// - `Id = 0.024·d + 0.11·(d - 177.3)·H(d - 177.3)` with `d` the one-way mouth-to-ear delay in
///   ms (callers use RTT/2 + jitter-buffer delay + 20 ms packetisation) and `H` the step
///   function;
/// - `Ie_eff = Ie + (95 - Ie)·Ppl / (Ppl + Bpl)` (G.107 with random loss, BurstR = 1), `Ppl`
///   the loss in percent; G.113 values: G.711 with PLC `Ie = 0, Bpl = 25.1`; for Opus (no
///   G.113 entry) we assume `Ie = 0, Bpl = 30` (wideband is rated on the narrowband scale here);
/// - `MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R - 60)·(100 - R)`, clamped to 1.0-4.5.
#[must_use]
pub fn estimate_mos(codec: CodecKind, loss_percent: f64, one_way_delay_ms: f64) -> f64 {
    let (ie, bpl) = match codec {
        CodecKind::Pcmu | CodecKind::Pcma => (0.0, 25.1),
        CodecKind::Opus => (0.0, 30.0),
    };
    let d = one_way_delay_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = loss_percent.clamp(0.0, 100.0);
    let ie_eff = ie + (95.0 - ie) * ppl / (ppl + bpl);
    let r = 93.2 - id - ie_eff;
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)).clamp(1.0, 4.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    const MS: Duration = Duration::from_millis(1);

    proptest! {
        #[test]
        fn clock_ticks_are_the_exact_product_modulo_2_32(
            nanos in 0u64..u64::MAX / 2,
            rate in prop::sample::select(vec![8000u32, 16_000, 48_000, 90_000]),
        ) {
            let time = Duration::from_nanos(nanos);
            let exact = (u128::from(nanos) * u128::from(rate) / 1_000_000_000) as u32;
            prop_assert_eq!(clock_ticks(time, rate), exact);
        }

        #[test]
        fn written_headers_parse_back(
            pt in 0u8..128,
            marker: bool,
            seq: u16,
            ts: u32,
            ssrc: u32,
            payload in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut tx = RtpSender::new(ssrc, pt, 8000, seq, ts);
            let mut out = Vec::new();
            tx.write_relayed(Duration::ZERO, seq, ts, marker, &payload, 160, &mut out)
                .expect("write");
            let packet = RtpPacket::parse(&out[..]).expect("parse");
            prop_assert_eq!(packet.payload_type(), pt);
            prop_assert_eq!(packet.marker_bit(), marker);
            prop_assert_eq!(packet.sequence_number(), seq);
            prop_assert_eq!(packet.timestamp(), ts);
            prop_assert_eq!(packet.ssrc(), ssrc);
            prop_assert_eq!(packet.payload(), &payload[..]);
        }
    }

    #[test]
    fn sender_builds_parseable_packets_with_marker_and_wrap() {
        let mut tx = RtpSender::new(0x1234_5678, 0, 8000, 65534, u32::MAX - 159);
        let mut rx = RtpReceiver::new(8000);
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        for i in 0..4u32 {
            tx.write_audio(MS * (20 * i), &[0xFF; 160], 160, &mut buf)
                .expect("write");
            let p = rx.receive(MS * (20 * i + 30), &buf).expect("parse");
            seen.push((p.sequence, p.timestamp, p.marker, p.payload.len()));
        }
        assert_eq!(
            seen,
            vec![
                (65534, u32::MAX - 159, true, 160),
                (65535, 0, false, 160),
                (0, 160, false, 160),
                (1, 320, false, 160)
            ]
        );
        tx.skip(160);
        tx.write_audio(MS * 100, &[0xFF; 160], 160, &mut buf)
            .expect("write");
        assert!(
            rx.receive(MS * 130, &buf).expect("parse").marker,
            "talk spurt after a gap"
        );
        assert_eq!(rx.stats().extended_highest_sequence, 65536 + 2);
        assert!(rx.receive(MS, &[0u8; 5]).is_err());
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = RtpSender::with_random(&mut rng, 0, 8000);
        let b = RtpSender::with_random(&mut rng, 0, 8000);
        assert_ne!(a.ssrc(), b.ssrc());
    }

    proptest! {
        /// Extended sequence numbers never go backwards across 65535 -> 0, whatever the start,
        /// with in-order streams and small losses, once the source is valid.
        #[test]
        fn extended_sequence_is_monotonic_across_wrap(
            start in any::<u16>(),
            ts0 in any::<u32>(),
            gaps in proptest::collection::vec(1u16..4, 10..400),
        ) {
            let mut tx = RtpSender::new(1, 0, 8000, start, ts0);
            let mut rx = RtpReceiver::new(8000);
            let mut buf = Vec::new();
            let mut last_ext = None;
            let mut last_ts = ts0;
            for (i, gap) in gaps.iter().enumerate() {
                for _ in 1..*gap {
                    tx.skip(160);
                    // skipped packets still consume a sequence number: emulate a loss
                    tx.write_audio(MS, &[0; 160], 0, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
                tx.write_audio(MS * (20 * i as u32), &[0; 160], 160, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let p = rx.receive(MS * (20 * i as u32), &buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(p.timestamp.wrapping_sub(last_ts) % 160, 0);
                last_ts = p.timestamp;
                // While the source is on probation (RFC 3550 A.1: every gap restarts it) the
                // count restarts too; monotonic is promised only once the source is valid.
                if !p.valid {
                    last_ext = None;
                    continue;
                }
                let ext = rx.stats().extended_highest_sequence;
                if let Some(prev) = last_ext {
                    prop_assert!(ext > prev, "{} -> {}", prev, ext);
                }
                last_ext = Some(ext);
            }
        }
    }

    #[test]
    fn receiver_stats_follow_rfc3550() {
        let mut tx = RtpSender::new(9, 0, 8000, 100, 0);
        let mut rx = RtpReceiver::new(8000);
        let mut buf = Vec::new();
        // 100 packets, every 10th lost; constant delay: zero jitter.
        for i in 0..100u32 {
            tx.write_audio(MS * (20 * i), &[0; 160], 160, &mut buf)
                .expect("write");
            if i % 10 != 5 {
                let p = rx.receive(MS * (20 * i + 40), &buf).expect("parse");
                assert_eq!(
                    p.valid,
                    i >= 1,
                    "probation: the first packet is not yet valid"
                );
            }
        }
        let s = rx.stats();
        assert_eq!(s.expected, 99);
        assert_eq!(s.packets_received, 89);
        assert_eq!(s.cumulative_lost, 10);
        assert!(s.jitter < 1e-9);
        let block = rx.report_block(MS * 2000).expect("source known");
        assert_eq!(block.fraction_lost, (10 * 256 / 99) as u8);
        assert_eq!(block.cumulative_lost, 10);
        // The next interval without loss reports 0.
        for i in 100..150u32 {
            tx.write_audio(MS * (20 * i), &[0; 160], 160, &mut buf)
                .expect("write");
            // alternate +0/+10 ms delay: |D| = 80 units each packet -> jitter converges to 80.
            let extra = if i % 2 == 0 { 10 } else { 0 };
            rx.receive(MS * (20 * i + 40 + extra), &buf).expect("parse");
        }
        assert_eq!(rx.report_block(MS * 3000).map(|b| b.fraction_lost), Some(0));
        let j = rx.stats().jitter;
        assert!((j - 80.0).abs() < 5.0, "jitter {j}");
        assert!((rx.stats().jitter_ms - 10.0).abs() < 1.0);
    }

    #[test]
    fn sr_rr_round_trip_gives_rtt() {
        let mut a_tx = RtpSender::new(0xA, 0, 8000, 0, 0);
        let mut b_tx = RtpSender::new(0xB, 0, 8000, 0, 0);
        let mut a_rx = RtpReceiver::new(8000);
        let mut b_rx = RtpReceiver::new(8000);
        let mut a_rtcp = RtcpSession::new(0xA, "a@test");
        let mut b_rtcp = RtcpSession::new(0xB, "b@test");
        let one_way = MS * 40;
        let mut buf = Vec::new();
        for i in 0..50u32 {
            let now = MS * (20 * i);
            a_tx.write_audio(now, &[0; 160], 160, &mut buf)
                .expect("write");
            b_rx.receive(now + one_way, &buf).expect("parse");
            b_tx.write_audio(now, &[0; 160], 160, &mut buf)
                .expect("write");
            a_rx.receive(now + one_way, &buf).expect("parse");
        }
        // A sends an SR at t=1 s; B receives it at 1.04 s and answers 300 ms later.
        let t = Duration::from_secs(1);
        a_rtcp
            .build_report(
                t,
                0x1234_5678_9ABC_0000,
                Some(&mut a_tx),
                &mut a_rx,
                &mut buf,
            )
            .expect("sr");
        let parsed = b_rtcp
            .receive(t + one_way, &buf, &mut b_rx)
            .expect("parse sr");
        // A's SR carries a block about B's stream (no LSR yet, so no RTT at B).
        assert_eq!(parsed.len(), 1);
        assert_eq!(b_rtcp.rtt(), None);
        b_rtcp
            .build_report(t + one_way + MS * 300, 0, None, &mut b_rx, &mut buf)
            .expect("rr");
        let blocks = a_rtcp
            .receive(t + one_way * 2 + MS * 300, &buf, &mut a_rx)
            .expect("rr");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].cumulative_lost, 0);
        let rtt = a_rtcp.rtt().expect("rtt known");
        assert!((rtt.as_secs_f64() - 0.080).abs() < 0.001, "rtt {rtt:?}");
        let q = CallQuality::new(CodecKind::Pcmu, &a_tx, &a_rx, &a_rtcp, 40.0);
        assert_eq!(q.packets_sent, 50);
        assert_eq!(q.loss_percent, 0.0);
        assert!(q.mos > 4.3, "mos {}", q.mos);
        assert_eq!(q.rtt_ms.map(|r| r.round()), Some(80.0));
    }

    #[test]
    fn mos_falls_with_loss_and_delay() {
        let clean = estimate_mos(CodecKind::Pcmu, 0.0, 60.0);
        let lossy = estimate_mos(CodecKind::Pcmu, 3.0, 60.0);
        let slow = estimate_mos(CodecKind::Pcmu, 0.0, 400.0);
        assert!(clean > 4.3 && clean <= 4.5, "{clean}");
        assert!(lossy < clean && lossy > 3.5, "{lossy}");
        assert!(slow < 3.8, "{slow}");
        assert_eq!(estimate_mos(CodecKind::Opus, 100.0, 1000.0), 1.0);
    }
}
