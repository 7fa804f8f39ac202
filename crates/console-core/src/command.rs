//! Commands into the console and their replies.

use crate::model::{AccountStatus, Call, CallId};

/// Everything a UI (desktop or HTTP) can ask of the console.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// All calls that have not ended.
    ListCalls,
    /// One call (live, or recently ended and still in memory).
    GetCall(CallId),
    /// Place an outbound call to a `sip:`/`sips:` URI, a `tel:` number or digits.
    Dial {
        /// The destination as typed.
        to: String,
    },
    /// Answer a ringing inbound call.
    Answer(CallId),
    /// Reject a ringing inbound call (486 Busy Here... we send 603 Decline).
    Reject(CallId),
    /// Hang up: BYE an established call, CANCEL an outbound one still ringing, reject an
    /// inbound one still ringing.
    Hangup(CallId),
    /// Ended calls from the history, newest first.
    History {
        /// At most this many.
        limit: u32,
    },
    /// Registration state of the configured accounts.
    ListAccounts,
}

/// The successful result of a [`Command`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// For `ListCalls` and `History`.
    Calls(Vec<Call>),
    /// For `GetCall`, `Dial`, `Answer`, `Reject`, `Hangup`: the call after the command.
    Call(Call),
    /// For `ListAccounts`.
    Accounts(Vec<AccountStatus>),
}
