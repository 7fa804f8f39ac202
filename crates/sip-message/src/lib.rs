//! SIP messages for Switchboard: guarded parsing and printing on top of [rsip], the typed
//! headers rsip lacks, `message/sipfrag` status lines and stream framing. No I/O, no clocks.
//!
//! How a transport uses it:
//! - UDP: each datagram goes straight to [`parse`].
//! - TCP/TLS: bytes go to a [`framing::StreamFramer`]; each [`framing::Frame::Message`] goes to
//!   [`parse`]; a [`framing::Frame::KeepAlive`] is answered with `"\r\n"`; a
//!   [`framing::FramingError`] closes the connection.
//! - Sending: build an [`rsip::SipMessage`] and print it with [`to_bytes`], which always writes
//!   the right Content-Length.
//!
//! Upper layers read messages through [`MessageExt`] and the types in [`headers`].
//!
//! [`parse`] never panics: rsip runs under `catch_unwind` (see `docs/adr/0002-rsip-parser-guard.md`).

pub use rsip;

mod error;
mod ext;
pub mod framing;
pub mod headers;
mod parse;
pub mod sipfrag;
mod syntax;

pub use error::ParseError;
pub use ext::MessageExt;
pub use parse::{MAX_MESSAGE_SIZE, expand_compact_name, parse, to_bytes};
