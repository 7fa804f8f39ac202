//! The error of [`crate::parse`].

/// Why a datagram or framed stream message was rejected by [`crate::parse`].
///
/// Every variant is the peer's fault (the bytes came off the wire); the usual reply to a
/// rejected request is `400 Bad Request` (or nothing, when not even a Via could be read).
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The input is longer than [`crate::MAX_MESSAGE_SIZE`].
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The limit that was exceeded.
        max: usize,
    },
    /// The input is empty or holds only whitespace (e.g. a stray keep-alive).
    #[error("message is empty")]
    Empty,
    /// The header section is not terminated by an empty line.
    #[error("header section is not terminated by an empty line")]
    UnterminatedHeaders,
    /// The start line or a header line is not valid UTF-8.
    #[error("start line or headers are not valid UTF-8")]
    NotUtf8,
    /// A header line has no `name:` part.
    #[error("malformed header line: {0}")]
    BadHeaderLine(String),
    /// rsip rejected the message (start line, URI or header syntax); the text is rsip's reason.
    #[error("malformed SIP message: {0}")]
    Malformed(String),
    /// rsip panicked on this input; the panic was caught and the message dropped.
    #[error("SIP parser panicked on this input (guarded)")]
    Panicked,
    /// A header every request and response must carry (RFC 3261 §8.1.1) is absent.
    #[error("mandatory header {0} is missing")]
    MissingHeader(&'static str),
    /// The CSeq header is not `<number> <method>` with a 32-bit number and a known method.
    #[error("invalid CSeq header: {0}")]
    BadCSeq(String),
    /// A request's CSeq method differs from its request-line method (RFC 3261 §8.1.1.5).
    #[error("CSeq method {cseq} does not match request method {request}")]
    CSeqMethodMismatch {
        /// Method of the request line.
        request: String,
        /// Method found in CSeq.
        cseq: String,
    },
    /// Content-Length is not a number, appears twice with different values, or promises more
    /// body bytes than were received.
    #[error("Content-Length is invalid or larger than the received body")]
    BadContentLength,
}
