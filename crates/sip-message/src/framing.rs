//! Content-Length framing of a SIP byte stream (TCP, TLS), RFC 3261 §18.3.
//!
//! Feed whatever the socket returned to [`StreamFramer::push`], then call
//! [`StreamFramer::next_frame`] until it returns `None`. A [`Frame::Message`] goes to
//! [`crate::parse`]; a [`Frame::KeepAlive`] (RFC 5626 §3.5.1 double-CRLF ping) should be answered
//! with a single `"\r\n"`. Any [`FramingError`] means the stream is out of sync: close the
//! connection.

use crate::MAX_MESSAGE_SIZE;
use crate::parse::{expand_compact_name, find, parse_content_length};

/// Splits a SIP byte stream into messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for the end of the header section.
    scanned: usize,
    failed: bool,
}

/// One unit read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One complete message (header section and exactly Content-Length body bytes), to be given
    /// to [`crate::parse`].
    Message(Vec<u8>),
    /// A `"\r\n\r\n"` keep-alive ping (RFC 5626); answer with `"\r\n"`.
    KeepAlive,
}

/// Why the stream cannot be framed; the connection must be closed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FramingError {
    /// No empty line within [`MAX_MESSAGE_SIZE`] bytes.
    #[error("header section exceeds {max} bytes")]
    HeadersTooLarge {
        /// The limit.
        max: usize,
    },
    /// A message on a stream has no Content-Length (RFC 3261 §18.3 makes it mandatory).
    #[error("message on a stream transport has no Content-Length")]
    MissingContentLength,
    /// Content-Length is not a number or appears with conflicting values.
    #[error("Content-Length is not a valid number or is given twice with different values")]
    BadContentLength,
    /// Header section plus Content-Length exceeds [`MAX_MESSAGE_SIZE`].
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// Announced size of the whole message.
        size: usize,
        /// The limit.
        max: usize,
    },
}

impl StreamFramer {
    /// An empty framer for a new connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream. Ignored after an error.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes buffered but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame; `None` when more bytes are needed. Call after every
    /// [`push`](Self::push) until it returns `None`. After an error it returns `None` forever.
    #[must_use]
    pub fn next_frame(&mut self) -> Option<Result<Frame, FramingError>> {
        if self.failed {
            return None;
        }
        let result = self.next_frame_inner()?;
        if result.is_err() {
            self.failed = true;
            self.buf = Vec::new();
        }
        Some(result)
    }

    fn next_frame_inner(&mut self) -> Option<Result<Frame, FramingError>> {
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.consume(4);
                return Some(Ok(Frame::KeepAlive));
            }
            // A lone CRLF (RFC 5626 pong, or RFC 3261 §7.5 CRLF before a start line) is dropped
            // once we can see it is not the start of a ping.
            if self.buf.starts_with(b"\r\n") && self.buf.len() >= 3 && self.buf[2] != b'\r' {
                self.consume(2);
                continue;
            }
            if self.buf.starts_with(b"\r\n\r") && self.buf.len() >= 4 {
                // "\r\n\r" followed by something other than "\n": drop the first CRLF.
                self.consume(2);
                continue;
            }
            if self.buf.is_empty() || self.buf == b"\r" || self.buf.starts_with(b"\r\n") {
                return None;
            }
            break;
        }

        let from = self.scanned.saturating_sub(3);
        let Some(pos) = find(&self.buf[from..], b"\r\n\r\n").map(|i| i + from) else {
            self.scanned = self.buf.len();
            if self.buf.len() > MAX_MESSAGE_SIZE {
                return Some(Err(FramingError::HeadersTooLarge {
                    max: MAX_MESSAGE_SIZE,
                }));
            }
            return None;
        };
        let head_len = pos + 4;
        if head_len > MAX_MESSAGE_SIZE {
            return Some(Err(FramingError::HeadersTooLarge {
                max: MAX_MESSAGE_SIZE,
            }));
        }
        let body_len = match content_length(&self.buf[..pos]) {
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        };
        let size = head_len.saturating_add(body_len);
        if size > MAX_MESSAGE_SIZE {
            return Some(Err(FramingError::MessageTooLarge {
                size,
                max: MAX_MESSAGE_SIZE,
            }));
        }
        if self.buf.len() < size {
            return None;
        }
        let message = self.buf[..size].to_vec();
        self.consume(size);
        Some(Ok(Frame::Message(message)))
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.scanned = 0;
    }
}

/// The Content-Length (or `l`) of a header section.
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    let mut found: Option<usize> = None;
    // Skip the start line; header lines are split on LF with an optional CR.
    for line in head.split(|b| *b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(&line[..colon]) else {
            continue;
        };
        if !expand_compact_name(name.trim()).eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        let value =
            std::str::from_utf8(&line[colon + 1..]).map_err(|_| FramingError::BadContentLength)?;
        let n = parse_content_length(value).ok_or(FramingError::BadContentLength)?;
        match found {
            Some(prev) if prev != n => return Err(FramingError::BadContentLength),
            _ => found = Some(n),
        }
    }
    found.ok_or(FramingError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 5\r\n\r\nhello";

    fn drain(f: &mut StreamFramer) -> Vec<Result<Frame, FramingError>> {
        std::iter::from_fn(|| f.next_frame()).collect()
    }

    #[test]
    fn several_messages_and_keepalives_in_one_chunk() {
        let mut f = StreamFramer::new();
        let mut chunk = Vec::new();
        chunk.extend_from_slice(b"\r\n\r\n");
        chunk.extend_from_slice(MSG);
        chunk.extend_from_slice(b"\r\n");
        chunk.extend_from_slice(MSG);
        chunk.extend_from_slice(b"\r\n\r\n");
        f.push(&chunk);
        assert_eq!(
            drain(&mut f),
            vec![
                Ok(Frame::KeepAlive),
                Ok(Frame::Message(MSG.to_vec())),
                Ok(Frame::Message(MSG.to_vec())),
                Ok(Frame::KeepAlive),
            ]
        );
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn partial_reads_wait_for_body() {
        let mut f = StreamFramer::new();
        let (a, b) = MSG.split_at(MSG.len() - 2);
        f.push(a);
        assert_eq!(f.next_frame(), None);
        f.push(b);
        assert_eq!(f.next_frame(), Some(Ok(Frame::Message(MSG.to_vec()))));
        assert_eq!(f.next_frame(), None);
    }

    #[test]
    fn missing_content_length_is_fatal() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(
            f.next_frame(),
            Some(Err(FramingError::MissingContentLength))
        );
        assert_eq!(f.next_frame(), None);
        f.push(MSG);
        assert_eq!(f.next_frame(), None);
    }

    #[test]
    fn bad_content_length_is_fatal() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n");
        assert_eq!(f.next_frame(), Some(Err(FramingError::BadContentLength)));
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab");
        assert_eq!(f.next_frame(), Some(Err(FramingError::BadContentLength)));
    }

    #[test]
    fn oversized_headers_and_bodies_are_fatal() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
        let filler = vec![b'a'; 1024];
        for _ in 0..63 {
            f.push(&filler);
            assert_eq!(f.next_frame(), None);
        }
        f.push(&filler);
        assert_eq!(
            f.next_frame(),
            Some(Err(FramingError::HeadersTooLarge {
                max: MAX_MESSAGE_SIZE
            }))
        );
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999999999\r\n\r\n");
        assert!(matches!(
            f.next_frame(),
            Some(Err(FramingError::MessageTooLarge { .. }))
        ));
    }

    #[test]
    fn lone_crlf_pong_is_dropped() {
        let mut f = StreamFramer::new();
        f.push(b"\r\n");
        assert_eq!(f.next_frame(), None);
        f.push(MSG);
        assert_eq!(f.next_frame(), Some(Ok(Frame::Message(MSG.to_vec()))));
    }
}
