//! Commands into the console and their replies.

use crate::audio::{AudioDevice, AudioRole, AudioStatus};
use crate::model::{AccountStatus, Call, CallId, Contact, SipLadder, TransferId, TransferMode};

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
    /// Hand an established call on to another party.
    Transfer {
        /// The caller's call.
        call: CallId,
        /// How and where.
        request: TransferRequest,
    },
    /// Abort the pending transfer of a call and return the caller to the attendant.
    CancelTransfer(CallId),
    /// Attended transfer, step 1: hold the caller and call the target (`POST /calls/{id}/consult`).
    Consult {
        /// The caller's call.
        call: CallId,
        /// The target.
        to: String,
    },
    /// Attended transfer, step 2: hand the caller to the consulted target.
    CompleteTransfer(CallId),
    /// Send DTMF digits (RFC 4733) in an established call.
    SendDtmf {
        /// The call.
        call: CallId,
        /// `0-9 * # A-D`.
        digits: String,
    },
    /// Put an active call on hold (re-INVITE with `a=sendonly`).
    Hold(CallId),
    /// Take a call we hold off hold (re-INVITE with `a=sendrecv`).
    Resume(CallId),
    /// Stop sending the microphone in this call.
    Mute(CallId),
    /// Send the microphone again.
    Unmute(CallId),
    /// Listen in on an anchored bridge: mix both legs into the console's own output, without
    /// the legs hearing the listener (`POST /calls/{id}/listen`, either leg's id).
    Listen(CallId),
    /// Stop listening in (`POST /calls/{id}/unlisten`).
    Unlisten(CallId),
    /// The SIP messages of a call, oldest first (`GET /calls/{id}/ladder`); answered by the
    /// runtime, which keeps them.
    GetLadder(CallId),
    /// The attendant's contacts (`GET /contacts`).
    ListContacts,
    /// The attendant's sound devices in use (`GET /audio`).
    GetAudio,
    /// Play a call-progress tone to the attendant's headset, or stop (`PUT /audio/tone`): the
    /// dial tone while the dial pad is open and empty.
    AttendantTone(Option<media_engine::ToneKind>),
    /// The sound devices there are (`GET /audio/devices`); answered by the runtime.
    ListAudioDevices,
    /// Switch one sound device, mid-call if need be (`PUT /audio/devices/{role}`); answered by
    /// the runtime once the device is open, with the new [`AudioStatus`].
    SetAudioDevice {
        /// Microphone, headset or ring device.
        role: AudioRole,
        /// A device id or name; `None` is the system default (for the ring role: no separate
        /// device, the ring alert plays in the headset).
        device: Option<String>,
    },
}

/// The parameters of a transfer (`POST /calls/{id}/transfer`).
#[derive(Debug, Clone, PartialEq)]
pub struct TransferRequest {
    /// Destination: `tel:+E164`, `sip:`/`sips:` URI or digits.
    pub transfer_to: String,
    /// Cold (REFER) or anchored (bridged).
    pub mode: TransferMode,
    /// Play the region's dial tone to the caller while the transfer is pending.
    pub play_dialtone: bool,
    /// Caller ID for the anchored leg: `None` = configured default.
    pub caller_id: Option<String>,
    /// Give up when the target has not answered after this long (seconds).
    pub ringing_timeout_s: u32,
    /// When a cold transfer fails, try an anchored one to the same destination.
    pub fallback_to_anchored: bool,
}

/// The successful result of a [`Command`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// Replies are moved once, from the engine to the caller: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Reply {
    /// For `ListCalls` and `History`.
    Calls(Vec<Call>),
    /// For `GetCall`, `Dial`, `Answer`, `Reject`, `Hangup`: the call after the command.
    Call(Call),
    /// For `ListAccounts`.
    Accounts(Vec<AccountStatus>),
    /// For `Transfer`: the new transfer's id.
    Transfer(TransferId),
    /// For `GetAudio` and `SetAudioDevice`: the headset's status.
    Audio(AudioStatus),
    /// For `ListAudioDevices`.
    AudioDevices(Vec<AudioDevice>),
    /// For `GetLadder`.
    Ladder(SipLadder),
    /// For `ListContacts`.
    Contacts(Vec<Contact>),
}
