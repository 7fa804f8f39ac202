//! Dial and transfer destinations: `sip:`/`sips:` URIs, `tel:` E.164 numbers, or digits that the
//! dial plan turns into one of those.

use crate::error::ConsoleError;

/// A destination the console can dial or transfer to, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SIP or SIPS URI, kept as given (`sip:sales@pbx.example.com`).
    Sip(String),
    /// A global number, `tel:+15105550100` (digits only after the `+`, visual separators removed).
    Tel(String),
    /// Dialable digits (`0-9 * #`, optional leading `+`) routed through an account.
    Digits(String),
}

impl Target {
    /// Parses what an attendant typed. Surrounding whitespace is ignored, visual separators
    /// (` -.()`) inside numbers are removed.
    pub fn parse(input: &str) -> Result<Self, ConsoleError> {
        let s = input.trim();
        let bad = |reason: &str| ConsoleError::InvalidTarget {
            target: input.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(bad("empty destination"));
        }
        if s.len() > 512 {
            return Err(bad("longer than 512 characters"));
        }
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("sip:") || lower.starts_with("sips:") {
            let rest = &s[s.find(':').map_or(0, |i| i + 1)..];
            let host_part = rest.rsplit('@').next().unwrap_or(rest);
            let host = host_part
                .split([';', '?'])
                .next()
                .unwrap_or("")
                .trim_start_matches('[');
            if host.is_empty()
                || !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
            {
                return Err(bad("the SIP URI has no valid host"));
            }
            if s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
            {
                return Err(bad("the SIP URI contains spaces or brackets"));
            }
            let scheme = if lower.starts_with("sips:") {
                "sips:"
            } else {
                "sip:"
            };
            return Ok(Self::Sip(format!("{scheme}{rest}")));
        }
        if let Some(number) = lower.strip_prefix("tel:") {
            let number: String = number
                .split(';')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !" -.()".contains(*c))
                .collect();
            let Some(digits) = number.strip_prefix('+') else {
                return Err(bad("a tel: number must be global, starting with +"));
            };
            if digits.is_empty() || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return Err(bad("a tel: number must be + and 1 to 15 digits (E.164)"));
            }
            return Ok(Self::Tel(format!("tel:+{digits}")));
        }
        let digits: String = s.chars().filter(|c| !" -.()".contains(*c)).collect();
        let body = digits.strip_prefix('+').unwrap_or(&digits);
        if body.is_empty() || body.len() > 32 {
            return Err(bad("expected sip:, sips:, tel:+E164 or 1 to 32 digits"));
        }
        if !body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        {
            return Err(bad("expected sip:, sips:, tel:+E164 or digits (0-9, *, #)"));
        }
        Ok(Self::Digits(digits))
    }

    /// The request URI to dial: SIP URIs as given; numbers become `sip:<number>@<domain>` through
    /// the routing account (`None` when there is none: the caller reports [`ConsoleError::NoRoute`]).
    pub fn to_request_uri(&self, domain: Option<&str>) -> Option<String> {
        match self {
            Self::Sip(uri) => Some(uri.clone()),
            Self::Tel(tel) => domain.map(|d| format!("sip:{}@{d};user=phone", &tel[4..])),
            Self::Digits(digits) => domain.map(|d| format!("sip:{digits}@{d}")),
        }
    }

    /// The destination in its canonical printed form.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sip(s) | Self::Tel(s) | Self::Digits(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_kinds() {
        assert_eq!(
            Target::parse("sip:sales@pbx.example.com").ok(),
            Some(Target::Sip("sip:sales@pbx.example.com".into()))
        );
        assert_eq!(
            Target::parse(" tel:+1 (510) 555-0100 ").ok(),
            Some(Target::Tel("tel:+15105550100".into()))
        );
        assert_eq!(
            Target::parse("1001").ok(),
            Some(Target::Digits("1001".into()))
        );
        assert_eq!(
            Target::parse("sip:127.0.0.1:5099").ok(),
            Some(Target::Sip("sip:127.0.0.1:5099".into()))
        );
    }

    #[test]
    fn rejects_garbage_with_reasons() {
        for bad in [
            "",
            "not a uri!",
            "tel:15105550100",
            "tel:+",
            "sip:",
            "sip:a@",
            "http://x",
            "12a4",
            "sip:a b@c",
        ] {
            let err = Target::parse(bad).expect_err(bad);
            assert_eq!(err.http_status(), 400, "{bad}");
        }
    }

    #[test]
    fn numbers_route_through_a_domain() {
        let t = Target::parse("tel:+15105550100").expect("valid");
        assert_eq!(t.to_request_uri(None), None);
        assert_eq!(
            t.to_request_uri(Some("pbx.example.com")).as_deref(),
            Some("sip:+15105550100@pbx.example.com;user=phone")
        );
    }
}
