//! Every failure the API reports, always as `{"code", "message"}` JSON.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use console_core::{ConsoleError, ErrorBody};

/// A failed request: either the console refused the command, or the HTTP layer refused the
/// request before it became one.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// The console's own error (or a malformed request, as `ConsoleError::BadRequest`).
    Console(ConsoleError),
    /// No or wrong bearer token.
    Unauthorized,
    /// A `Host` header that is not ours (DNS rebinding guard).
    ForbiddenHost(String),
    /// No such route.
    NotFound(String),
    /// The route exists but not with this method.
    MethodNotAllowed(String),
    /// The body is over [`crate::BODY_LIMIT`].
    PayloadTooLarge,
    /// The console answered with a reply that does not fit the command (a bug).
    Internal(String),
}

impl ApiError {
    /// A 400 `bad_request` with this explanation.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::Console(ConsoleError::BadRequest(message.into()))
    }

    /// Maps axum's JSON body rejections (syntax, type, missing field, content type, size) to
    /// our JSON errors instead of axum's plain-text bodies.
    pub(crate) fn from_json(rejection: &JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::PayloadTooLarge;
        }
        let message = match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "expected a JSON body with `Content-Type: application/json`".to_owned()
            }
            other => other.body_text(),
        };
        Self::bad_request(message)
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Console(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::ForbiddenHost(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> ErrorBody {
        let (code, message) = match self {
            Self::Console(e) => return e.body(),
            Self::Unauthorized => (
                "unauthorized",
                "missing or wrong API token: send `Authorization: Bearer <token>`".to_owned(),
            ),
            Self::ForbiddenHost(host) => (
                "forbidden_host",
                format!("this server does not answer to Host {host:?}"),
            ),
            Self::NotFound(path) => ("not_found", format!("no such resource: {path}")),
            Self::MethodNotAllowed(method) => (
                "method_not_allowed",
                format!("{method} is not allowed on this resource"),
            ),
            Self::PayloadTooLarge => (
                "payload_too_large",
                format!(
                    "the request body is larger than {} bytes",
                    crate::BODY_LIMIT
                ),
            ),
            Self::Internal(message) => ("internal", message.clone()),
        };
        ErrorBody { code, message }
    }
}

impl From<ConsoleError> for ApiError {
    fn from(e: ConsoleError) -> Self {
        Self::Console(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = ?self, "API request failed");
        }
        let mut response = (status, Json(self.body())).into_response();
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
