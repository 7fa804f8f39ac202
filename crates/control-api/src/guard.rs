//! The checks every request passes before routing: `Host` (DNS rebinding), then the token.

use crate::ApiState;
use crate::error::ApiError;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// The one route that also takes the token as `?token=` (browsers cannot set WebSocket headers).
pub(crate) const EVENTS_PATH: &str = "/api/v1/events";

/// Middleware: 403 `forbidden_host` for a foreign `Host`, then 401 `unauthorized` for an
/// `/api/` request without the right token. The host check comes first so a rebinding page
/// learns nothing, not even that a token is needed.
pub(crate) async fn check(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let host = request_host(&request);
    if !host.is_some_and(|h| state.inner.hosts.allows(h)) {
        return ApiError::ForbiddenHost(host.unwrap_or_default().to_owned()).into_response();
    }
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        let presented = bearer_token(request.headers()).is_some_and(|t| token_matches(&state, t))
            || (path == EVENTS_PATH
                && query_token(request.uri()).is_some_and(|t| token_matches(&state, &t)));
        if !presented {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

/// The `Host` header, or the URI's authority for HTTP/2 requests that carry `:authority` only.
fn request_host(request: &Request) -> Option<&str> {
    match request.headers().get(header::HOST) {
        Some(value) => value.to_str().ok(),
        None => request.uri().authority().map(|a| a.as_str()),
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn query_token(uri: &Uri) -> Option<String> {
    let Query(mut params) = Query::<HashMap<String, String>>::try_from_uri(uri).ok()?;
    params.remove("token")
}

fn token_matches(state: &ApiState, presented: &str) -> bool {
    let expected = state.inner.token.as_bytes();
    !expected.is_empty() && constant_time_eq(expected, presented.as_bytes())
}

/// Compares without an early exit, so the time taken does not tell how much of a guess was
/// right. (The length is not secret: tokens we generate all have the same length.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_parsing() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer", None),
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_token(&headers), expected, "{value}");
        }
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn query_tokens_are_percent_decoded() {
        let uri: Uri = "/api/v1/events?x=1&token=a%2Bb%20c"
            .parse()
            .unwrap_or_default();
        assert_eq!(query_token(&uri).as_deref(), Some("a+b c"));
        let uri: Uri = "/api/v1/events".parse().unwrap_or_default();
        assert_eq!(query_token(&uri), None);
    }
}
