//! Same-codec relay for anchored bridges: each RTP packet received on one leg is re-sent on the
//! other leg as part of that leg's own stream (its SSRC, its payload type, its sequence numbers
//! and timestamps), without decoding it.
//!
//! The mapping is by offset from the first packet relayed from the current source: a gap or a
//! reordering in the input stays a gap or a reordering in the output, so the far end's loss
//! and jitter figures stay true. When the input source changes (a new SSRC: the peer restarted
//! its stream), the mapping starts again right after the last packet sent, with the marker bit
//! set, so the output stream never jumps backwards.

use crate::rtp::{ReceivedRtp, RtpError, RtpSender};
use std::time::Duration;

/// The rewrite state of one direction of a bridge (source leg → sender of the other leg).
#[derive(Debug, Clone, Default)]
pub struct RtpRelay {
    origin: Option<Origin>,
}

#[derive(Debug, Clone, Copy)]
struct Origin {
    ssrc: u32,
    in_seq: u16,
    in_ts: u32,
    out_seq: u16,
    out_ts: u32,
}

impl RtpRelay {
    /// A relay that has not seen a packet yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the input source: the next packet starts a new mapping (and a talk spurt).
    pub fn reset(&mut self) {
        self.origin = None;
    }

    /// Writes `packet` into `out` (cleared first) as the next packet of `sender`'s stream.
    /// `samples` is the codec's frame length, by which the sender's own timestamp moves past
    /// the relayed packet (so its own packets after the bridge continue the timeline).
    ///
    /// # Errors
    /// [`RtpError::Write`] if the packet cannot be built.
    pub fn relay(
        &mut self,
        now: Duration,
        packet: &ReceivedRtp<'_>,
        samples: u32,
        sender: &mut RtpSender,
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        let mut marker = packet.marker;
        let origin = match self.origin {
            Some(o) if o.ssrc == packet.ssrc => o,
            _ => {
                marker = true;
                let o = Origin {
                    ssrc: packet.ssrc,
                    in_seq: packet.sequence,
                    in_ts: packet.timestamp,
                    out_seq: sender.next_sequence(),
                    out_ts: sender.next_timestamp(),
                };
                self.origin = Some(o);
                o
            }
        };
        let sequence = origin
            .out_seq
            .wrapping_add(packet.sequence.wrapping_sub(origin.in_seq));
        let timestamp = origin
            .out_ts
            .wrapping_add(packet.timestamp.wrapping_sub(origin.in_ts));
        sender.write_relayed(
            now,
            sequence,
            timestamp,
            marker,
            packet.payload,
            samples,
            out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpReceiver;
    use proptest::prelude::*;
    use rtp_types::{RtpPacket, RtpPacketBuilder};

    fn packet(ssrc: u32, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(0)
            .marker_bit(marker)
            .sequence_number(seq)
            .timestamp(ts)
            .ssrc(ssrc)
            .payload(payload)
            .write_into_vec(&mut out)
            .expect("build");
        out
    }

    /// Relays `(seq, ts)` packets of one source; returns (seq, ts, marker, ssrc, pt) written.
    fn run(
        relay: &mut RtpRelay,
        sender: &mut RtpSender,
        ssrc: u32,
        input: &[(u16, u32)],
    ) -> Vec<(u16, u32, bool, u32, u8)> {
        let mut receiver = RtpReceiver::new(8000);
        let mut written = Vec::new();
        let mut out = Vec::new();
        for (i, &(seq, ts)) in input.iter().enumerate() {
            let bytes = packet(ssrc, seq, ts, false, &[0xD5; 160]);
            let now = Duration::from_millis(20 * i as u64);
            let received = receiver.receive(now, &bytes).expect("parse");
            relay
                .relay(now, &received, 160, sender, &mut out)
                .expect("relay");
            let p = RtpPacket::parse(&out).expect("output parses");
            assert_eq!(p.payload(), &[0xD5; 160][..], "payload untouched");
            written.push((
                p.sequence_number(),
                p.timestamp(),
                p.marker_bit(),
                p.ssrc(),
                p.payload_type(),
            ));
        }
        written
    }

    #[test]
    fn rewrites_into_the_senders_stream_and_continues_it() {
        let mut sender = RtpSender::new(0xAAAA, 8, 8000, 500, 90_000);
        let mut relay = RtpRelay::new();
        let out = run(
            &mut relay,
            &mut sender,
            0x1234,
            &[(7, 1000), (8, 1160), (9, 1320)],
        );
        assert_eq!(
            out,
            vec![
                (500, 90_000, true, 0xAAAA, 8),
                (501, 90_160, false, 0xAAAA, 8),
                (502, 90_320, false, 0xAAAA, 8)
            ]
        );
        // The sender's own next packet follows the relayed ones.
        assert_eq!(
            (sender.next_sequence(), sender.next_timestamp()),
            (503, 90_480)
        );
        assert_eq!(sender.packets_sent(), 3);
    }

    #[test]
    fn gaps_and_reordering_are_kept_across_wraparound() {
        let mut sender = RtpSender::new(1, 0, 8000, 65_534, u32::MAX - 200);
        let mut relay = RtpRelay::new();
        let input = [(10, 0), (12, 320), (11, 160), (13, 480)];
        let out = run(&mut relay, &mut sender, 9, &input);
        let seqs: Vec<u16> = out.iter().map(|o| o.0).collect();
        let tss: Vec<u32> = out.iter().map(|o| o.1).collect();
        assert_eq!(seqs, vec![65_534, 0, 65_535, 1]);
        assert_eq!(
            tss,
            vec![
                u32::MAX - 200,
                (u32::MAX - 200).wrapping_add(320),
                (u32::MAX - 200).wrapping_add(160),
                (u32::MAX - 200).wrapping_add(480)
            ]
        );
        // The late packet did not pull the sender back.
        assert_eq!(sender.next_sequence(), 2);
    }

    #[test]
    fn a_new_source_restarts_after_the_last_packet_with_a_marker() {
        let mut sender = RtpSender::new(5, 0, 8000, 100, 0);
        let mut relay = RtpRelay::new();
        run(&mut relay, &mut sender, 1, &[(40_000, 7), (40_001, 167)]);
        let out = run(&mut relay, &mut sender, 2, &[(3, 55), (4, 215)]);
        assert_eq!(out[0].0, 102);
        assert_eq!(out[0].1, 320);
        assert!(out[0].2, "marker on the new source's first packet");
        assert_eq!((out[1].0, out[1].1, out[1].2), (103, 480, false));
    }

    proptest! {
        /// Whatever the start values, consecutive input packets come out consecutive.
        #[test]
        fn consecutive_in_consecutive_out(
            in_seq: u16, in_ts: u32, out_seq: u16, out_ts: u32, n in 1usize..50
        ) {
            let mut sender = RtpSender::new(3, 0, 8000, out_seq, out_ts);
            let mut relay = RtpRelay::new();
            let input: Vec<(u16, u32)> = (0..n)
                .map(|i| (in_seq.wrapping_add(i as u16), in_ts.wrapping_add(160 * i as u32)))
                .collect();
            let out = run(&mut relay, &mut sender, 77, &input);
            for (i, o) in out.iter().enumerate() {
                prop_assert_eq!(o.0, out_seq.wrapping_add(i as u16));
                prop_assert_eq!(o.1, out_ts.wrapping_add(160 * i as u32));
            }
        }
    }
}
