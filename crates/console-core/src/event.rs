//! Events out of the console: what every UI, the WebSocket and (later) webhooks see.

use crate::model::{AccountStatus, Call, CallId};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One event, serialised as `{"type": "...", "call_id": ..., "at": ..., ...payload}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// When it happened (wall clock).
    pub at: DateTime<Utc>,
    /// The call it concerns, if any.
    pub call_id: Option<CallId>,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// The kinds of event, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum EventBody {
    /// An inbound call is offered (ringing at the console).
    #[serde(rename = "call.incoming")]
    CallIncoming {
        /// The call.
        call: Call,
    },
    /// An outbound call was dialled.
    #[serde(rename = "call.dialing")]
    CallDialing {
        /// The call.
        call: Call,
    },
    /// An outbound call rings at the far end (180/183).
    #[serde(rename = "call.ringing")]
    CallRinging {
        /// The call.
        call: Call,
        /// The provisional status (180 or 183).
        sip_status: u16,
    },
    /// The call was answered (by either side).
    #[serde(rename = "call.answered")]
    CallAnswered {
        /// The call.
        call: Call,
    },
    /// The call ended.
    #[serde(rename = "call.ended")]
    CallEnded {
        /// The call, with `end_reason`.
        call: Call,
    },
    /// A SIP account registered (or refreshed its registration).
    #[serde(rename = "account.registered")]
    AccountRegistered {
        /// The account's state.
        account: AccountStatus,
    },
    /// A registration attempt failed.
    #[serde(rename = "account.registration_failed")]
    AccountRegistrationFailed {
        /// The account's state.
        account: AccountStatus,
        /// Why, in plain words.
        reason: String,
    },
}

impl EventBody {
    /// The `type` string of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CallIncoming { .. } => "call.incoming",
            Self::CallDialing { .. } => "call.dialing",
            Self::CallRinging { .. } => "call.ringing",
            Self::CallAnswered { .. } => "call.answered",
            Self::CallEnded { .. } => "call.ended",
            Self::AccountRegistered { .. } => "account.registered",
            Self::AccountRegistrationFailed { .. } => "account.registration_failed",
        }
    }

    /// The call this event is about, if any.
    pub fn call(&self) -> Option<&Call> {
        match self {
            Self::CallIncoming { call }
            | Self::CallDialing { call }
            | Self::CallRinging { call, .. }
            | Self::CallAnswered { call }
            | Self::CallEnded { call } => Some(call),
            _ => None,
        }
    }
}
