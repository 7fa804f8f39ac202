//! The data the console shows: calls, their state and accounts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use ts_rs::TS;

/// Identifies one call (one SIP INVITE dialog with a remote party) for the life of the console
/// and in the call history.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(transparent)]
pub struct CallId(pub String);

impl CallId {
    /// A fresh random id (`c-` + 16 hex digits).
    pub fn random() -> Self {
        Self(format!("c-{:016x}", rand::random::<u64>()))
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A remote party called the console.
    Inbound,
    /// The console called a remote party.
    Outbound,
}

/// Where a call is in its life. Serialised in lower case (`"ringing"`, `"active"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    /// Inbound call offered to the attendant, not yet answered.
    Ringing,
    /// Outbound INVITE sent, no provisional response with a to-tag yet.
    Dialing,
    /// Outbound call in an early dialog (180/183 received).
    Early,
    /// Answered; media flows.
    Active,
    /// On hold (by either side).
    Held,
    /// A transfer of this call is in progress.
    Transferring,
    /// Over; see `end_reason`.
    Ended,
}

impl CallState {
    /// True once the call has been answered and not yet ended.
    pub fn is_established(self) -> bool {
        matches!(self, Self::Active | Self::Held | Self::Transferring)
    }
}

/// Why a call ended. Serialised in snake case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The attendant (or the API) hung up.
    LocalHangup,
    /// The remote party sent BYE.
    RemoteHangup,
    /// The attendant rejected an inbound call.
    Rejected,
    /// The caller gave up before the call was answered (CANCEL), or we cancelled our INVITE.
    Cancelled,
    /// The remote party declined or the call could not be set up (final response >= 300).
    Failed,
    /// No response from the remote party (transaction timeout).
    Timeout,
    /// The call was handed to someone else (transfer completed).
    Transferred,
    /// The console stopped (crash or kill) while the call was up.
    Interrupted,
    /// The console shut down cleanly while the call was up.
    Shutdown,
}

impl EndReason {
    /// The stable string used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LocalHangup => "local_hangup",
            Self::RemoteHangup => "remote_hangup",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Transferred => "transferred",
            Self::Interrupted => "interrupted",
            Self::Shutdown => "shutdown",
        }
    }

    /// Inverse of [`EndReason::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "local_hangup" => Self::LocalHangup,
            "remote_hangup" => Self::RemoteHangup,
            "rejected" => Self::Rejected,
            "cancelled" => Self::Cancelled,
            "failed" => Self::Failed,
            "timeout" => Self::Timeout,
            "transferred" => Self::Transferred,
            "interrupted" => Self::Interrupted,
            "shutdown" => Self::Shutdown,
            _ => return None,
        })
    }
}

/// One call as the UI and the API see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Call {
    /// Console-wide id.
    pub id: CallId,
    /// Who called whom.
    pub direction: Direction,
    /// Current state.
    pub state: CallState,
    /// The remote party's URI (From of an inbound call, request target of an outbound one).
    pub remote_uri: String,
    /// The remote party's display name, if it sent one.
    pub remote_display: Option<String>,
    /// Our own URI in this call.
    pub local_uri: String,
    /// When the call was offered or dialled.
    pub started_at: DateTime<Utc>,
    /// When it was answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// The final SIP status that decided the call's fate (e.g. 200, 486), if any.
    pub sip_status: Option<u16>,
    /// The SIP Call-ID of the call's dialog, for troubleshooting.
    pub sip_call_id: String,
    /// The transfer in progress or last attempted, if any.
    pub transfer: Option<Transfer>,
    /// Our microphone is muted in this call.
    #[serde(default)]
    pub muted: bool,
    /// Who put the call on hold, while it is held.
    #[serde(default)]
    pub held_by: Option<HoldSide>,
    /// The negotiated audio codec, e.g. `PCMU/8000`.
    #[serde(default)]
    pub codec: Option<String>,
    /// The latest media quality figures.
    #[serde(default)]
    pub quality: Option<CallQuality>,
    /// The other leg of the anchored bridge this call is (or was) part of: on the caller's
    /// call the target's, on the target's call the caller's. Kept in the history.
    #[serde(default)]
    pub bridged_with: Option<CallId>,
    /// A supervisor listens in on this bridge: both legs are mixed into the console's output.
    #[serde(default)]
    pub listening: bool,
}

/// Media quality of a call (RFC 3550 statistics and an E-model MOS estimate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CallQuality {
    /// Codec, e.g. `PCMU/8000`.
    pub codec: String,
    /// RTP packets we sent.
    #[ts(type = "number")]
    pub packets_sent: u64,
    /// RTP packets we received.
    #[ts(type = "number")]
    pub packets_received: u64,
    /// Packets lost from the peer, in percent.
    pub loss_percent: f64,
    /// Interarrival jitter (RFC 3550 A.8), ms.
    pub jitter_ms: f64,
    /// Round-trip time from RTCP (LSR/DLSR), ms.
    pub rtt_ms: Option<f64>,
    /// Estimated MOS (1-4.5).
    pub mos: f64,
}

/// Which side put a call on hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum HoldSide {
    /// The attendant (re-INVITE with `a=sendonly` from us).
    Local,
    /// The remote party (its re-INVITE with `a=sendonly`/`inactive`).
    Remote,
}

/// Registration state of one configured SIP account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AccountStatus {
    /// The account's configured name.
    pub name: String,
    /// The address of record, e.g. `sip:alice@example.com`.
    pub aor: String,
    /// True while a registration is in force.
    pub registered: bool,
    /// Status code of the last final response to REGISTER, if any.
    pub status: Option<u16>,
    /// Seconds until the registration expires, if registered.
    #[ts(type = "number | null")]
    pub expires_in: Option<u64>,
}

/// Identifies one transfer attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(transparent)]
pub struct TransferId(pub String);

impl TransferId {
    /// A fresh random id (`t-` + 16 hex digits).
    pub fn random() -> Self {
        Self(format!("t-{:016x}", rand::random::<u64>()))
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a call is handed on, chosen per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum TransferMode {
    /// SIP REFER (RFC 3515): the caller's side calls the target; the console leaves the call.
    Cold,
    /// The console calls the target and bridges both legs' media, staying in the path.
    Anchored,
    /// Consult first (the caller on hold, the attendant talks to the target), then hand the
    /// caller over with REFER + Replaces (RFC 3891), or bridge anchored.
    Attended,
}

/// Progress of a transfer. Serialised in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum TransferState {
    /// Accepted by the console.
    Triggered,
    /// REFER sent (cold) or INVITE to the target sent (anchored).
    Initiated,
    /// The target answered (NOTIFY with 2xx, or 200 OK to our INVITE).
    Answered,
    /// Done: the caller is with the target.
    Completed,
    /// It did not work; the caller is back with the attendant.
    Failed,
    /// The attendant cancelled it; the caller is back with the attendant.
    Cancelled,
}

/// A transfer attempt as the UI and the API see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Transfer {
    /// Its id.
    pub id: TransferId,
    /// Cold or anchored.
    pub mode: TransferMode,
    /// The destination as given (`tel:+15105550100`, `sip:sales@pbx`, digits).
    pub transfer_to: String,
    /// Where it stands.
    pub state: TransferState,
    /// The SIP status that decided it (NOTIFY sipfrag status, REFER or INVITE response).
    pub sip_status: Option<u16>,
    /// Why it failed, in plain words.
    pub reason: Option<String>,
    /// Whether the caller hears dial tone while it is pending.
    pub play_dialtone: bool,
    /// Whether a failed cold transfer falls back to an anchored one.
    pub fallback_to_anchored: bool,
    /// The console's call to the target (anchored transfers).
    pub target_call_id: Option<CallId>,
    /// When it was triggered.
    pub started_at: DateTime<Utc>,
    /// When it completed, failed or was cancelled.
    pub ended_at: Option<DateTime<Utc>>,
}

/// Which way a SIP message went, seen from the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum TraceDirection {
    /// The console sent it.
    Sent,
    /// The console received it.
    Received,
}

/// One SIP message of a call's ladder (`GET /calls/{id}/ladder`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SipTraceEntry {
    /// When the console sent or received it.
    pub at: DateTime<Utc>,
    /// Sent or received.
    pub direction: TraceDirection,
    /// `udp` or `tcp`.
    pub transport: String,
    /// The other side's address (`ip:port`).
    pub remote: String,
    /// The request's method, or for a response the method its CSeq names.
    pub method: String,
    /// A response's status code; `null` for a request.
    pub status: Option<u16>,
    /// The start line (`INVITE sip:desk@10.0.0.1 SIP/2.0`, `SIP/2.0 180 Ringing`).
    pub summary: String,
    /// The CSeq header's value (`1 INVITE`).
    pub cseq: String,
    /// The whole message as sent or received (lossy UTF-8), cut at 8 KiB.
    pub message: String,
}

/// A call's SIP messages in order: its dialog and the transactions in it (REFER, NOTIFY…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SipLadder {
    /// The call.
    pub call_id: CallId,
    /// Its SIP Call-ID.
    pub sip_call_id: String,
    /// The messages, oldest first.
    pub messages: Vec<SipTraceEntry>,
    /// Messages not kept because the call had too many (the first ones are kept).
    pub omitted: u32,
}

/// A destination the attendant reaches often (`[[contacts]]` in the config file), offered as
/// a suggestion when dialling or transferring (`GET /contacts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Contact {
    /// Who or what it is ("Sales", "Dr. Ada Lovelace").
    pub name: String,
    /// Where to call: `sip:`/`sips:` URI, `tel:+E164` or digits.
    pub uri: String,
    /// A department or note shown beside the name, if any.
    pub note: Option<String>,
}
