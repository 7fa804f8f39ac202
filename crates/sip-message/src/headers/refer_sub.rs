//! `Refer-Sub` (RFC 4488).

use std::fmt;

use super::HeaderError;
use crate::MessageExt;

/// The `Refer-Sub` header (RFC 4488): `false` asks the transferee not to create the implicit
/// subscription (no NOTIFYs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferSub(pub bool);

impl ReferSub {
    /// Canonical header name.
    pub const NAME: &str = "Refer-Sub";

    /// Parses `true` / `false` (case-insensitive); extension parameters are ignored.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let v = value.split(';').next().unwrap_or_default().trim();
        if v.is_empty() {
            return Err(HeaderError::Empty { header: Self::NAME });
        }
        if v.eq_ignore_ascii_case("true") {
            Ok(Self(true))
        } else if v.eq_ignore_ascii_case("false") {
            Ok(Self(false))
        } else {
            Err(HeaderError::syntax(
                Self::NAME,
                "value is neither true nor false",
            ))
        }
    }

    /// Reads the first `Refer-Sub` header of a message.
    pub fn from_message<M: MessageExt>(m: &M) -> Option<Result<Self, HeaderError>> {
        m.header_value(Self::NAME).map(Self::parse)
    }

    /// The header to push into a message (rsip has no Refer-Sub type).
    pub fn to_header(&self) -> rsip::Header {
        rsip::Header::Other(Self::NAME.into(), self.to_string())
    }
}

impl fmt::Display for ReferSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "true" } else { "false" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(ReferSub::parse("false"), Ok(ReferSub(false)));
        assert_eq!(ReferSub::parse(" TRUE ;x=1"), Ok(ReferSub(true)));
        assert!(ReferSub::parse("maybe").is_err());
        assert!(ReferSub::parse("").is_err());
        assert_eq!(ReferSub(false).to_string(), "false");
        assert_eq!(
            ReferSub(false).to_header(),
            rsip::Header::Other("Refer-Sub".into(), "false".into())
        );
    }
}
