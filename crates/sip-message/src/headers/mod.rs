//! Typed headers rsip lacks (or keeps as plain strings), one file per header.
//!
//! Each type has `parse(value)`, `Display` (prints the header *value*), `NAME` (canonical header
//! name), `from_message` (reads the first such header of a message, compact form included) and
//! `to_header` (builds the [`rsip::Header`] to push into a message).

mod event;
mod refer_sub;
mod refer_to;
mod referred_by;
mod replaces;
mod subscription_state;

pub use event::Event;
pub use refer_sub::ReferSub;
pub use refer_to::ReferTo;
pub use referred_by::ReferredBy;
pub use replaces::Replaces;
pub use subscription_state::{SubState, SubscriptionState};

/// A header parameter: name and optional raw value (quotes kept as received).
pub type Param = (String, Option<String>);

/// Why one of this module's header values could not be parsed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The header value is empty.
    #[error("{header} header is empty")]
    Empty {
        /// Canonical header name.
        header: &'static str,
    },
    /// The header value does not follow the header's grammar.
    #[error("invalid {header} header: {reason}")]
    Syntax {
        /// Canonical header name.
        header: &'static str,
        /// What was wrong, in a few words.
        reason: String,
    },
}

impl HeaderError {
    pub(crate) fn syntax(header: &'static str, reason: impl Into<String>) -> Self {
        Self::Syntax {
            header,
            reason: reason.into(),
        }
    }
}

/// Parses a number parameter, reporting which parameter was wrong.
pub(crate) fn number_param(
    header: &'static str,
    name: &str,
    value: Option<&str>,
) -> Result<u32, HeaderError> {
    let v = crate::syntax::unquote(value.unwrap_or_default());
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::syntax(
            header,
            format!("{name} is not a number"),
        ));
    }
    v.parse()
        .map_err(|_| HeaderError::syntax(header, format!("{name} is out of range")))
}
