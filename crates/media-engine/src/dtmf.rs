//! DTMF: RFC 4733 telephone-event send and receive, and SIP INFO `application/dtmf-relay`.
//!
//! Sending: [`DtmfSender::poll`] is called once per 20 ms media tick with the RTP timestamp the
//! audio frame of that tick would carry. While it returns a packet, the media task sends that
//! packet (payload type = negotiated telephone-event) *instead of* audio; RTP timestamps keep
//! advancing by one frame per tick either way.

use std::collections::VecDeque;

/// One telephone-event RTP packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// The 4-byte RFC 4733 payload.
    pub payload: [u8; 4],
    /// RTP timestamp: the start of the event, identical for all its packets.
    pub timestamp: u32,
    /// RTP marker bit: set on the first packet of an event only.
    pub marker: bool,
    /// Whether this is an end packet (E bit set).
    pub end: bool,
}

/// Errors of DTMF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// The digit string holds a character that is not a DTMF digit (API misuse → 400).
    #[error("not a DTMF digit: {0:?}")]
    InvalidDigit(char),
    /// The clock rate is not one telephone-event is negotiated at (8000 or 48000).
    #[error("unsupported telephone-event clock rate {0}")]
    ClockRate(u32),
}

/// RFC 4733 event code of a digit (`0-9` → 0-9, `*` → 10, `#` → 11, `A-D` → 12-15).
#[must_use]
pub fn event_code(digit: char) -> Option<u8> {
    Some(match digit.to_ascii_uppercase() {
        d @ '0'..='9' => d as u8 - b'0',
        '*' => 10,
        '#' => 11,
        d @ 'A'..='D' => d as u8 - b'A' + 12,
        _ => return None,
    })
}

/// The digit of an RFC 4733 event code 0-15.
#[must_use]
pub fn event_digit(code: u8) -> Option<char> {
    Some(match code {
        0..=9 => char::from(b'0' + code),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + code - 12),
        _ => return None,
    })
}

/// Sender timing parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfTiming {
    /// Tone duration of each digit in ms (rounded up to whole ticks; at least 40).
    pub duration_ms: u32,
    /// Silence between digits in ms (rounded up to whole ticks).
    pub gap_ms: u32,
    /// Tick (packet interval) in ms, 20 for our media loop.
    pub tick_ms: u32,
    /// Volume field, in -dBm0 (RFC 4733: 0-63; 10 is usual).
    pub volume: u8,
}

impl Default for DtmfTiming {
    fn default() -> Self {
        Self {
            duration_ms: 100,
            gap_ms: 60,
            tick_ms: 20,
            volume: 10,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum SendState {
    Idle,
    /// Sending update packets; `ticks` sent so far.
    Tone {
        code: u8,
        start: u32,
        ticks: u32,
    },
    /// Sending the end packet; `sent` copies so far (3 in all).
    End {
        code: u8,
        start: u32,
        duration: u16,
        sent: u8,
    },
    /// Gap ticks left before the next digit.
    Gap {
        ticks: u32,
    },
}

/// RFC 4733 telephone-event sender for one RTP stream.
///
/// Rules followed: every packet of an event carries the event's start timestamp; the duration
/// field grows by one tick per packet; the marker bit is set on the first packet; the end
/// packet (E bit, final duration) is sent three times; digits are separated by a gap.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    timing: DtmfTiming,
    samples_per_tick: u32,
    tone_ticks: u32,
    gap_ticks: u32,
    queue: VecDeque<u8>,
    state: SendState,
}

impl DtmfSender {
    /// Creates a sender for a telephone-event negotiated at `clock_rate` (8000 or 48000).
    ///
    /// # Errors
    /// [`DtmfError::ClockRate`] for another rate.
    pub fn new(clock_rate: u32, timing: DtmfTiming) -> Result<Self, DtmfError> {
        if clock_rate != 8000 && clock_rate != 48000 {
            return Err(DtmfError::ClockRate(clock_rate));
        }
        let tick_ms = timing.tick_ms.max(1);
        let samples_per_tick = clock_rate / 1000 * tick_ms;
        let tone_ticks = timing.duration_ms.max(40).div_ceil(tick_ms);
        // The duration field is 16 bits: cap one event below it (3.4 s at 48 kHz is plenty).
        let max_ticks = u32::from(u16::MAX) / samples_per_tick;
        Ok(Self {
            timing,
            samples_per_tick,
            tone_ticks: tone_ticks.min(max_ticks),
            gap_ticks: timing.gap_ms.div_ceil(tick_ms),
            queue: VecDeque::new(),
            state: SendState::Idle,
        })
    }

    /// Queues digits (`0-9*#A-D`) to send. All or nothing: an invalid digit queues none.
    ///
    /// # Errors
    /// [`DtmfError::InvalidDigit`].
    pub fn send(&mut self, digits: &str) -> Result<(), DtmfError> {
        let codes = digits
            .chars()
            .map(|c| event_code(c).ok_or(DtmfError::InvalidDigit(c)))
            .collect::<Result<Vec<_>, _>>()?;
        self.queue.extend(codes);
        Ok(())
    }

    /// Whether the sender is idle with nothing queued.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        matches!(self.state, SendState::Idle) && self.queue.is_empty()
    }

    /// Call once per media tick with the RTP timestamp of this tick. `Some` means: send this
    /// telephone-event packet instead of the audio frame of this tick.
    #[must_use]
    pub fn poll(&mut self, rtp_timestamp: u32) -> Option<DtmfPacket> {
        loop {
            match self.state {
                SendState::Idle => {
                    let code = self.queue.pop_front()?;
                    self.state = SendState::Tone {
                        code,
                        start: rtp_timestamp,
                        ticks: 0,
                    };
                }
                SendState::Tone { code, start, ticks } => {
                    let ticks = ticks + 1;
                    let duration = self.duration(ticks);
                    if ticks >= self.tone_ticks {
                        self.state = SendState::End {
                            code,
                            start,
                            duration,
                            sent: 1,
                        };
                        return Some(self.packet(code, start, duration, ticks == 1, true));
                    }
                    self.state = SendState::Tone { code, start, ticks };
                    return Some(self.packet(code, start, duration, ticks == 1, false));
                }
                SendState::End {
                    code,
                    start,
                    duration,
                    sent,
                } => {
                    if sent >= 3 {
                        self.state = SendState::Gap {
                            ticks: self.gap_ticks,
                        };
                        continue;
                    }
                    self.state = SendState::End {
                        code,
                        start,
                        duration,
                        sent: sent + 1,
                    };
                    return Some(self.packet(code, start, duration, false, true));
                }
                SendState::Gap { ticks } => {
                    if ticks == 0 {
                        self.state = SendState::Idle;
                        // The gap is over: the next digit (if any) may start this very tick.
                        continue;
                    }
                    self.state = SendState::Gap { ticks: ticks - 1 };
                    return None;
                }
            }
        }
    }

    fn duration(&self, ticks: u32) -> u16 {
        u16::try_from(ticks * self.samples_per_tick).unwrap_or(u16::MAX)
    }

    fn packet(&self, code: u8, start: u32, duration: u16, marker: bool, end: bool) -> DtmfPacket {
        let [d_hi, d_lo] = duration.to_be_bytes();
        DtmfPacket {
            payload: [
                code,
                (u8::from(end) << 7) | (self.timing.volume & 0x3F),
                d_hi,
                d_lo,
            ],
            timestamp: start,
            marker,
            end,
        }
    }
}

/// A telephone-event payload, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-15 are DTMF digits).
    pub event: u8,
    /// E bit.
    pub end: bool,
    /// Volume in -dBm0.
    pub volume: u8,
    /// Duration in RTP timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes of an RFC 4733 payload; `None` if shorter.
    #[must_use]
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let [event, flags, d_hi, d_lo, ..] = *payload else {
            return None;
        };
        Some(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d_hi, d_lo]),
        })
    }
}

/// A digit reported by [`DtmfReceiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedDigit {
    /// The digit (`0-9*#A-D`).
    pub digit: char,
    /// RTP timestamp of the event start (its identity).
    pub timestamp: u32,
}

/// RFC 4733 telephone-event receiver: reports every digit exactly once.
///
/// A digit is reported on the first packet seen for a new event timestamp, so a lost start
/// packet (or lost end packets) does not lose the digit, and retransmitted end packets, late
/// reordered packets of an earlier event, and duplicates are ignored (the last
/// [`DtmfReceiver::MEMORY`] event timestamps are remembered). A long event split into segments
/// (duration overflow, RFC 4733 §2.5.1.3) is recognised as a continuation, not a new digit.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    recent: VecDeque<u32>,
    last: Option<(u8, u32, u16, bool)>,
}

impl DtmfReceiver {
    /// Event timestamps remembered for de-duplication.
    pub const MEMORY: usize = 32;

    /// Creates a receiver.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event packet (its RTP timestamp and payload). Returns the digit if
    /// this packet is the first one seen of a new event. Non-DTMF events (16+) are ignored.
    #[must_use]
    pub fn receive(&mut self, rtp_timestamp: u32, payload: &[u8]) -> Option<ReceivedDigit> {
        let ev = TelephoneEvent::parse(payload)?;
        if self.recent.contains(&rtp_timestamp) {
            if let Some(last) = self.last.as_mut()
                && last.1 == rtp_timestamp
            {
                last.2 = last.2.max(ev.duration);
                last.3 |= ev.end;
            }
            return None;
        }
        let digit = event_digit(ev.event)?;
        // Continuation segment of a long event: same event, previous segment not ended and at
        // (nearly) the maximum duration, and this segment starts where it ended.
        let continuation = self.last.is_some_and(|(code, ts, duration, ended)| {
            code == ev.event
                && !ended
                && duration >= 0xF000
                && rtp_timestamp.wrapping_sub(ts) <= u32::from(duration) + 960
        });
        self.remember(rtp_timestamp);
        self.last = Some((ev.event, rtp_timestamp, ev.duration, ev.end));
        (!continuation).then_some(ReceivedDigit {
            digit,
            timestamp: rtp_timestamp,
        })
    }

    fn remember(&mut self, ts: u32) {
        if self.recent.len() == Self::MEMORY {
            self.recent.pop_front();
        }
        self.recent.push_back(ts);
    }
}

/// Parses a SIP INFO `application/dtmf-relay` body (`Signal=5\r\nDuration=160`).
///
/// Keys are case-insensitive, lines may end in CRLF or LF, spaces are allowed around `=`.
/// `Signal` may be a digit character or the numeric codes 10 (`*`) and 11 (`#`) some phones
/// send. A missing or unparsable `Duration` defaults to 250 ms. Returns `None` without a valid
/// `Signal`.
#[must_use]
pub fn parse_dtmf_relay(body: &str) -> Option<(char, u32)> {
    let mut signal = None;
    let mut duration = 250u32;
    for line in body.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("signal") {
            signal = match value {
                "10" => Some('*'),
                "11" => Some('#'),
                v => {
                    let mut chars = v.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) if event_code(c).is_some() => Some(c.to_ascii_uppercase()),
                        _ => None,
                    }
                }
            };
        } else if key.eq_ignore_ascii_case("duration")
            && let Ok(ms) = value.parse::<u32>()
        {
            duration = ms;
        }
    }
    signal.map(|s| (s, duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a sender tick by tick; returns (tick, packet) pairs.
    fn run(sender: &mut DtmfSender, ticks: u32, samples: u32) -> Vec<(u32, DtmfPacket)> {
        let mut ts = 1000u32;
        let mut out = Vec::new();
        for tick in 0..ticks {
            if let Some(p) = sender.poll(ts) {
                out.push((tick, p));
            }
            ts = ts.wrapping_add(samples);
        }
        out
    }

    #[test]
    fn sender_follows_rfc4733_rules() {
        for (rate, samples) in [(8000u32, 160u32), (48000, 960)] {
            let mut s = DtmfSender::new(rate, DtmfTiming::default()).expect("rate");
            s.send("1#").expect("digits");
            let packets = run(&mut s, 40, samples);
            // 100 ms = 5 updates (the 5th with E) + 2 more E copies, per digit.
            assert_eq!(packets.len(), 14);
            for digit in packets.chunks(7) {
                let start = digit[0].1.timestamp;
                for (i, (_, p)) in digit.iter().enumerate() {
                    assert_eq!(p.timestamp, start, "same timestamp for the whole event");
                    assert_eq!(p.marker, i == 0, "marker on the first packet only");
                    let ev = TelephoneEvent::parse(&p.payload).expect("4 bytes");
                    let expected = samples * (i as u32 + 1).min(5);
                    assert_eq!(u32::from(ev.duration), expected);
                    assert_eq!(ev.end, i >= 4);
                    assert_eq!(ev.volume, 10);
                }
                // Consecutive ticks inside one event.
                assert!(digit.windows(2).all(|w| w[1].0 == w[0].0 + 1));
            }
            assert_eq!(
                TelephoneEvent::parse(&packets[0].1.payload).map(|e| e.event),
                Some(1)
            );
            assert_eq!(
                TelephoneEvent::parse(&packets[7].1.payload).map(|e| e.event),
                Some(11)
            );
            // Gap of 60 ms = 3 silent ticks between the last end copy and the next digit.
            assert_eq!(packets[7].0 - packets[6].0, 4);
            // The second event starts at the timestamp of its own first tick.
            assert_eq!(packets[7].1.timestamp, 1000 + packets[7].0 * samples);
            assert!(s.is_idle());
        }
        assert!(DtmfSender::new(16000, DtmfTiming::default()).is_err());
        let mut s = DtmfSender::new(8000, DtmfTiming::default()).expect("rate");
        assert_eq!(s.send("12x"), Err(DtmfError::InvalidDigit('x')));
        assert!(s.is_idle());
    }

    #[test]
    fn receiver_reports_each_digit_once_despite_loss_dupes_and_reorder() {
        let mut s = DtmfSender::new(8000, DtmfTiming::default()).expect("rate");
        s.send("123*#").expect("digits");
        let packets: Vec<DtmfPacket> = run(&mut s, 80, 160).into_iter().map(|(_, p)| p).collect();
        assert_eq!(packets.len(), 35);

        // Mangle: drop the first packet of digit 1 and all end packets of digit 2, duplicate
        // everything of digit 3, swap digit 4's and digit 5's first packets across events.
        let mut wire: Vec<DtmfPacket> = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let (digit, k) = (i / 7, i % 7);
            match digit {
                0 if k == 0 => {}
                1 if k >= 4 => {}
                2 => {
                    wire.push(*p);
                    wire.push(*p);
                }
                _ => wire.push(*p),
            }
        }
        let n = wire.len();
        // Move a late packet of digit 4 after the first packet of digit 5.
        let late = wire.remove(n - 8);
        wire.insert(n - 6, late);

        let mut r = DtmfReceiver::new();
        let digits: String = wire
            .iter()
            .filter_map(|p| r.receive(p.timestamp, &p.payload))
            .map(|d| d.digit)
            .collect();
        assert_eq!(digits, "123*#");
        // Garbage and non-DTMF events are ignored.
        assert_eq!(r.receive(5, &[1, 2]), None);
        assert_eq!(r.receive(6, &[20, 0x80, 0, 160]), None);
    }

    #[test]
    fn same_digit_twice_is_two_digits() {
        let mut s = DtmfSender::new(8000, DtmfTiming::default()).expect("rate");
        s.send("55").expect("digits");
        let mut r = DtmfReceiver::new();
        let got: Vec<_> = run(&mut s, 40, 160)
            .iter()
            // Lose every end packet: the receiver must still see two digits.
            .filter(|(_, p)| !p.end)
            .filter_map(|(_, p)| r.receive(p.timestamp, &p.payload))
            .collect();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn long_event_segments_are_one_digit() {
        let mut r = DtmfReceiver::new();
        assert!(r.receive(0, &[7, 0, 0xFF, 0xFF]).is_some());
        assert!(r.receive(0xFFFF, &[7, 0, 0x01, 0x40]).is_none());
        assert!(r.receive(0xFFFF, &[7, 0x80, 0x02, 0x80]).is_none());
        // A later press of the same digit is new.
        assert!(r.receive(0x2_0000, &[7, 0, 0, 160]).is_some());
    }

    #[test]
    fn dtmf_relay_bodies() {
        assert_eq!(
            parse_dtmf_relay("Signal=5\r\nDuration=160\r\n"),
            Some(('5', 160))
        );
        assert_eq!(
            parse_dtmf_relay("signal = #\nduration= 100"),
            Some(('#', 100))
        );
        assert_eq!(
            parse_dtmf_relay("Signal=11\r\nDuration=250"),
            Some(('#', 250))
        );
        assert_eq!(parse_dtmf_relay("Signal=10"), Some(('*', 250)));
        assert_eq!(parse_dtmf_relay("Signal=a\r\nDuration=x"), Some(('A', 250)));
        assert_eq!(parse_dtmf_relay("Duration=160"), None);
        assert_eq!(parse_dtmf_relay("Signal=55"), None);
        assert_eq!(parse_dtmf_relay(""), None);
    }
}
