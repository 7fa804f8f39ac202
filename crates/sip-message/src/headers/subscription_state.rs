//! `Subscription-State` (RFC 6665 §8.2.3).

use std::fmt;

use super::{HeaderError, number_param};
use crate::MessageExt;
use crate::syntax::{split_params, unquote};

/// The substate value of a `Subscription-State` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubState {
    /// The subscription has been accepted.
    Active,
    /// The subscription is waiting for authorisation.
    Pending,
    /// The subscription has ended.
    Terminated,
    /// An extension substate, kept as received.
    Other(String),
}

/// The `Subscription-State` header (RFC 6665), e.g. `terminated;reason=noresource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    /// The substate.
    pub state: SubState,
    /// Seconds until the subscription expires (`expires`).
    pub expires: Option<u32>,
    /// Why it was terminated (`reason`, e.g. `noresource`, `timeout`, `rejected`).
    pub reason: Option<String>,
    /// Seconds before a retry (`retry-after`).
    pub retry_after: Option<u32>,
}

impl SubscriptionState {
    /// Canonical header name.
    pub const NAME: &str = "Subscription-State";

    /// A state with no parameters.
    pub fn new(state: SubState) -> Self {
        Self {
            state,
            expires: None,
            reason: None,
            retry_after: None,
        }
    }

    /// Parses a header value; unknown parameters are ignored.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(HeaderError::Empty { header: Self::NAME });
        }
        let (state, rest) = value.split_at(value.find(';').unwrap_or(value.len()));
        let state = state.trim();
        if state.is_empty() || !state.bytes().all(crate::parse::is_token_byte) {
            return Err(HeaderError::syntax(Self::NAME, "invalid substate"));
        }
        let state = match state.to_ascii_lowercase().as_str() {
            "active" => SubState::Active,
            "pending" => SubState::Pending,
            "terminated" => SubState::Terminated,
            _ => SubState::Other(state.to_owned()),
        };
        let mut out = Self::new(state);
        for (name, v) in split_params(rest).map_err(|r| HeaderError::syntax(Self::NAME, r))? {
            match name.to_ascii_lowercase().as_str() {
                "expires" => out.expires = Some(number_param(Self::NAME, "expires", v.as_deref())?),
                "retry-after" => {
                    out.retry_after = Some(number_param(Self::NAME, "retry-after", v.as_deref())?)
                }
                "reason" => out.reason = v.map(|v| unquote(&v)),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Reads the first `Subscription-State` header of a message.
    pub fn from_message<M: MessageExt>(m: &M) -> Option<Result<Self, HeaderError>> {
        m.header_value(Self::NAME).map(Self::parse)
    }

    /// The header to push into a message (rsip's untyped `SubscriptionState`).
    pub fn to_header(&self) -> rsip::Header {
        rsip::Header::SubscriptionState(rsip::headers::SubscriptionState::from(self.to_string()))
    }
}

impl fmt::Display for SubState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubState::Active => "active",
            SubState::Pending => "pending",
            SubState::Terminated => "terminated",
            SubState::Other(s) => s,
        })
    }
}

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.state)?;
        if let Some(reason) = &self.reason {
            write!(f, ";reason={reason}")?;
        }
        if let Some(expires) = self.expires {
            write!(f, ";expires={expires}")?;
        }
        if let Some(retry) = self.retry_after {
            write!(f, ";retry-after={retry}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        let s = SubscriptionState::parse("active;expires=60").expect("valid");
        assert_eq!(s.state, SubState::Active);
        assert_eq!(s.expires, Some(60));
        let s = SubscriptionState::parse("terminated;reason=noresource").expect("valid");
        assert_eq!(s.state, SubState::Terminated);
        assert_eq!(s.reason.as_deref(), Some("noresource"));
        assert_eq!(s.to_string(), "terminated;reason=noresource");
        let s =
            SubscriptionState::parse("Pending; expires=600 ;retry-after=30;x=y").expect("valid");
        assert_eq!(
            (s.state.clone(), s.expires, s.retry_after),
            (SubState::Pending, Some(600), Some(30))
        );
        let s = SubscriptionState::parse("waiting").expect("extension");
        assert_eq!(s.state, SubState::Other("waiting".into()));
        assert_eq!(
            s.to_header(),
            rsip::Header::SubscriptionState(rsip::headers::SubscriptionState::from("waiting"))
        );
    }

    #[test]
    fn rejects_bad_numbers() {
        assert!(SubscriptionState::parse("active;expires=-1").is_err());
        assert!(SubscriptionState::parse("active;expires=99999999999").is_err());
        assert!(SubscriptionState::parse("active;expires").is_err());
        assert!(SubscriptionState::parse("").is_err());
    }
}
