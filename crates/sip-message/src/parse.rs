//! [`parse`] and [`to_bytes`]: the guarded entry and exit points of the SIP wire format.
//!
//! rsip's own parser is strict about layout and lax about semantics, and it can only be trusted
//! not to panic as far as it has been fuzzed. So we normalise the header section ourselves
//! (compact names, line folding, comma-joined lists, Content-Length) into a canonical byte
//! buffer, hand that to rsip inside `catch_unwind`, and then check the headers RFC 3261 §8.1.1
//! makes mandatory.

use std::io::Write as _;
use std::str::FromStr as _;

use rsip::headers::UntypedHeader as _;
use rsip::{Header, SipMessage};

use crate::error::ParseError;
use crate::ext::is_header_named;

/// Largest message (datagram or framed stream message) [`parse`] accepts, in bytes.
pub const MAX_MESSAGE_SIZE: usize = 65_535;

/// Parses one datagram or one framed stream message.
///
/// Never panics: rsip runs inside `std::panic::catch_unwind`. Rejects input larger than
/// [`MAX_MESSAGE_SIZE`]. Normalises compact header names to their full forms (so rsip's typed
/// accessors work), unfolds continuation lines, splits comma-joined Via, Route, Record-Route and
/// Contact values into one header each, checks the mandatory headers (Via, From, To, Call-ID,
/// CSeq; a request's CSeq method must equal its method) and honours Content-Length: a longer body
/// is truncated (UDP), a shorter one is [`ParseError::BadContentLength`]; without Content-Length
/// the rest of the input is the body.
pub fn parse(bytes: &[u8]) -> Result<SipMessage, ParseError> {
    if bytes.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge {
            size: bytes.len(),
            max: MAX_MESSAGE_SIZE,
        });
    }
    let canonical = canonicalise(bytes)?;
    let msg = guarded(|| {
        #[cfg(test)]
        tests::maybe_panic();
        SipMessage::try_from(canonical.as_slice())
    })?
    .map_err(|e| ParseError::Malformed(one_line(&e.to_string())))?;
    validate(&msg)?;
    Ok(msg)
}

/// Serialises a message; always writes one Content-Length matching the body, in place of the
/// first existing one (or last, when there was none), and copies the body byte for byte.
///
/// Unlike rsip's `Display`, this keeps binary bodies intact and prints the RFC reason phrase
/// ("Session Progress", not "SessionProgress") for the status codes rsip knows.
pub fn to_bytes(msg: &SipMessage) -> Vec<u8> {
    let (headers, body) = match msg {
        SipMessage::Request(r) => (&r.headers, &r.body),
        SipMessage::Response(r) => (&r.headers, &r.body),
    };
    let mut out = Vec::with_capacity(512 + body.len());
    // Writing into a Vec<u8> cannot fail, so the io::Result of write! is ignored.
    match msg {
        SipMessage::Request(r) => {
            let _ = write!(out, "{} {} {}\r\n", r.method, r.uri, r.version);
        }
        SipMessage::Response(r) => {
            let code = r.status_code.code();
            let _ = write!(
                out,
                "{} {} {}\r\n",
                r.version,
                code,
                status_reason(&r.status_code)
            );
        }
    }
    let mut wrote_length = false;
    for header in headers.iter() {
        if is_header_named(header, "Content-Length") {
            if !wrote_length {
                let _ = write!(out, "Content-Length: {}\r\n", body.len());
                wrote_length = true;
            }
            continue;
        }
        let _ = write!(out, "{header}\r\n");
    }
    if !wrote_length {
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Expands a compact header name (RFC 3261 §7.3.3 and later RFCs) to its full form; any other
/// name is returned unchanged.
pub fn expand_compact_name(name: &str) -> &str {
    let bytes = name.as_bytes();
    if bytes.len() != 1 {
        return name;
    }
    match bytes[0].to_ascii_lowercase() {
        b'a' => "Accept-Contact",
        b'b' => "Referred-By",
        b'c' => "Content-Type",
        b'd' => "Request-Disposition",
        b'e' => "Content-Encoding",
        b'f' => "From",
        b'i' => "Call-ID",
        b'j' => "Reject-Contact",
        b'k' => "Supported",
        b'l' => "Content-Length",
        b'm' => "Contact",
        b'n' => "Identity-Info",
        b'o' => "Event",
        b'r' => "Refer-To",
        b's' => "Subject",
        b't' => "To",
        b'u' => "Allow-Events",
        b'v' => "Via",
        b'x' => "Session-Expires",
        b'y' => "Identity",
        _ => name,
    }
}

/// Runs `f`, turning a panic into [`ParseError::Panicked`].
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, ParseError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| ParseError::Panicked)
}

/// Headers whose comma-joined values are split into one header per value.
const SPLIT_HEADERS: [&str; 4] = ["Via", "Route", "Record-Route", "Contact"];

/// Builds the canonical form handed to rsip: CRLF line ends, full header names, one value per
/// Via/Route/Record-Route/Contact header, no folding, body cut to Content-Length.
fn canonicalise(bytes: &[u8]) -> Result<Vec<u8>, ParseError> {
    // RFC 3261 §7.5: ignore CRLFs before the start line.
    let start = bytes
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .ok_or(ParseError::Empty)?;
    let bytes = &bytes[start..];
    let (head, body) = split_head(bytes).ok_or(ParseError::UnterminatedHeaders)?;
    let head = std::str::from_utf8(head).map_err(|_| ParseError::NotUtf8)?;

    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = lines.next().unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // RFC 3261 §7.3.1 folding: a continuation joins the previous value with one space.
            let (_, value) = headers
                .last_mut()
                .ok_or_else(|| ParseError::BadHeaderLine(one_line(line)))?;
            value.push(' ');
            value.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ParseError::BadHeaderLine(one_line(line)))?;
        let name = name.trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(ParseError::BadHeaderLine(one_line(line)));
        }
        headers.push((
            expand_compact_name(name).to_owned(),
            value.trim().to_owned(),
        ));
    }

    let mut content_length: Option<usize> = None;
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("Content-Length") {
            let n = parse_content_length(value).ok_or(ParseError::BadContentLength)?;
            match content_length {
                Some(prev) if prev != n => return Err(ParseError::BadContentLength),
                _ => content_length = Some(n),
            }
        }
    }
    let body = match content_length {
        Some(n) if body.len() < n => return Err(ParseError::BadContentLength),
        Some(n) => &body[..n],
        None => body,
    };

    let mut out = Vec::with_capacity(bytes.len() + 64);
    out.extend_from_slice(start_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &headers {
        let split = SPLIT_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) && value != "*";
        if split {
            for part in split_list(value) {
                push_header(&mut out, name, part);
            }
        } else if name.eq_ignore_ascii_case("Content-Length") {
            push_header(&mut out, name, &body.len().to_string());
        } else {
            push_header(&mut out, name, value);
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Splits at the first empty line (CRLF CRLF, or bare LF LF from sloppy peers), returning the
/// start line plus headers (without the terminating line end) and the body.
fn split_head(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let crlf = find(bytes, b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = find(bytes, b"\n\n").map(|i| (i, i + 2));
    let (end, body) = match (crlf, lf) {
        (Some(a), Some(b)) => {
            if a.0 <= b.0 {
                a
            } else {
                b
            }
        }
        (a, b) => a.or(b)?,
    };
    Some((&bytes[..end], &bytes[body..]))
}

/// Position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A Content-Length value: decimal digits only, at most what fits a usize.
pub(crate) fn parse_content_length(value: &str) -> Option<usize> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// RFC 3261 token characters (header names).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Splits a header value at commas that are outside quoted strings and `<...>`.
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut in_angle = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if in_quotes {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '<' => in_angle = true,
            '>' => in_angle = false,
            ',' if !in_angle => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// Keeps error texts on one line and short.
pub(crate) fn one_line(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if s.chars().count() > 120 {
        out.push('…');
    }
    out
}

/// Checks the headers RFC 3261 §8.1.1 requires in every request and response.
fn validate(msg: &SipMessage) -> Result<(), ParseError> {
    let headers = match msg {
        SipMessage::Request(r) => &r.headers,
        SipMessage::Response(r) => &r.headers,
    };
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if !headers.iter().any(|h| is_header_named(h, name)) {
            return Err(ParseError::MissingHeader(name));
        }
    }
    let cseq = headers
        .iter()
        .find_map(|h| match h {
            Header::CSeq(c) => Some(c.value()),
            _ => None,
        })
        .unwrap_or_default();
    let (_, method) = parse_cseq(cseq).ok_or_else(|| ParseError::BadCSeq(one_line(cseq)))?;
    // Status-Code is three digits, 100 to 699 (RFC 3261 §7.2, §21): rsip takes a longer or
    // overflowing number as some other code (a mutated message read as status 0), which could
    // not be printed and read back.
    if let SipMessage::Response(r) = msg
        && !(100..=699).contains(&r.status_code.code())
    {
        return Err(ParseError::Malformed(format!(
            "status code {} is not between 100 and 699",
            r.status_code.code()
        )));
    }
    if let SipMessage::Request(r) = msg
        && r.method != method
    {
        return Err(ParseError::CSeqMethodMismatch {
            request: r.method.to_string(),
            cseq: method.to_string(),
        });
    }
    Ok(())
}

/// `"<seq> <METHOD>"` → (seq, method); None when either part is missing or invalid.
pub(crate) fn parse_cseq(value: &str) -> Option<(u32, rsip::Method)> {
    let mut parts = value.split_whitespace();
    let seq = parts.next()?;
    let method_text = parts.next()?;
    if parts.next().is_some() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq = seq.parse::<u32>().ok()?;
    let method = guarded(|| rsip::Method::from_str(method_text)).ok()?.ok()?;
    // Method names are case-sensitive (RFC 3261 §7.1); rsip's FromStr is not.
    (method.to_string() == method_text).then_some((seq, method))
}

/// Reason phrase for a status code: the RFC text for codes rsip knows, the received text
/// otherwise.
fn status_reason(code: &rsip::StatusCode) -> String {
    if let rsip::StatusCode::Other(_, reason) = code {
        return reason.clone();
    }
    if let Some(reason) = standard_reason(code.code()) {
        return reason.to_owned();
    }
    // rsip prints the variant name ("CallTransactionDoesNotExist"); split it into words.
    let text = code.to_string();
    let name = text.split_once(' ').map(|(_, n)| n).unwrap_or_default();
    let mut out = String::with_capacity(name.len() + 8);
    for (i, c) in name.char_indices() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Reason phrases whose RFC spelling differs from a plain word split of rsip's variant names.
fn standard_reason(code: u16) -> Option<&'static str> {
    Some(match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        420 => "Bad Extension",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MessageExt;
    use std::cell::Cell;

    thread_local! {
        static FORCE_PANIC: Cell<bool> = const { Cell::new(false) };
    }

    /// Test-only hook: makes the next guarded rsip call on this thread panic.
    pub(super) fn maybe_panic() {
        if FORCE_PANIC.with(|f| f.replace(false)) {
            panic!("forced panic inside the rsip guard");
        }
    }

    const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
        Max-Forwards: 70\r\n\
        To: Bob <sip:bob@biloxi.example.com>\r\n\
        From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
        CSeq: 314159 INVITE\r\n\
        Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\
        \r\n\
        v=0\n";

    #[test]
    fn parses_plain_invite() {
        let msg = parse(INVITE.as_bytes()).expect("valid INVITE");
        assert!(msg.is_request());
        assert_eq!(msg.body(), b"v=0\n");
        assert_eq!(msg.branch().as_deref(), Some("z9hG4bK776asdhds"));
        assert_eq!(msg.cseq(), Some((314159, rsip::Method::Invite)));
    }

    #[test]
    fn status_codes_outside_100_to_699_are_malformed() {
        let response = |status: &str| {
            format!(
                "SIP/2.0 {status} OK\r\n\
                 Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
                 To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
                 From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
                 Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
                 CSeq: 314159 INVITE\r\n\
                 Content-Length: 0\r\n\r\n"
            )
        };
        for ok in ["100", "180", "200", "699"] {
            let msg = parse(response(ok).as_bytes());
            assert!(msg.is_ok(), "{ok}: {msg:?}");
            // What is accepted prints and reads back.
            assert!(parse(&to_bytes(&msg.expect("parsed"))).is_ok(), "{ok}");
        }
        for bad in [
            "0",
            "99",
            "700",
            "2000",
            "340282366920938463463374607431768211456999",
        ] {
            assert!(
                matches!(
                    parse(response(bad).as_bytes()),
                    Err(ParseError::Malformed(_))
                ),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn guard_turns_panic_into_error() {
        FORCE_PANIC.with(|f| f.set(true));
        assert_eq!(parse(INVITE.as_bytes()), Err(ParseError::Panicked));
        // The hook is one-shot: the next parse succeeds again.
        assert!(parse(INVITE.as_bytes()).is_ok());
    }

    #[test]
    fn rejects_too_large() {
        let big = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        assert_eq!(
            parse(&big),
            Err(ParseError::TooLarge {
                size: MAX_MESSAGE_SIZE + 1,
                max: MAX_MESSAGE_SIZE
            })
        );
    }

    #[test]
    fn compact_forms_are_normalised() {
        let raw = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
            v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
            t: <sip:bob@biloxi.example.com>\r\n\
            f: <sip:alice@atlanta.example.com>;tag=88sja8x\r\n\
            i: compact@pc33\r\n\
            CSeq: 1 INVITE\r\n\
            m: <sip:alice@pc33.atlanta.example.com>\r\n\
            c: application/sdp\r\n\
            k: replaces\r\n\
            o: refer\r\n\
            r: <sip:carol@example.com>\r\n\
            l: 0\r\n\r\n";
        let msg = parse(raw.as_bytes()).expect("compact message");
        let headers = match &msg {
            SipMessage::Request(r) => &r.headers,
            SipMessage::Response(_) => unreachable!("parsed a request"),
        };
        assert!(headers.iter().any(|h| matches!(h, Header::Via(_))));
        assert!(headers.iter().any(|h| matches!(h, Header::From(_))));
        assert!(headers.iter().any(|h| matches!(h, Header::To(_))));
        assert!(headers.iter().any(|h| matches!(h, Header::CallId(_))));
        assert!(headers.iter().any(|h| matches!(h, Header::Contact(_))));
        assert!(headers.iter().any(|h| matches!(h, Header::ContentType(_))));
        assert!(headers.iter().any(|h| matches!(h, Header::Supported(_))));
        assert!(headers.iter().any(|h| matches!(h, Header::Event(_))));
        assert!(
            headers
                .iter()
                .any(|h| matches!(h, Header::ContentLength(_)))
        );
        assert_eq!(
            msg.header_value("Refer-To"),
            Some("<sip:carol@example.com>")
        );
        assert_eq!(msg.from_tag().as_deref(), Some("88sja8x"));
        assert_eq!(msg.call_id().as_deref(), Some("compact@pc33"));
        assert_eq!(msg.content_type().as_deref(), Some("application/sdp"));
    }

    #[test]
    fn comma_joined_via_route_contact_are_split() {
        let raw = "SIP/2.0 200 OK\r\n\
            Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2\r\n\
            Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n\
            Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
            Contact: \"Doe, John\" <sip:john@x.example.com;foo=\"a,b\">;expires=60, <sip:j2@y.example.com>\r\n\
            From: <sip:a@example.com>;tag=1\r\n\
            To: <sip:b@example.com>;tag=2\r\n\
            Call-ID: x\r\n\
            CSeq: 1 INVITE\r\n\r\n";
        let msg = parse(raw.as_bytes()).expect("response");
        assert_eq!(
            msg.header_values("Via"),
            vec![
                "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
                "SIP/2.0/TCP b.example.com;branch=z9hG4bK2",
                "SIP/2.0/UDP c.example.com;branch=z9hG4bK3",
            ]
        );
        assert_eq!(
            msg.header_values("record-route"),
            vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert_eq!(
            msg.header_values("m"),
            vec![
                "\"Doe, John\" <sip:john@x.example.com;foo=\"a,b\">;expires=60",
                "<sip:j2@y.example.com>"
            ]
        );
        assert_eq!(msg.branch().as_deref(), Some("z9hG4bK1"));
        assert_eq!(msg.to_tag().as_deref(), Some("2"));
    }

    #[test]
    fn contact_star_is_not_split() {
        let raw = INVITE.replace(
            "Contact: <sip:alice@pc33.atlanta.example.com>",
            "Contact: *",
        );
        let msg = parse(raw.as_bytes()).expect("message");
        assert_eq!(msg.header_values("Contact"), vec!["*"]);
    }

    #[test]
    fn folded_header_lines_are_joined() {
        let raw = INVITE.replace(
            "Max-Forwards: 70\r\n",
            "Subject: I know\r\n  you're there\r\n",
        );
        let msg = parse(raw.as_bytes()).expect("message");
        assert_eq!(msg.header_value("subject"), Some("I know you're there"));
    }

    #[test]
    fn longer_body_is_truncated_to_content_length() {
        let raw = format!("{INVITE}garbage after the body");
        let msg = parse(raw.as_bytes()).expect("message");
        assert_eq!(msg.body(), b"v=0\n");
    }

    #[test]
    fn shorter_body_is_bad_content_length() {
        let raw = INVITE.replace("Content-Length: 4", "Content-Length: 40");
        assert_eq!(parse(raw.as_bytes()), Err(ParseError::BadContentLength));
        let raw = INVITE.replace("Content-Length: 4", "Content-Length: four");
        assert_eq!(parse(raw.as_bytes()), Err(ParseError::BadContentLength));
        let raw = INVITE.replace(
            "Content-Length: 4",
            "Content-Length: 99999999999999999999999999",
        );
        assert_eq!(parse(raw.as_bytes()), Err(ParseError::BadContentLength));
        let raw = INVITE.replace("Content-Length: 4", "Content-Length: 4\r\nl: 3");
        assert_eq!(parse(raw.as_bytes()), Err(ParseError::BadContentLength));
    }

    #[test]
    fn missing_content_length_takes_rest_of_datagram() {
        let raw = INVITE.replace("Content-Length: 4\r\n", "");
        let msg = parse(format!("{raw}more").as_bytes()).expect("message");
        assert_eq!(msg.body(), b"v=0\nmore");
    }

    #[test]
    fn mandatory_headers_are_checked() {
        for (line, name) in [
            (
                "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n",
                "Via",
            ),
            ("To: Bob <sip:bob@biloxi.example.com>\r\n", "To"),
            (
                "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n",
                "From",
            ),
            (
                "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n",
                "Call-ID",
            ),
            ("CSeq: 314159 INVITE\r\n", "CSeq"),
        ] {
            let raw = INVITE.replace(line, "");
            assert_eq!(parse(raw.as_bytes()), Err(ParseError::MissingHeader(name)));
        }
    }

    #[test]
    fn cseq_is_checked() {
        let raw = INVITE.replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE");
        assert!(matches!(
            parse(raw.as_bytes()),
            Err(ParseError::CSeqMethodMismatch { .. })
        ));
        for bad in [
            "CSeq: x INVITE",
            "CSeq: 99999999999 INVITE",
            "CSeq: 1",
            "CSeq: 1 invite",
        ] {
            let raw = INVITE.replace("CSeq: 314159 INVITE", bad);
            assert!(
                matches!(parse(raw.as_bytes()), Err(ParseError::BadCSeq(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn leading_crlf_and_bare_lf_are_tolerated() {
        let raw = format!("\r\n\r\n{}", INVITE.replace("\r\n", "\n"));
        let msg = parse(raw.as_bytes()).expect("message");
        assert_eq!(
            msg.call_id().as_deref(),
            Some("a84b4c76e66710@pc33.atlanta.example.com")
        );
    }

    #[test]
    fn empty_and_unterminated_are_rejected() {
        assert_eq!(parse(b""), Err(ParseError::Empty));
        assert_eq!(parse(b"\r\n\r\n"), Err(ParseError::Empty));
        assert_eq!(
            parse(b"INVITE sip:a@b SIP/2.0\r\nVia: x"),
            Err(ParseError::UnterminatedHeaders)
        );
    }

    #[test]
    fn to_bytes_writes_correct_content_length_and_keeps_binary_body() {
        let mut msg = parse(INVITE.as_bytes()).expect("message");
        *msg.body_mut() = vec![0xff, 0x00, 0xfe];
        let bytes = to_bytes(&msg);
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(text.matches("Content-Length: 3\r\n").count(), 1);
        assert!(bytes.ends_with(&[b'\r', b'\n', b'\r', b'\n', 0xff, 0x00, 0xfe]));
        let again = parse(&bytes).expect("round trip");
        assert_eq!(again.body(), &[0xff, 0x00, 0xfe]);
    }

    #[test]
    fn to_bytes_adds_missing_content_length_and_rfc_reason() {
        let raw = "SIP/2.0 183 Session Progress\r\n\
            Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
            From: <sip:a@example.com>;tag=1\r\n\
            To: <sip:b@example.com>;tag=2\r\n\
            Call-ID: x\r\n\
            CSeq: 1 INVITE\r\n\r\n";
        let msg = parse(raw.as_bytes()).expect("response");
        let text = String::from_utf8(to_bytes(&msg)).expect("utf-8");
        assert!(
            text.starts_with("SIP/2.0 183 Session Progress\r\n"),
            "{text}"
        );
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text}");
    }
}
