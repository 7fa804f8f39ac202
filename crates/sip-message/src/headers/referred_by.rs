//! `Referred-By` (RFC 3892), compact form `b`.

use std::fmt;

use super::{HeaderError, Param};
use crate::MessageExt;
use crate::syntax::{display_name_text, parse_name_addr, write_params};

/// The `Referred-By` header (RFC 3892): who asked for a transfer. Always printed with `<...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferredBy {
    /// The referrer's URI exactly as given.
    pub uri: String,
    /// Display name, unquoted.
    pub display_name: Option<String>,
    /// Header parameters (e.g. `cid`).
    pub params: Vec<Param>,
}

impl ReferredBy {
    /// Canonical header name.
    pub const NAME: &str = "Referred-By";
    /// Compact header name (RFC 3892).
    pub const COMPACT: &str = "b";

    /// A Referred-By for `uri` without display name or parameters.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            display_name: None,
            params: Vec::new(),
        }
    }

    /// Parses a header value (name-addr or bare addr-spec).
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        if value.trim().is_empty() {
            return Err(HeaderError::Empty { header: Self::NAME });
        }
        let n = parse_name_addr(value).map_err(|r| HeaderError::syntax(Self::NAME, r))?;
        if !n.uri.contains(':') {
            return Err(HeaderError::syntax(Self::NAME, "URI has no scheme"));
        }
        Ok(Self {
            uri: n.uri,
            display_name: n.display_name,
            params: n.params,
        })
    }

    /// Reads the first `Referred-By` (or `b`) header of a message.
    pub fn from_message<M: MessageExt>(m: &M) -> Option<Result<Self, HeaderError>> {
        m.header_value(Self::NAME).map(Self::parse)
    }

    /// The header to push into a message (rsip has no Referred-By type).
    pub fn to_header(&self) -> rsip::Header {
        rsip::Header::Other(Self::NAME.into(), self.to_string())
    }
}

impl fmt::Display for ReferredBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            write!(f, "{} ", display_name_text(name))?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3892_examples() {
        // RFC 3892 §3 and §5.
        let r = ReferredBy::parse(
            "<sip:referrer@referrer.example>;cid=\"20398823.2UWQFN309shb3@referrer.example\"",
        )
        .expect("valid");
        assert_eq!(r.uri, "sip:referrer@referrer.example");
        assert_eq!(
            r.params,
            vec![(
                "cid".into(),
                Some("\"20398823.2UWQFN309shb3@referrer.example\"".into())
            )]
        );
        assert_eq!(
            r.to_string(),
            "<sip:referrer@referrer.example>;cid=\"20398823.2UWQFN309shb3@referrer.example\""
        );
        let r = ReferredBy::parse("sip:alice@atlanta.example.com").expect("bare");
        assert_eq!(r.to_string(), "<sip:alice@atlanta.example.com>");
        let r = ReferredBy::parse("\"Alice, Ops\" <sip:alice@a.example>").expect("quoted");
        assert_eq!(r.display_name.as_deref(), Some("Alice, Ops"));
        assert_eq!(r.to_string(), "\"Alice, Ops\" <sip:alice@a.example>");
        assert_eq!(
            r.to_header(),
            rsip::Header::Other(
                "Referred-By".into(),
                "\"Alice, Ops\" <sip:alice@a.example>".into()
            )
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(ReferredBy::parse("  ").is_err());
        assert!(ReferredBy::parse("\"unterminated <sip:a@b>").is_err());
    }
}
