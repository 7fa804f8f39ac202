//! `Replaces` (RFC 3891).

use std::fmt;

use super::HeaderError;
use crate::MessageExt;
use crate::syntax::{percent_encode, split_params, unquote};

/// The `Replaces` header (RFC 3891): names the dialog an INVITE replaces, e.g.
/// `425928@bobster.example.org;to-tag=7743;from-tag=6472`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    /// Call-ID of the dialog to replace.
    pub call_id: String,
    /// To tag of that dialog, as seen by the sender of the INVITE with Replaces.
    pub to_tag: String,
    /// From tag of that dialog, as seen by the sender of the INVITE with Replaces.
    pub from_tag: String,
    /// Only replace an early dialog (`;early-only`).
    pub early_only: bool,
}

impl Replaces {
    /// Canonical header name.
    pub const NAME: &str = "Replaces";

    /// Parses a header value; `to-tag` and `from-tag` are required (RFC 3891 §6.1), other
    /// parameters are ignored.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(HeaderError::Empty { header: Self::NAME });
        }
        let (call_id, rest) = value.split_at(value.find(';').unwrap_or(value.len()));
        let call_id = call_id.trim();
        if call_id.is_empty() || call_id.contains(char::is_whitespace) {
            return Err(HeaderError::syntax(
                Self::NAME,
                "missing or invalid call-id",
            ));
        }
        let params = split_params(rest).map_err(|r| HeaderError::syntax(Self::NAME, r))?;
        let mut to_tag = None;
        let mut from_tag = None;
        let mut early_only = false;
        for (name, v) in params {
            match name.to_ascii_lowercase().as_str() {
                "to-tag" => to_tag = v.map(|v| unquote(&v)),
                "from-tag" => from_tag = v.map(|v| unquote(&v)),
                "early-only" => early_only = true,
                _ => {}
            }
        }
        Ok(Self {
            call_id: call_id.to_owned(),
            to_tag: to_tag.ok_or_else(|| HeaderError::syntax(Self::NAME, "missing to-tag"))?,
            from_tag: from_tag
                .ok_or_else(|| HeaderError::syntax(Self::NAME, "missing from-tag"))?,
            early_only,
        })
    }

    /// Reads the first `Replaces` header of a message.
    pub fn from_message<M: MessageExt>(m: &M) -> Option<Result<Self, HeaderError>> {
        m.header_value(Self::NAME).map(Self::parse)
    }

    /// The header to push into a message (rsip has no Replaces type).
    pub fn to_header(&self) -> rsip::Header {
        rsip::Header::Other(Self::NAME.into(), self.to_string())
    }

    /// The value percent-encoded for a URI header, as in
    /// `Refer-To: <sip:bob@example.com?Replaces=12345%40host%3Bto-tag%3Da%3Bfrom-tag%3Db>`.
    pub fn to_uri_header_value(&self) -> String {
        percent_encode(&self.to_string())
    }
}

impl fmt::Display for Replaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};to-tag={};from-tag={}",
            self.call_id, self.to_tag, self.from_tag
        )?;
        if self.early_only {
            f.write_str(";early-only")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3891_examples() {
        // RFC 3891 §6.1.
        let r = Replaces::parse("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff")
            .expect("valid");
        assert_eq!(r.call_id, "98732@sip.example.com");
        assert_eq!(r.from_tag, "r33th4x0r");
        assert_eq!(r.to_tag, "ff87ff");
        assert!(!r.early_only);
        let r = Replaces::parse("12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only")
            .expect("valid");
        assert!(r.early_only);
        assert_eq!(
            r.to_string(),
            "12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only"
        );
        // RFC 3891 §7 Refer-To embedding.
        let r =
            Replaces::parse("12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994").expect("valid");
        assert_eq!(
            r.to_uri_header_value(),
            "12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994"
        );
    }

    #[test]
    fn rejects_incomplete() {
        assert_eq!(
            Replaces::parse(" "),
            Err(HeaderError::Empty { header: "Replaces" })
        );
        assert!(Replaces::parse("abc;to-tag=1").is_err());
        assert!(Replaces::parse("abc;from-tag=1").is_err());
        assert!(Replaces::parse(";to-tag=1;from-tag=2").is_err());
        assert!(Replaces::parse("abc;to-tag;from-tag=2").is_err());
    }

    #[test]
    fn to_header_is_other() {
        let r = Replaces::parse("a@b;to-tag=1;from-tag=2").expect("valid");
        assert_eq!(
            r.to_header(),
            rsip::Header::Other("Replaces".into(), "a@b;to-tag=1;from-tag=2".into())
        );
    }
}
