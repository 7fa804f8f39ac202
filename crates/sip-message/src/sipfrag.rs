//! `message/sipfrag` bodies (RFC 3420), as carried by REFER NOTIFYs (RFC 3515 §2.4.5).

/// Parses the status line of a `message/sipfrag` body, e.g. `SIP/2.0 200 OK`, into code and
/// reason phrase.
///
/// Tolerates leading whitespace, a missing final CRLF and headers after the status line. Returns
/// `None` when the body does not start with a SIP status line or the code is outside 100–699.
pub fn parse_status(body: &[u8]) -> Option<(u16, String)> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let body = &body[start..];
    let end = body
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.splitn(2, [' ', '\t']);
    let version = parts.next()?;
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return None;
    }
    let rest = parts.next()?.trim_start();
    let (code, reason) = rest.split_at(rest.find([' ', '\t']).unwrap_or(rest.len()));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    (100..=699)
        .contains(&code)
        .then(|| (code, reason.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::parse_status;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status(b"SIP/2.0 200 OK\r\n"),
            Some((200, "OK".into()))
        );
        assert_eq!(
            parse_status(b"SIP/2.0 100 Trying"),
            Some((100, "Trying".into()))
        );
        assert_eq!(
            parse_status(b"\r\n  SIP/2.0 180 Ringing\r\nContact: <sip:a@b>\r\n\r\n"),
            Some((180, "Ringing".into()))
        );
        assert_eq!(
            parse_status(b"SIP/2.0 503 Service Unavailable\n"),
            Some((503, "Service Unavailable".into()))
        );
        assert_eq!(parse_status(b"SIP/2.0 486"), Some((486, String::new())));
        assert_eq!(
            parse_status(b"sip/2.0 603 Declined"),
            Some((603, "Declined".into()))
        );
    }

    #[test]
    fn not_status_lines() {
        assert_eq!(parse_status(b""), None);
        assert_eq!(parse_status(b"   "), None);
        assert_eq!(parse_status(b"INVITE sip:a@b SIP/2.0"), None);
        assert_eq!(parse_status(b"SIP/2.0 20 OK"), None);
        assert_eq!(parse_status(b"SIP/2.0 2000 OK"), None);
        assert_eq!(parse_status(b"SIP/2.0 099 Low"), None);
        assert_eq!(parse_status(b"SIP/2.0 700 High"), None);
        assert_eq!(parse_status(b"HTTP/1.1 200 OK"), None);
        assert_eq!(parse_status(&[0xff, 0xfe]), None);
    }
}
