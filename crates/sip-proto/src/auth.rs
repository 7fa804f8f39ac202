//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760): parse a
//! `WWW-Authenticate` / `Proxy-Authenticate` challenge and compute the `Authorization` /
//! `Proxy-Authorization` answer.
//!
//! Pure functions plus one piece of state: [`DigestClient`] remembers the nonce count per realm,
//! so a UA keeps one client per account and calls [`DigestClient::authorize`] whenever a 401/407
//! arrives (or when it re-uses a nonce pre-emptively). Only `qop=auth` and the RFC 2069 mode
//! without qop are supported; `auth-int` alone is rejected.

use std::collections::HashMap;
use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest as _, Sha256};
use sip_message::{MessageExt as _, rsip};

/// Hash algorithm named in a digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// `MD5` (the default when a challenge names none).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 8760).
    Sha256,
    /// `SHA-256-sess` (RFC 8760).
    Sha256Sess,
}

/// A parsed `Digest` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space, shown to users and part of HA1.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo back.
    pub opaque: Option<String>,
    /// Hash algorithm.
    pub algorithm: DigestAlgorithm,
    /// Offered qop values, lower-cased (`auth`, `auth-int`); empty for RFC 2069 servers.
    pub qop: Vec<String>,
    /// `stale=true`: the credentials were right but the nonce expired; retry without asking
    /// the user.
    pub stale: bool,
}

/// Username and password of one account.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Authentication user name (often the SIP user part).
    pub username: String,
    /// Password.
    pub password: String,
}

/// Which header carried a challenge, and so which header carries the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeOrigin {
    /// `WWW-Authenticate` in a 401; answer with `Authorization`.
    Server,
    /// `Proxy-Authenticate` in a 407; answer with `Proxy-Authorization`.
    Proxy,
}

/// Computes digest answers and keeps the nonce count per realm.
#[derive(Debug, Clone)]
pub struct DigestClient {
    creds: Credentials,
    /// realm → (nonce, last nonce count used with it).
    counts: HashMap<String, (String, u32)>,
}

/// Why a challenge could not be parsed or answered.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The challenge uses a scheme other than `Digest` (e.g. `Basic`).
    #[error("unsupported authentication scheme {0:?}")]
    UnsupportedScheme(String),
    /// The challenge names an algorithm we do not implement (e.g. `SHA-512-256`).
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A required parameter (`realm`, `nonce`) is absent.
    #[error("digest challenge has no {0} parameter")]
    MissingParam(&'static str),
    /// The challenge does not follow the auth-param grammar.
    #[error("malformed digest challenge: {0}")]
    Syntax(String),
    /// None of the offered qop values is supported (only `auth` is; `auth-int` is not).
    #[error("no supported qop offered (got {0:?}; only \"auth\" is supported)")]
    UnsupportedQop(String),
    /// A `-sess` algorithm was offered without qop, which leaves the cnonce undefined.
    #[error("session digest algorithm offered without qop")]
    SessWithoutQop,
}

impl DigestAlgorithm {
    /// The token used on the wire (`MD5`, `MD5-sess`, `SHA-256`, `SHA-256-sess`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sess(&self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    /// Lower-case hex digest of `data`.
    fn hash(&self, data: &str) -> String {
        match self {
            Self::Md5 | Self::Md5Sess => hex(&Md5::digest(data.as_bytes())),
            Self::Sha256 | Self::Sha256Sess => hex(&Sha256::digest(data.as_bytes())),
        }
    }
}

impl std::str::FromStr for DigestAlgorithm {
    type Err = AuthError;

    /// Parses an algorithm token, case-insensitively.
    fn from_str(s: &str) -> Result<Self, AuthError> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Ok(Self::Md5),
            "MD5-SESS" => Ok(Self::Md5Sess),
            "SHA-256" => Ok(Self::Sha256),
            "SHA-256-SESS" => Ok(Self::Sha256Sess),
            _ => Err(AuthError::UnsupportedAlgorithm(s.to_owned())),
        }
    }
}

impl Challenge {
    /// Parses the value of a `WWW-Authenticate` or `Proxy-Authenticate` header:
    /// `Digest realm="...", nonce="...", ...` with quoted strings (backslash escapes allowed),
    /// case-insensitive parameter names and unknown parameters ignored.
    pub fn parse(header_value: &str) -> Result<Challenge, AuthError> {
        let value = header_value.trim();
        let scheme_end = value.find(char::is_whitespace).unwrap_or(value.len());
        let (scheme, rest) = value.split_at(scheme_end);
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::UnsupportedScheme(scheme.to_owned()));
        }
        let params = parse_auth_params(rest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let algorithm = match get("algorithm") {
            Some(a) => a.parse()?,
            None => DigestAlgorithm::Md5,
        };
        let qop = get("qop")
            .map(|q| {
                q.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Challenge {
            realm: get("realm").ok_or(AuthError::MissingParam("realm"))?,
            nonce: get("nonce").ok_or(AuthError::MissingParam("nonce"))?,
            opaque: get("opaque"),
            algorithm,
            qop,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// All challenges of a 401/407 response, in header order (RFC 8760 servers list the
    /// preferred algorithm first); unparsable ones are returned as errors so the caller can skip
    /// them.
    pub fn from_response(
        response: &rsip::Response,
    ) -> Vec<(ChallengeOrigin, Result<Challenge, AuthError>)> {
        let www = response
            .header_values("WWW-Authenticate")
            .into_iter()
            .map(|v| (ChallengeOrigin::Server, Challenge::parse(v)));
        let proxy = response
            .header_values("Proxy-Authenticate")
            .into_iter()
            .map(|v| (ChallengeOrigin::Proxy, Challenge::parse(v)));
        www.chain(proxy).collect()
    }
}

impl ChallengeOrigin {
    /// The header that carries the answer computed by [`DigestClient::authorize`].
    pub fn answer_header(self, value: String) -> rsip::Header {
        match self {
            Self::Server => rsip::Header::Authorization(rsip::headers::Authorization::from(value)),
            Self::Proxy => {
                rsip::Header::ProxyAuthorization(rsip::headers::ProxyAuthorization::from(value))
            }
        }
    }
}

impl DigestClient {
    /// A client for one account.
    pub fn new(creds: Credentials) -> Self {
        Self {
            creds,
            counts: HashMap::new(),
        }
    }

    /// Given a challenge, the request method and the request-URI string, returns the header
    /// VALUE for `Authorization` / `Proxy-Authorization`, e.g. `Digest username="..",
    /// realm="..", nonce="..", uri="..", response="..", algorithm=MD5, cnonce="..", qop=auth,
    /// nc=00000001, opaque=".."`.
    ///
    /// Uses `qop=auth` when offered (the nonce count increments per use of the same nonce and
    /// the cnonce is 128 random bits in hex), and the RFC 2069 form when no qop is offered.
    pub fn authorize(
        &mut self,
        challenge: &Challenge,
        method: &str,
        uri: &str,
    ) -> Result<String, AuthError> {
        let cnonce = hex(&rand::random::<[u8; 16]>());
        self.authorize_with_cnonce(challenge, method, uri, &cnonce)
    }

    /// [`authorize`](Self::authorize) with a fixed cnonce, for tests and reproducible traces.
    pub fn authorize_with_cnonce(
        &mut self,
        challenge: &Challenge,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> Result<String, AuthError> {
        let qop = if challenge.qop.is_empty() {
            None
        } else if challenge.qop.iter().any(|q| q == "auth") {
            Some("auth")
        } else {
            return Err(AuthError::UnsupportedQop(challenge.qop.join(",")));
        };
        if qop.is_none() && challenge.algorithm.is_sess() {
            return Err(AuthError::SessWithoutQop);
        }

        let alg = &challenge.algorithm;
        let mut ha1 = alg.hash(&format!(
            "{}:{}:{}",
            self.creds.username, challenge.realm, self.creds.password
        ));
        if alg.is_sess() {
            ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", challenge.nonce));
        }
        let ha2 = alg.hash(&format!("{method}:{uri}"));

        let mut value = format!(
            "Digest username={}, realm={}, nonce={}, uri={}",
            quote(&self.creds.username),
            quote(&challenge.realm),
            quote(&challenge.nonce),
            quote(uri),
        );
        match qop {
            Some(qop) => {
                let nc = self.next_nonce_count(challenge);
                let nc = format!("{nc:08x}");
                let response = alg.hash(&format!(
                    "{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}",
                    challenge.nonce
                ));
                let _ = write!(
                    value,
                    ", response=\"{response}\", algorithm={}, cnonce={}, qop={qop}, nc={nc}",
                    alg.as_str(),
                    quote(cnonce)
                );
            }
            None => {
                let response = alg.hash(&format!("{ha1}:{}:{ha2}", challenge.nonce));
                let _ = write!(
                    value,
                    ", response=\"{response}\", algorithm={}",
                    alg.as_str()
                );
            }
        }
        if let Some(opaque) = &challenge.opaque {
            let _ = write!(value, ", opaque={}", quote(opaque));
        }
        Ok(value)
    }

    /// The next nonce count for this challenge's nonce; a new nonce for the realm restarts at 1.
    fn next_nonce_count(&mut self, challenge: &Challenge) -> u32 {
        let entry = self
            .counts
            .entry(challenge.realm.clone())
            .or_insert_with(|| (challenge.nonce.clone(), 0));
        if entry.0 != challenge.nonce {
            *entry = (challenge.nonce.clone(), 0);
        }
        entry.1 = entry.1.wrapping_add(1);
        entry.1
    }
}

/// Parses `name=value, name="quoted \"value\"", ...` into (lower-case name, unquoted value).
fn parse_auth_params(s: &str) -> Result<Vec<(String, String)>, AuthError> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars
            .next_if(|(_, c)| c.is_whitespace() || *c == ',')
            .is_some()
        {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut end = start;
        while let Some((i, c)) = chars.next_if(|(_, c)| is_token_char(*c)) {
            end = i + c.len_utf8();
        }
        let name = &s[start..end];
        if name.is_empty() {
            return Err(AuthError::Syntax(format!(
                "expected a parameter name at byte {start}"
            )));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            // A bare token (e.g. the second value of an unquoted `qop=auth-int,auth`) carries
            // nothing we need; skip it rather than reject the whole challenge.
            if chars.peek().is_some_and(|(_, c)| *c != ',') {
                return Err(AuthError::Syntax(format!("parameter {name} has no value")));
            }
            continue;
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '"').is_some() {
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            if !closed {
                return Err(AuthError::Syntax(format!(
                    "unterminated quoted value for {name}"
                )));
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| *c != ',' && !c.is_whitespace()) {
                value.push(c);
            }
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.peek().is_some_and(|(_, c)| *c != ',') {
            return Err(AuthError::Syntax(format!(
                "expected ',' after parameter {name}"
            )));
        }
        out.push((name.to_ascii_lowercase(), value));
    }
    Ok(out)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// A quoted-string with `"` and `\` escaped.
fn quote(s: &str) -> String {
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

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mufasa(password: &str) -> DigestClient {
        DigestClient::new(Credentials {
            username: "Mufasa".into(),
            password: password.into(),
        })
    }

    fn alice() -> DigestClient {
        DigestClient::new(Credentials {
            username: "alice".into(),
            password: "secret".into(),
        })
    }

    /// The value of `name=` in an Authorization value, unquoted.
    fn field<'a>(value: &'a str, name: &str) -> Option<&'a str> {
        let start = value.find(&format!(" {name}="))? + name.len() + 2;
        let rest = &value[start..];
        let end = rest.find(',').unwrap_or(rest.len());
        Some(rest[..end].trim_matches('"'))
    }

    const RFC7616_SHA256: &str = "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    algorithm=SHA-256,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    #[test]
    fn rfc7616_section_3_9_1_sha256() {
        let c = Challenge::parse(RFC7616_SHA256).expect("challenge");
        assert_eq!(c.algorithm, DigestAlgorithm::Sha256);
        assert_eq!(c.qop, vec!["auth", "auth-int"]);
        let v = mufasa("Circle of Life")
            .authorize_with_cnonce(&c, "GET", "/dir/index.html", RFC7616_CNONCE)
            .expect("answer");
        assert_eq!(
            field(&v, "response"),
            Some("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        );
        assert_eq!(field(&v, "nc"), Some("00000001"));
        assert_eq!(field(&v, "qop"), Some("auth"));
        assert_eq!(field(&v, "algorithm"), Some("SHA-256"));
        assert_eq!(
            field(&v, "opaque"),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
        assert!(v.starts_with("Digest username=\"Mufasa\", realm=\"http-auth@example.org\""));
    }

    #[test]
    fn rfc7616_section_3_9_1_md5() {
        let c = Challenge::parse(&RFC7616_SHA256.replace("SHA-256", "MD5")).expect("challenge");
        let v = mufasa("Circle of Life")
            .authorize_with_cnonce(&c, "GET", "/dir/index.html", RFC7616_CNONCE)
            .expect("answer");
        assert_eq!(
            field(&v, "response"),
            Some("8ca523f5e9506fed4657c9700eebdbec")
        );
        assert_eq!(field(&v, "algorithm"), Some("MD5"));
    }

    #[test]
    fn rfc2617_section_3_5() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .expect("challenge");
        assert_eq!(c.algorithm, DigestAlgorithm::Md5);
        let v = mufasa("Circle Of Life")
            .authorize_with_cnonce(&c, "GET", "/dir/index.html", "0a4f113b")
            .expect("answer");
        assert_eq!(
            field(&v, "response"),
            Some("6629fae49393a05397450978507c4ef1")
        );
        assert_eq!(field(&v, "cnonce"), Some("0a4f113b"));
    }

    #[test]
    fn nonce_count_increments_per_nonce_and_resets_on_new_nonce() {
        // Asterisk (chan_pjsip) style challenge.
        let c = Challenge::parse(
            "Digest realm=\"asterisk\",nonce=\"1731592341/1d6f5e0e1b6a4c1b8f3e2a7c9d0b1a2e\",opaque=\"7c0a5e6b4d3c2b1a\",algorithm=md5,qop=\"auth\"",
        )
        .expect("challenge");
        let mut client = alice();
        let v1 = client
            .authorize_with_cnonce(&c, "INVITE", "sip:bob@127.0.0.1", "deadbeef")
            .expect("answer");
        let v2 = client
            .authorize_with_cnonce(&c, "INVITE", "sip:bob@127.0.0.1", "deadbeef")
            .expect("answer");
        assert_eq!(field(&v1, "nc"), Some("00000001"));
        assert_eq!(
            field(&v1, "response"),
            Some("596c0fa150a0e8da673b319c9fd44a5a")
        );
        assert_eq!(field(&v2, "nc"), Some("00000002"));
        assert_eq!(
            field(&v2, "response"),
            Some("8b3d61063dbc8b976eec9a85267f0906")
        );
        let fresh = Challenge {
            nonce: "other".into(),
            ..c.clone()
        };
        let v3 = client
            .authorize_with_cnonce(&fresh, "INVITE", "sip:bob@127.0.0.1", "deadbeef")
            .expect("answer");
        assert_eq!(field(&v3, "nc"), Some("00000001"));
    }

    #[test]
    fn sess_algorithms() {
        let base = "Digest realm=\"asterisk\", nonce=\"1731592341/1d6f5e0e1b6a4c1b8f3e2a7c9d0b1a2e\", qop=auth, algorithm=";
        let c = Challenge::parse(&format!("{base}MD5-sess")).expect("challenge");
        let v = alice()
            .authorize_with_cnonce(&c, "INVITE", "sip:bob@127.0.0.1", "deadbeef")
            .expect("answer");
        assert_eq!(
            field(&v, "response"),
            Some("6958a7694717217e0229d327ea541158")
        );
        assert_eq!(field(&v, "algorithm"), Some("MD5-sess"));
        let c = Challenge::parse(&format!("{base}SHA-256-sess")).expect("challenge");
        let v = alice()
            .authorize_with_cnonce(&c, "INVITE", "sip:bob@127.0.0.1", "deadbeef")
            .expect("answer");
        assert_eq!(
            field(&v, "response"),
            Some("07eccbfcd21b34ac9583e97062c35dcfe94d32dbde5ff7be3613d2af74eb7103")
        );
        let no_qop = Challenge { qop: vec![], ..c };
        assert_eq!(
            alice().authorize(&no_qop, "INVITE", "sip:bob@127.0.0.1"),
            Err(AuthError::SessWithoutQop)
        );
    }

    #[test]
    fn rfc2069_mode_without_qop() {
        // sipp's default challenge carries no qop and no algorithm.
        let c = Challenge::parse(
            "Digest realm=\"sipp.example\", nonce=\"47ebe028cda119c35d4877b383027d28da013815\"",
        )
        .expect("challenge");
        let v = alice()
            .authorize(&c, "REGISTER", "sip:127.0.0.1")
            .expect("answer");
        assert_eq!(
            field(&v, "response"),
            Some("52eeae9835509e7c65ead12d7f062dce")
        );
        assert_eq!(field(&v, "nc"), None);
        assert_eq!(field(&v, "cnonce"), None);
        assert_eq!(field(&v, "qop"), None);
    }

    #[test]
    fn random_cnonce_is_hex_and_changes() {
        let c =
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth\"").expect("challenge");
        let mut client = alice();
        let a = client.authorize(&c, "REGISTER", "sip:r").expect("answer");
        let b = client.authorize(&c, "REGISTER", "sip:r").expect("answer");
        let (ca, cb) = (field(&a, "cnonce"), field(&b, "cnonce"));
        assert_ne!(ca, cb);
        assert!(ca.is_some_and(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn parses_real_world_challenges() {
        // Kamailio auth module (www_challenge with qop, no algorithm).
        let c = Challenge::parse(
            "Digest realm=\"example.com\", nonce=\"Zk3F2WZrRzC0l1p1xJ8VqFhHcGmXfH9p\", qop=\"auth\"",
        )
        .expect("kamailio");
        assert_eq!(
            (c.realm.as_str(), c.algorithm.clone()),
            ("example.com", DigestAlgorithm::Md5)
        );
        // Kamailio with RFC 8760 SHA-256 and a stale nonce.
        let c = Challenge::parse(
            "Digest realm=\"example.com\", nonce=\"abc\", qop=\"auth\", algorithm=SHA-256, stale=TRUE",
        )
        .expect("kamailio sha-256");
        assert!(c.stale);
        assert_eq!(c.algorithm, DigestAlgorithm::Sha256);
        // Quoted escapes, odd spacing, unknown parameters, bare-token qop.
        let c = Challenge::parse(
            "digest  REALM = \"a \\\"quoted\\\" realm\" ,nonce=\"n,1\",  domain=\"sip:x\",qop=auth-int,auth, charset=UTF-8",
        )
        .expect("odd formatting");
        assert_eq!(c.realm, "a \"quoted\" realm");
        assert_eq!(c.nonce, "n,1");
        assert_eq!(c.qop, vec!["auth-int"]);
        assert_eq!(c.opaque, None);
    }

    #[test]
    fn rejects_what_it_cannot_answer() {
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Err(AuthError::UnsupportedScheme("Basic".into()))
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"x\", nonce=\"y\", algorithm=SHA-512-256"),
            Err(AuthError::UnsupportedAlgorithm("SHA-512-256".into()))
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"y\""),
            Err(AuthError::MissingParam("realm"))
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"x\""),
            Err(AuthError::MissingParam("nonce"))
        );
        assert!(matches!(
            Challenge::parse("Digest realm=\"x, nonce=\"y\""),
            Err(AuthError::Syntax(_))
        ));
        assert_eq!(
            Challenge::parse("Digest realm"),
            Err(AuthError::MissingParam("realm"))
        );
        assert!(matches!(
            Challenge::parse("Digest realm x=\"y\""),
            Err(AuthError::Syntax(_))
        ));
        let c = Challenge::parse("Digest realm=\"x\", nonce=\"y\", qop=\"auth-int\"").expect("ok");
        assert_eq!(
            alice().authorize(&c, "INVITE", "sip:x"),
            Err(AuthError::UnsupportedQop("auth-int".into()))
        );
    }

    #[test]
    fn challenges_from_response_and_answer_headers() {
        let raw = "SIP/2.0 407 Proxy Authentication Required\r\n\
            Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
            From: <sip:a@example.com>;tag=1\r\n\
            To: <sip:b@example.com>;tag=2\r\n\
            Call-ID: x\r\n\
            CSeq: 1 INVITE\r\n\
            Proxy-Authenticate: Digest realm=\"p\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\"\r\n\
            Proxy-Authenticate: Digest realm=\"p\", nonce=\"n\", algorithm=MD5, qop=\"auth\"\r\n\
            Content-Length: 0\r\n\r\n";
        let Ok(rsip::SipMessage::Response(resp)) = sip_message::parse(raw.as_bytes()) else {
            panic!("407 parses as a response");
        };
        let found = Challenge::from_response(&resp);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, ChallengeOrigin::Proxy);
        let c = found[0].1.clone().expect("challenge");
        assert_eq!(c.algorithm, DigestAlgorithm::Sha256);
        let value = alice()
            .authorize(&c, "INVITE", "sip:b@example.com")
            .expect("answer");
        assert!(matches!(
            ChallengeOrigin::Proxy.answer_header(value),
            rsip::Header::ProxyAuthorization(_)
        ));
    }
}
