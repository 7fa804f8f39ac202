//! Small lexical helpers shared by the header types: parameters, name-addr, quoting,
//! percent-encoding. Everything here works on `&str` and never panics.

/// A header or URI parameter: name and raw value (quotes kept, so printing round-trips).
pub(crate) type Param = (String, Option<String>);

/// A parsed `name-addr` / `addr-spec` (RFC 3261 §25.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameAddr {
    pub display_name: Option<String>,
    pub uri: String,
    pub angle_brackets: bool,
    pub params: Vec<Param>,
}

/// Why a name-addr did not parse.
pub(crate) fn parse_name_addr(value: &str) -> Result<NameAddr, &'static str> {
    let value = value.trim();
    if value.is_empty() {
        return Err("empty value");
    }
    let (display_name, rest) = if value.starts_with('"') {
        let end = quoted_end(value).ok_or("unterminated quoted display name")?;
        let rest = value[end..].trim_start();
        if !rest.starts_with('<') {
            return Err("quoted display name not followed by <uri>");
        }
        (Some(unquote(&value[..end])), rest)
    } else if let Some(lt) = value.find('<') {
        let name = value[..lt].trim();
        let name = (!name.is_empty()).then(|| name.to_owned());
        (name, &value[lt..])
    } else {
        (None, value)
    };

    if let Some(inner) = rest.strip_prefix('<') {
        let gt = inner.find('>').ok_or("missing closing >")?;
        let uri = inner[..gt].trim();
        if uri.is_empty() {
            return Err("empty URI");
        }
        Ok(NameAddr {
            display_name,
            uri: uri.to_owned(),
            angle_brackets: true,
            params: split_params(&inner[gt + 1..])?,
        })
    } else {
        // addr-spec: header parameters start at the first ';'. A URI with '?headers' keeps
        // everything up to the first ';' after the '?' (lenient towards bracket-less REFERs).
        let search_from = rest.find('?').unwrap_or(0);
        let end = rest[search_from..]
            .find(';')
            .map_or(rest.len(), |i| i + search_from);
        let uri = rest[..end].trim();
        if uri.is_empty() || uri.contains(char::is_whitespace) {
            return Err("URI missing or contains whitespace");
        }
        Ok(NameAddr {
            display_name: None,
            uri: uri.to_owned(),
            angle_brackets: false,
            params: split_params(&rest[end..])?,
        })
    }
}

/// Header parameters of a name-addr value; empty when it does not parse.
pub(crate) fn name_addr_params(value: &str) -> Vec<Param> {
    parse_name_addr(value).map(|n| n.params).unwrap_or_default()
}

/// Parameters after the first `;` of a value such as Via or Event.
pub(crate) fn header_params(value: &str) -> Vec<Param> {
    match value.find(';') {
        Some(i) => split_params(&value[i..]).unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Splits `;a=b;c;d="x;y"` into parameters (leading `;` optional).
pub(crate) fn split_params(s: &str) -> Result<Vec<Param>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let s = s
        .strip_prefix(';')
        .ok_or("expected ';' before parameters")?;
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut segments = Vec::new();
    for (i, c) in s.char_indices() {
        if in_quotes {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == ';' {
            segments.push(&s[start..i]);
            start = i + 1;
        }
    }
    if in_quotes {
        return Err("unterminated quoted parameter value");
    }
    segments.push(&s[start..]);
    for seg in segments {
        let seg = seg.trim();
        if seg.is_empty() {
            continue;
        }
        let (name, value) = match seg.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().to_owned())),
            None => (seg, None),
        };
        if name.is_empty() || !name.bytes().all(crate::parse::is_token_byte) {
            return Err("invalid parameter name");
        }
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

/// The unquoted value of parameter `name` (case-insensitive).
pub(crate) fn param_value(params: Vec<Param>, name: &str) -> Option<String> {
    params
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v)
        .map(|v| unquote(&v))
}

/// Writes `;name[=value]` for each parameter.
pub(crate) fn write_params(f: &mut std::fmt::Formatter<'_>, params: &[Param]) -> std::fmt::Result {
    for (name, value) in params {
        match value {
            Some(v) => write!(f, ";{name}={v}")?,
            None => write!(f, ";{name}")?,
        }
    }
    Ok(())
}

/// Byte index just past the closing quote of the quoted string `s` starts with.
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Strips surrounding quotes and backslash escapes; returns other text unchanged.
pub(crate) fn unquote(s: &str) -> String {
    let s = s.trim();
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return s.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes a display name, escaping `"` and `\`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Writes a display name: bare when it is a run of tokens, quoted otherwise.
pub(crate) fn display_name_text(name: &str) -> String {
    let tokens = !name.is_empty()
        && name
            .split(' ')
            .all(|w| !w.is_empty() && w.bytes().all(crate::parse::is_token_byte));
    if tokens { name.to_owned() } else { quote(name) }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; None when an escape is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let n = parse_name_addr("\"A \\\"B\\\"\" <sip:a@b;lr>;tag=x;foo").expect("quoted");
        assert_eq!(n.display_name.as_deref(), Some("A \"B\""));
        assert_eq!(n.uri, "sip:a@b;lr");
        assert_eq!(
            n.params,
            vec![("tag".into(), Some("x".into())), ("foo".into(), None)]
        );
        let n = parse_name_addr("Bob <tel:+1555>").expect("token name");
        assert_eq!(n.display_name.as_deref(), Some("Bob"));
        let n = parse_name_addr("sip:a@b;tag=1").expect("addr-spec");
        assert_eq!((n.uri.as_str(), n.angle_brackets), ("sip:a@b", false));
        assert_eq!(n.params, vec![("tag".into(), Some("1".into()))]);
        assert!(parse_name_addr("<sip:a@b").is_err());
        assert!(parse_name_addr("\"x <sip:a@b>").is_err());
    }

    #[test]
    fn percent_round_trip() {
        let s = "a;b=c@d%e f";
        assert_eq!(percent_decode(&percent_encode(s)).as_deref(), Some(s));
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%é"), None);
    }
}
