//! The one error type of the console's command model.

use crate::model::CallId;
use serde::Serialize;
use ts_rs::TS;

/// Why a command was refused. Each variant maps to a stable `code` string and an HTTP status,
/// so the desktop UI and the HTTP API report it the same way: `{"code": ..., "message": ...}`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleError {
    /// The request itself is malformed (caller misuse).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A dial or transfer destination is not a `sip:`/`sips:` URI, `tel:` E.164 number or digits.
    #[error("invalid destination {target:?}: {reason}")]
    InvalidTarget {
        /// The destination as given.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No call with that id exists (any more).
    #[error("no call with id {0}")]
    CallNotFound(CallId),
    /// The call is not in a state that allows the command.
    #[error("call {call} is {state}; cannot {action}")]
    WrongState {
        /// The call.
        call: CallId,
        /// Its state, as serialised.
        state: String,
        /// What was attempted.
        action: &'static str,
    },
    /// Digits or a `tel:` number need an account with a registrar/proxy to route through.
    #[error("no SIP account is configured to route {0:?}")]
    NoRoute(String),
    /// The console is shutting down or its engine stopped.
    #[error("the console is not running")]
    Unavailable,
    /// Storage (call history) failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// No sound device of that name serves the role.
    #[error("no {role} device named {device:?}")]
    DeviceNotFound {
        /// `input`, `output` or `ring`.
        role: &'static str,
        /// The name asked for.
        device: String,
    },
    /// The console has no sound devices to switch (`--audio none`, or none could be opened),
    /// or the device exists but cannot be opened.
    #[error("{0}")]
    AudioUnavailable(String),
}

impl ConsoleError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::InvalidTarget { .. } => "invalid_target",
            Self::CallNotFound(_) => "call_not_found",
            Self::WrongState { .. } => "wrong_state",
            Self::NoRoute(_) => "no_route",
            Self::Unavailable => "unavailable",
            Self::Storage(_) => "storage",
            Self::DeviceNotFound { .. } => "device_not_found",
            Self::AudioUnavailable(_) => "audio_unavailable",
        }
    }

    /// The HTTP status that reports this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::BadRequest(_) | Self::InvalidTarget { .. } | Self::NoRoute(_) => 400,
            Self::CallNotFound(_) | Self::DeviceNotFound { .. } => 404,
            Self::WrongState { .. } | Self::AudioUnavailable(_) => 409,
            Self::Unavailable => 503,
            Self::Storage(_) => 500,
        }
    }

    /// The `{code, message}` body sent to UIs.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            message: self.to_string(),
        }
    }
}

/// Serialised form of an error: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}
