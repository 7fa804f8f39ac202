//! `Refer-To` (RFC 3515), compact form `r`.

use std::fmt;

use super::{HeaderError, Param, Replaces};
use crate::MessageExt;
use crate::syntax::{display_name_text, parse_name_addr, percent_decode, write_params};

/// The `Refer-To` header (RFC 3515 §2.1): the URI the recipient of a REFER should contact.
///
/// Keeps the URI text exactly as received, because it may carry URI headers such as
/// `?Replaces=...` that rsip's `Uri` does not round-trip, or be a `tel:` URI. baresip sends the
/// value without angle brackets; [`ReferTo::angle_brackets`] records which form was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferTo {
    /// The URI exactly as given, e.g. `tel:+15105550100` or
    /// `sip:bob@x;transport=udp?Replaces=...`.
    pub uri: String,
    /// Display name, unquoted.
    pub display_name: Option<String>,
    /// Header parameters after the URI.
    pub params: Vec<Param>,
    /// Whether the URI is printed inside `<...>`; forced on when there is a display name.
    pub angle_brackets: bool,
}

impl ReferTo {
    /// Canonical header name.
    pub const NAME: &str = "Refer-To";
    /// Compact header name (RFC 3515 §2.1).
    pub const COMPACT: &str = "r";

    /// A Refer-To for `uri`: printed bare for a plain `tel:` URI, in `<...>` otherwise (any URI
    /// with `;`, `,` or `?` needs brackets, or its parameters would read as header parameters).
    pub fn new(uri: impl Into<String>) -> Self {
        let uri = uri.into();
        let is_tel = uri.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("tel:"));
        let angle_brackets = !is_tel || uri.contains([';', ',', '?']);
        Self {
            uri,
            display_name: None,
            params: Vec::new(),
            angle_brackets,
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
            angle_brackets: n.angle_brackets,
        })
    }

    /// Reads the first `Refer-To` (or `r`) header of a message.
    pub fn from_message<M: MessageExt>(m: &M) -> Option<Result<Self, HeaderError>> {
        m.header_value(Self::NAME).map(Self::parse)
    }

    /// The header to push into a message (rsip has no Refer-To type).
    pub fn to_header(&self) -> rsip::Header {
        rsip::Header::Other(Self::NAME.into(), self.to_string())
    }

    /// The URI without its `?headers` part: the target to send the triggered request to.
    pub fn target_uri(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }

    /// The dialog named by an embedded `?Replaces=` URI header (attended transfer, RFC 3891 §7).
    pub fn embedded_replaces(&self) -> Option<Replaces> {
        let (_, headers) = self.uri.split_once('?')?;
        headers.split('&').find_map(|h| {
            let (name, value) = h.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("Replaces") {
                return None;
            }
            Replaces::parse(&percent_decode(value)?).ok()
        })
    }
}

impl fmt::Display for ReferTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.display_name {
            Some(name) => write!(f, "{} <{}>", display_name_text(name), self.uri)?,
            None if self.angle_brackets => write!(f, "<{}>", self.uri)?,
            None => f.write_str(&self.uri)?,
        }
        write_params(f, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3515_examples() {
        // RFC 3515 §2.1.
        let r = ReferTo::parse("sip:bob@biloxi.example.net").expect("bare");
        assert_eq!(r.uri, "sip:bob@biloxi.example.net");
        assert!(!r.angle_brackets);
        let r = ReferTo::parse(
            "<sip:bob@biloxi.example.net?Accept-Contact=sip:bobsdesk.biloxi.example.net&Call-ID%3D55432%40alicepc.atlanta.example.com>",
        )
        .expect("with headers");
        assert!(r.angle_brackets);
        assert_eq!(r.target_uri(), "sip:bob@biloxi.example.net");
        assert_eq!(r.embedded_replaces(), None);
        let r = ReferTo::parse("<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>")
            .expect("with replaces");
        let rep = r.embedded_replaces().expect("replaces");
        assert_eq!(rep.call_id, "12345@192.168.118.3");
        assert_eq!(rep.to_tag, "12345");
        assert_eq!(rep.from_tag, "5FFE-3994");
        assert_eq!(
            r.to_string(),
            "<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>"
        );
        // A display name and a method parameter in the URI.
        let r = ReferTo::parse("\"Carol\" <sip:carol@cleveland.example.org;method=SUBSCRIBE>")
            .expect("display name");
        assert_eq!(r.display_name.as_deref(), Some("Carol"));
        assert_eq!(r.uri, "sip:carol@cleveland.example.org;method=SUBSCRIBE");
        assert_eq!(
            r.to_string(),
            "Carol <sip:carol@cleveland.example.org;method=SUBSCRIBE>"
        );
    }

    #[test]
    fn baresip_bracketless_and_tel() {
        // baresip 1.0 sends "Refer-To: sip:carol@127.0.0.1:5072".
        let r = ReferTo::parse("sip:carol@127.0.0.1:5072").expect("bare");
        assert_eq!(
            (r.uri.as_str(), r.angle_brackets),
            ("sip:carol@127.0.0.1:5072", false)
        );
        assert_eq!(r.to_string(), "sip:carol@127.0.0.1:5072");
        let r = ReferTo::parse("tel:+15105550100").expect("tel");
        assert_eq!(r.uri, "tel:+15105550100");
        assert_eq!(r.to_string(), "tel:+15105550100");
        let r = ReferTo::parse("<tel:+15105550100>").expect("tel in brackets");
        assert_eq!(r.to_string(), "<tel:+15105550100>");
        assert_eq!(
            ReferTo::new("tel:+15105550100").to_string(),
            "tel:+15105550100"
        );
        assert_eq!(
            ReferTo::new("tel:+1555;phone-context=example.com").to_string(),
            "<tel:+1555;phone-context=example.com>"
        );
        assert_eq!(ReferTo::new("sip:a@b").to_string(), "<sip:a@b>");
        assert_eq!(ReferTo::new("sips:a@b").to_string(), "<sips:a@b>");
        // Bare URI with headers (lenient) keeps the whole URI.
        let r =
            ReferTo::parse("sip:bob@x;transport=udp?Replaces=a%40b%3Bto-tag%3D1%3Bfrom-tag%3D2")
                .expect("bare with headers");
        assert_eq!(
            r.uri,
            "sip:bob@x;transport=udp?Replaces=a%40b%3Bto-tag%3D1%3Bfrom-tag%3D2"
        );
        assert_eq!(r.embedded_replaces().map(|r| r.call_id), Some("a@b".into()));
    }

    #[test]
    fn built_replaces_round_trips() {
        let rep = Replaces {
            call_id: "x@y".into(),
            to_tag: "t".into(),
            from_tag: "f".into(),
            early_only: false,
        };
        let r = ReferTo::new(format!(
            "sip:carol@c.example.com?Replaces={}",
            rep.to_uri_header_value()
        ));
        let back = ReferTo::parse(&r.to_string()).expect("round trip");
        assert_eq!(back.embedded_replaces(), Some(rep));
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(ReferTo::parse(""), Err(HeaderError::Empty { .. })));
        assert!(ReferTo::parse("<sip:a@b").is_err());
        assert!(ReferTo::parse("no-scheme").is_err());
        assert!(ReferTo::parse("<>").is_err());
    }
}
