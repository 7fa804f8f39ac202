//! The SIP ladder: every SIP message the console sends or receives, kept per SIP Call-ID in
//! memory for the calls of the last while, so an attendant or a SIP engineer can see what
//! happened in a call (`GET /calls/{id}/ladder`), e.g. why a transfer failed.
//!
//! Bounded three ways: a message is cut at [`MAX_MESSAGE_BYTES`], a Call-ID keeps its first
//! [`MAX_MESSAGES_PER_CALL`] messages (later ones are counted), and when all of them together
//! pass [`BUDGET_BYTES`] the oldest Call-IDs are forgotten first.

use chrono::{DateTime, Utc};
use console_core::{SipTraceEntry, TraceDirection};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// A message longer than this is cut (its start line and headers come first).
pub(crate) const MAX_MESSAGE_BYTES: usize = 8 * 1024;
/// A Call-ID keeps this many messages; more are counted as omitted.
pub(crate) const MAX_MESSAGES_PER_CALL: usize = 256;
/// The whole trace's size; beyond it the oldest Call-IDs go.
pub(crate) const BUDGET_BYTES: usize = 32 * 1024 * 1024;

/// What a message is, read from its start line and headers without a full parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) call_id: String,
    pub(crate) method: String,
    pub(crate) status: Option<u16>,
    pub(crate) start_line: String,
    pub(crate) cseq: String,
}

/// Reads the start line, Call-ID (or its compact form `i`) and CSeq. `None` for anything that
/// is not a SIP message with a Call-ID (keep-alive CRLFs, garbage). Never panics.
pub(crate) fn summarize(bytes: &[u8]) -> Option<Summary> {
    let head_end = find(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..head_end]);
    let mut lines = head.split("\r\n");
    let start_line = lines.next()?.trim().to_owned();
    if start_line.is_empty() {
        return None;
    }
    let mut call_id = None;
    let mut cseq = String::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i") {
            call_id = Some(value.trim().to_owned());
        } else if name.eq_ignore_ascii_case("cseq") {
            cseq = value.trim().to_owned();
        }
    }
    let call_id = call_id.filter(|c| !c.is_empty())?;
    let cseq_method = cseq
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let (method, status) = match start_line.strip_prefix("SIP/2.0 ") {
        Some(rest) => {
            let status = rest.get(..3).and_then(|s| s.parse::<u16>().ok())?;
            (cseq_method, Some(status))
        }
        None => (
            start_line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned(),
            None,
        ),
    };
    Some(Summary {
        call_id,
        method,
        status,
        start_line,
        cseq,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Default)]
struct CallTrace {
    entries: Vec<SipTraceEntry>,
    omitted: u32,
    bytes: usize,
}

/// The recorder the engine feeds.
#[derive(Default)]
pub(crate) struct SipTrace {
    by_call_id: HashMap<String, CallTrace>,
    /// Call-IDs, oldest first, for eviction.
    order: VecDeque<String>,
    bytes: usize,
}

impl SipTrace {
    /// Records one message sent to or received from `remote`.
    pub(crate) fn record(
        &mut self,
        at: DateTime<Utc>,
        direction: TraceDirection,
        transport: &'static str,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        let Some(summary) = summarize(bytes) else {
            return;
        };
        let trace = match self.by_call_id.get_mut(&summary.call_id) {
            Some(trace) => trace,
            None => {
                self.order.push_back(summary.call_id.clone());
                self.by_call_id.entry(summary.call_id.clone()).or_default()
            }
        };
        if trace.entries.len() >= MAX_MESSAGES_PER_CALL {
            trace.omitted = trace.omitted.saturating_add(1);
            return;
        }
        let kept = &bytes[..bytes.len().min(MAX_MESSAGE_BYTES)];
        let message = String::from_utf8_lossy(kept).into_owned();
        let size = message.len() + summary.start_line.len() + summary.cseq.len() + 128;
        trace.bytes += size;
        trace.entries.push(SipTraceEntry {
            at,
            direction,
            transport: transport.to_owned(),
            remote: remote.to_string(),
            method: summary.method,
            status: summary.status,
            summary: summary.start_line,
            cseq: summary.cseq,
            message,
        });
        self.bytes += size;
        while self.bytes > BUDGET_BYTES && self.order.len() > 1 {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.by_call_id.remove(&oldest) {
                self.bytes -= gone.bytes;
            }
        }
    }

    /// The messages of one SIP Call-ID, oldest first, and how many were not kept.
    pub(crate) fn messages(&self, sip_call_id: &str) -> (Vec<SipTraceEntry>, u32) {
        self.by_call_id
            .get(sip_call_id)
            .map(|t| (t.entries.clone(), t.omitted))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const INVITE: &[u8] = b"INVITE sip:desk@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK1\r\nCall-ID: abc@10.0.0.2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    const RINGING: &[u8] = b"SIP/2.0 180 Ringing\r\ni: abc@10.0.0.2\r\nCSeq: 1 INVITE\r\n\r\n";

    fn addr() -> SocketAddr {
        "10.0.0.2:5060".parse().expect("literal")
    }

    #[test]
    fn requests_and_responses_are_summarised() {
        let invite = summarize(INVITE).expect("a request");
        assert_eq!(invite.call_id, "abc@10.0.0.2");
        assert_eq!(invite.method, "INVITE");
        assert_eq!(invite.status, None);
        assert_eq!(invite.start_line, "INVITE sip:desk@10.0.0.1 SIP/2.0");
        assert_eq!(invite.cseq, "1 INVITE");
        let ringing = summarize(RINGING).expect("a response, compact Call-ID");
        assert_eq!(ringing.call_id, "abc@10.0.0.2");
        assert_eq!(
            (ringing.method.as_str(), ringing.status),
            ("INVITE", Some(180))
        );
        assert_eq!(summarize(b"\r\n\r\n"), None, "a keep-alive");
        assert_eq!(
            summarize(b"OPTIONS sip:x SIP/2.0\r\n\r\n"),
            None,
            "no Call-ID"
        );
        assert_eq!(summarize(b"SIP/2.0 abc Bad\r\nCall-ID: x\r\n\r\n"), None);
    }

    #[test]
    fn a_call_keeps_its_messages_in_order_and_counts_the_excess() {
        let mut trace = SipTrace::default();
        let at = Utc::now();
        trace.record(at, TraceDirection::Received, "udp", addr(), INVITE);
        trace.record(at, TraceDirection::Sent, "udp", addr(), RINGING);
        let (messages, omitted) = trace.messages("abc@10.0.0.2");
        assert_eq!(omitted, 0);
        let summary: Vec<_> = messages
            .iter()
            .map(|m| (m.direction, m.summary.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (TraceDirection::Received, "INVITE sip:desk@10.0.0.1 SIP/2.0"),
                (TraceDirection::Sent, "SIP/2.0 180 Ringing"),
            ]
        );
        assert_eq!(messages[0].remote, "10.0.0.2:5060");
        for _ in 0..MAX_MESSAGES_PER_CALL {
            trace.record(at, TraceDirection::Sent, "udp", addr(), RINGING);
        }
        let (messages, omitted) = trace.messages("abc@10.0.0.2");
        assert_eq!(messages.len(), MAX_MESSAGES_PER_CALL);
        assert_eq!(omitted, 2);
        assert!(trace.messages("other").0.is_empty());
    }

    #[test]
    fn the_oldest_calls_go_first_when_the_budget_is_spent() {
        let mut trace = SipTrace::default();
        let big = vec![b'x'; MAX_MESSAGE_BYTES];
        let at = Utc::now();
        let calls = BUDGET_BYTES / MAX_MESSAGE_BYTES + 10;
        for n in 0..calls {
            let mut message =
                format!("MESSAGE sip:x SIP/2.0\r\nCall-ID: c{n}\r\nCSeq: 1 MESSAGE\r\n\r\n")
                    .into_bytes();
            message.extend_from_slice(&big);
            trace.record(at, TraceDirection::Received, "udp", addr(), &message);
        }
        assert!(trace.bytes <= BUDGET_BYTES);
        assert!(
            trace.messages("c0").0.is_empty(),
            "the oldest call is forgotten"
        );
        let newest = trace.messages(&format!("c{}", calls - 1)).0;
        assert_eq!(newest.len(), 1);
        assert_eq!(newest[0].message.len(), MAX_MESSAGE_BYTES, "cut at the cap");
    }

    proptest! {
        #[test]
        fn any_bytes_are_summarised_or_skipped_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut trace = SipTrace::default();
            trace.record(Utc::now(), TraceDirection::Received, "udp", addr(), &bytes);
        }

        #[test]
        fn mutated_messages_never_panic(cut in 0usize..INVITE.len(), byte in any::<u8>(), at in 0usize..INVITE.len()) {
            let mut message = INVITE[..cut].to_vec();
            if at < message.len() {
                message[at] = byte;
            }
            let _ = summarize(&message);
        }
    }
}
