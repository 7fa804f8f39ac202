//! Events out of the console: what every UI, the WebSocket and (later) webhooks see.

use crate::audio::{AudioRole, AudioStatus};
use crate::model::{AccountStatus, Call, CallId, CallQuality, Transfer};
use chrono::{DateTime, Utc};
use serde::Serialize;
use ts_rs::TS;

/// One event, serialised as `{"type": "...", "call_id": ..., "at": ..., ...payload}`.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
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
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
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
    /// Media quality figures (about once a second while media flows).
    #[serde(rename = "call.stats")]
    CallStats {
        /// The call.
        call: Call,
        /// The figures.
        quality: CallQuality,
    },
    /// A DTMF digit arrived from the peer.
    #[serde(rename = "call.dtmf")]
    CallDtmf {
        /// The call.
        call: Call,
        /// The digit (`0-9*#A-D`).
        digit: String,
        /// `rfc4733` (RTP telephone-event) or `info` (SIP INFO dtmf-relay).
        method: String,
    },
    /// The call was put on hold (see `call.held_by`).
    #[serde(rename = "call.held")]
    CallHeld {
        /// The call.
        call: Call,
    },
    /// A held call was resumed, or a caller came back to the attendant after a failed transfer.
    #[serde(rename = "call.resumed")]
    CallResumed {
        /// The call.
        call: Call,
    },
    /// A supervisor started or stopped listening in on a bridge (see `call.listening`); one
    /// event for each leg.
    #[serde(rename = "call.listening")]
    CallListening {
        /// The call.
        call: Call,
    },
    /// The console accepted a transfer request.
    #[serde(rename = "transfer.triggered")]
    TransferTriggered {
        /// The caller's call.
        call: Call,
        /// The transfer.
        transfer: Transfer,
    },
    /// REFER sent (cold) or INVITE to the target sent (anchored).
    #[serde(rename = "transfer.initiated")]
    TransferInitiated {
        /// The caller's call.
        call: Call,
        /// The transfer.
        transfer: Transfer,
    },
    /// The target answered.
    #[serde(rename = "transfer.answered")]
    TransferAnswered {
        /// The caller's call.
        call: Call,
        /// The transfer.
        transfer: Transfer,
    },
    /// The caller is with the target.
    #[serde(rename = "transfer.completed")]
    TransferCompleted {
        /// The caller's call.
        call: Call,
        /// The transfer.
        transfer: Transfer,
    },
    /// The transfer failed (see `transfer.sip_status` and `transfer.reason`).
    #[serde(rename = "transfer.failed")]
    TransferFailed {
        /// The caller's call.
        call: Call,
        /// The transfer.
        transfer: Transfer,
        /// The SIP status that decided it, if any.
        sip_status: Option<u16>,
        /// Why, in plain words.
        reason: String,
    },
    /// The attendant cancelled the transfer.
    #[serde(rename = "transfer.cancelled")]
    TransferCancelled {
        /// The caller's call.
        call: Call,
        /// The transfer.
        transfer: Transfer,
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
    /// The sound devices in use changed (opened at start-up, or switched).
    #[serde(rename = "audio.devices")]
    AudioDevices {
        /// What is in use now.
        audio: AudioStatus,
    },
    /// A sound device disappeared (unplugged, server gone); calls go on with the fallback.
    #[serde(rename = "audio.device_lost")]
    AudioDeviceLost {
        /// Which device it was.
        role: AudioRole,
        /// Its id.
        device: String,
        /// The device used instead (the system default), or `null`: that role has none now.
        fell_back_to: Option<String>,
        /// What is in use now.
        audio: AudioStatus,
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
            Self::CallHeld { .. } => "call.held",
            Self::CallStats { .. } => "call.stats",
            Self::CallDtmf { .. } => "call.dtmf",
            Self::CallResumed { .. } => "call.resumed",
            Self::CallListening { .. } => "call.listening",
            Self::TransferTriggered { .. } => "transfer.triggered",
            Self::TransferInitiated { .. } => "transfer.initiated",
            Self::TransferAnswered { .. } => "transfer.answered",
            Self::TransferCompleted { .. } => "transfer.completed",
            Self::TransferFailed { .. } => "transfer.failed",
            Self::TransferCancelled { .. } => "transfer.cancelled",
            Self::AccountRegistered { .. } => "account.registered",
            Self::AccountRegistrationFailed { .. } => "account.registration_failed",
            Self::AudioDevices { .. } => "audio.devices",
            Self::AudioDeviceLost { .. } => "audio.device_lost",
        }
    }

    /// The call this event is about, if any.
    pub fn call(&self) -> Option<&Call> {
        match self {
            Self::CallIncoming { call }
            | Self::CallDialing { call }
            | Self::CallRinging { call, .. }
            | Self::CallAnswered { call }
            | Self::CallEnded { call }
            | Self::CallResumed { call }
            | Self::CallListening { call }
            | Self::CallHeld { call }
            | Self::CallStats { call, .. }
            | Self::CallDtmf { call, .. }
            | Self::TransferTriggered { call, .. }
            | Self::TransferInitiated { call, .. }
            | Self::TransferAnswered { call, .. }
            | Self::TransferCompleted { call, .. }
            | Self::TransferFailed { call, .. }
            | Self::TransferCancelled { call, .. } => Some(call),
            _ => None,
        }
    }
}
