//! `Event` (RFC 6665 §8.2.1), compact form `o`.

use std::fmt;

use super::{HeaderError, Param};
use crate::MessageExt;
use crate::syntax::{split_params, unquote, write_params};

/// The `Event` header (RFC 6665): event package plus optional `id`, e.g. `refer;id=93809824`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Event package (with template suffixes), e.g. `refer`, `presence.winfo`.
    pub package: String,
    /// The `id` parameter that tells subscriptions in one dialog apart (for REFER: the CSeq of
    /// the REFER, RFC 3515 §2.4.6).
    pub id: Option<String>,
    /// Other parameters.
    pub params: Vec<Param>,
}

impl Event {
    /// Canonical header name.
    pub const NAME: &str = "Event";
    /// Compact header name.
    pub const COMPACT: &str = "o";

    /// An Event header for `package` with an optional id.
    pub fn new(package: impl Into<String>, id: Option<String>) -> Self {
        Self {
            package: package.into(),
            id,
            params: Vec::new(),
        }
    }

    /// Parses a header value.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(HeaderError::Empty { header: Self::NAME });
        }
        let (package, rest) = value.split_at(value.find(';').unwrap_or(value.len()));
        let package = package.trim();
        if package.is_empty() || !package.bytes().all(crate::parse::is_token_byte) {
            return Err(HeaderError::syntax(Self::NAME, "invalid event package"));
        }
        let mut id = None;
        let mut params = Vec::new();
        for (name, v) in split_params(rest).map_err(|r| HeaderError::syntax(Self::NAME, r))? {
            if name.eq_ignore_ascii_case("id") && id.is_none() {
                id = Some(unquote(v.as_deref().unwrap_or_default()));
            } else {
                params.push((name, v));
            }
        }
        Ok(Self {
            package: package.to_owned(),
            id,
            params,
        })
    }

    /// Reads the first `Event` (or `o`) header of a message.
    pub fn from_message<M: MessageExt>(m: &M) -> Option<Result<Self, HeaderError>> {
        m.header_value(Self::NAME).map(Self::parse)
    }

    /// The header to push into a message (rsip's untyped `Event`).
    pub fn to_header(&self) -> rsip::Header {
        rsip::Header::Event(rsip::headers::Event::from(self.to_string()))
    }

    /// RFC 6665 §8.2.1 matching: package compared case-insensitively, ids compared exactly.
    pub fn matches(&self, other: &Event) -> bool {
        self.package.eq_ignore_ascii_case(&other.package) && self.id == other.id
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.package)?;
        if let Some(id) = &self.id {
            write!(f, ";id={id}")?;
        }
        write_params(f, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_event_with_id() {
        // RFC 3515 §2.4.6 / RFC 6665.
        let e = Event::parse("refer;id=93809824").expect("valid");
        assert_eq!(e.package, "refer");
        assert_eq!(e.id.as_deref(), Some("93809824"));
        assert_eq!(e.to_string(), "refer;id=93809824");
        assert!(e.matches(&Event::new("REFER", Some("93809824".into()))));
        assert!(!e.matches(&Event::new("refer", None)));
        let e = Event::parse("presence.winfo ; foo=bar").expect("template package");
        assert_eq!(e.package, "presence.winfo");
        assert_eq!(e.params, vec![("foo".into(), Some("bar".into()))]);
        assert_eq!(
            e.to_header(),
            rsip::Header::Event(rsip::headers::Event::from("presence.winfo;foo=bar"))
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(Event::parse("").is_err());
        assert!(Event::parse("re fer").is_err());
        assert!(Event::parse(";id=1").is_err());
    }
}
