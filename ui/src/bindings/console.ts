// Generated from crates/console-core by tests/ts_bindings.rs. Do not edit by hand.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p console-core --test ts_bindings

export type CallId = string;

export type Direction = "inbound" | "outbound";

export type CallState = "ringing" | "dialing" | "early" | "active" | "held" | "transferring" | "ended";

export type EndReason = "local_hangup" | "remote_hangup" | "rejected" | "cancelled" | "failed" | "timeout" | "transferred" | "interrupted" | "shutdown";

export type TransferId = string;

export type TransferMode = "cold" | "anchored" | "attended";

export type TransferState = "triggered" | "initiated" | "answered" | "completed" | "failed" | "cancelled";

export type Transfer = { 
/**
 * Its id.
 */
id: TransferId, 
/**
 * Cold or anchored.
 */
mode: TransferMode, 
/**
 * The destination as given (`tel:+15105550100`, `sip:sales@pbx`, digits).
 */
transfer_to: string, 
/**
 * Where it stands.
 */
state: TransferState, 
/**
 * The SIP status that decided it (NOTIFY sipfrag status, REFER or INVITE response).
 */
sip_status: number | null, 
/**
 * Why it failed, in plain words.
 */
reason: string | null, 
/**
 * Whether the caller hears dial tone while it is pending.
 */
play_dialtone: boolean, 
/**
 * Whether a failed cold transfer falls back to an anchored one.
 */
fallback_to_anchored: boolean, 
/**
 * The console's call to the target (anchored transfers).
 */
target_call_id: CallId | null, 
/**
 * When it was triggered.
 */
started_at: string, 
/**
 * When it completed, failed or was cancelled.
 */
ended_at: string | null, };

export type HoldSide = "local" | "remote";

export type CallQuality = { 
/**
 * Codec, e.g. `PCMU/8000`.
 */
codec: string, 
/**
 * RTP packets we sent.
 */
packets_sent: number, 
/**
 * RTP packets we received.
 */
packets_received: number, 
/**
 * Packets lost from the peer, in percent.
 */
loss_percent: number, 
/**
 * Interarrival jitter (RFC 3550 A.8), ms.
 */
jitter_ms: number, 
/**
 * Round-trip time from RTCP (LSR/DLSR), ms.
 */
rtt_ms: number | null, 
/**
 * Estimated MOS (1-4.5).
 */
mos: number, };

export type Call = { 
/**
 * Console-wide id.
 */
id: CallId, 
/**
 * Who called whom.
 */
direction: Direction, 
/**
 * Current state.
 */
state: CallState, 
/**
 * The remote party's URI (From of an inbound call, request target of an outbound one).
 */
remote_uri: string, 
/**
 * The remote party's display name, if it sent one.
 */
remote_display: string | null, 
/**
 * Our own URI in this call.
 */
local_uri: string, 
/**
 * When the call was offered or dialled.
 */
started_at: string, 
/**
 * When it was answered.
 */
answered_at: string | null, 
/**
 * When it ended.
 */
ended_at: string | null, 
/**
 * Why it ended.
 */
end_reason: EndReason | null, 
/**
 * The final SIP status that decided the call's fate (e.g. 200, 486), if any.
 */
sip_status: number | null, 
/**
 * The SIP Call-ID of the call's dialog, for troubleshooting.
 */
sip_call_id: string, 
/**
 * The transfer in progress or last attempted, if any.
 */
transfer: Transfer | null, 
/**
 * Our microphone is muted in this call.
 */
muted: boolean, 
/**
 * Who put the call on hold, while it is held.
 */
held_by: HoldSide | null, 
/**
 * The negotiated audio codec, e.g. `PCMU/8000`.
 */
codec: string | null, 
/**
 * The latest media quality figures.
 */
quality: CallQuality | null, 
/**
 * The other leg of the anchored bridge this call is (or was) part of: on the caller's
 * call the target's, on the target's call the caller's. Kept in the history.
 */
bridged_with: CallId | null, 
/**
 * A supervisor listens in on this bridge: both legs are mixed into the console's output.
 */
listening: boolean, };

export type AccountStatus = { 
/**
 * The account's configured name.
 */
name: string, 
/**
 * The address of record, e.g. `sip:alice@example.com`.
 */
aor: string, 
/**
 * True while a registration is in force.
 */
registered: boolean, 
/**
 * Status code of the last final response to REGISTER, if any.
 */
status: number | null, 
/**
 * Seconds until the registration expires, if registered.
 */
expires_in: number | null, };

export type Contact = { 
/**
 * Who or what it is ("Sales", "Dr. Ada Lovelace").
 */
name: string, 
/**
 * Where to call: `sip:`/`sips:` URI, `tel:+E164` or digits.
 */
uri: string, 
/**
 * A department or note shown beside the name, if any.
 */
note: string | null, };

export type TraceDirection = "sent" | "received";

export type SipTraceEntry = { 
/**
 * When the console sent or received it.
 */
at: string, 
/**
 * Sent or received.
 */
direction: TraceDirection, 
/**
 * `udp` or `tcp`.
 */
transport: string, 
/**
 * The other side's address (`ip:port`).
 */
remote: string, 
/**
 * The request's method, or for a response the method its CSeq names.
 */
method: string, 
/**
 * A response's status code; `null` for a request.
 */
status: number | null, 
/**
 * The start line (`INVITE sip:desk@10.0.0.1 SIP/2.0`, `SIP/2.0 180 Ringing`).
 */
summary: string, 
/**
 * The CSeq header's value (`1 INVITE`).
 */
cseq: string, 
/**
 * The whole message as sent or received (lossy UTF-8), cut at 8 KiB.
 */
message: string, };

export type SipLadder = { 
/**
 * The call.
 */
call_id: CallId, 
/**
 * Its SIP Call-ID.
 */
sip_call_id: string, 
/**
 * The messages, oldest first.
 */
messages: Array<SipTraceEntry>, 
/**
 * Messages not kept because the call had too many (the first ones are kept).
 */
omitted: number, };

export type AudioRole = "input" | "output" | "ring";

export type AudioStatus = { 
/**
 * False with `--audio none`: calls never touch a sound device.
 */
enabled: boolean, 
/**
 * No device could be opened (no sound card or server): calls run on their own clock.
 */
headless: boolean, 
/**
 * The microphone's id (`host:device`), or `null` when none is open.
 */
input: string | null, 
/**
 * The headset's id, or `null`.
 */
output: string | null, 
/**
 * The separate ring device's id; `null` mixes the ring alert into the headset.
 */
ring: string | null, 
/**
 * The ring alert is sounding: an inbound call waits to be answered.
 */
alerting: boolean, };

export type AudioDevice = { 
/**
 * Stable id, `host:device` (e.g. `pulseaudio:nullsink`): what to switch to.
 */
id: string, 
/**
 * The name people read ("Monitor of Null Output").
 */
name: string, 
/**
 * It can record (a microphone).
 */
is_input: boolean, 
/**
 * It can play (a headset, speaker or ring device).
 */
is_output: boolean, 
/**
 * The system's default input.
 */
is_default_input: boolean, 
/**
 * The system's default output.
 */
is_default_output: boolean, };

export type EventBody = { "type": "call.incoming", 
/**
 * The call.
 */
call: Call, } | { "type": "call.dialing", 
/**
 * The call.
 */
call: Call, } | { "type": "call.ringing", 
/**
 * The call.
 */
call: Call, 
/**
 * The provisional status (180 or 183).
 */
sip_status: number, } | { "type": "call.answered", 
/**
 * The call.
 */
call: Call, } | { "type": "call.ended", 
/**
 * The call, with `end_reason`.
 */
call: Call, } | { "type": "call.stats", 
/**
 * The call.
 */
call: Call, 
/**
 * The figures.
 */
quality: CallQuality, } | { "type": "call.dtmf", 
/**
 * The call.
 */
call: Call, 
/**
 * The digit (`0-9*#A-D`).
 */
digit: string, 
/**
 * `rfc4733` (RTP telephone-event) or `info` (SIP INFO dtmf-relay).
 */
method: string, } | { "type": "call.held", 
/**
 * The call.
 */
call: Call, } | { "type": "call.resumed", 
/**
 * The call.
 */
call: Call, } | { "type": "call.listening", 
/**
 * The call.
 */
call: Call, } | { "type": "transfer.triggered", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "transfer.initiated", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "transfer.answered", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "transfer.completed", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "transfer.failed", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, 
/**
 * The SIP status that decided it, if any.
 */
sip_status: number | null, 
/**
 * Why, in plain words.
 */
reason: string, } | { "type": "transfer.cancelled", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "account.registered", 
/**
 * The account's state.
 */
account: AccountStatus, } | { "type": "account.registration_failed", 
/**
 * The account's state.
 */
account: AccountStatus, 
/**
 * Why, in plain words.
 */
reason: string, } | { "type": "audio.devices", 
/**
 * What is in use now.
 */
audio: AudioStatus, } | { "type": "audio.device_lost", 
/**
 * Which device it was.
 */
role: AudioRole, 
/**
 * Its id.
 */
device: string, 
/**
 * The device used instead (the system default), or `null`: that role has none now.
 */
fell_back_to: string | null, 
/**
 * What is in use now.
 */
audio: AudioStatus, };

export type Event = { 
/**
 * When it happened (wall clock).
 */
at: string, 
/**
 * The call it concerns, if any.
 */
call_id: CallId | null, } & ({ "type": "call.incoming", 
/**
 * The call.
 */
call: Call, } | { "type": "call.dialing", 
/**
 * The call.
 */
call: Call, } | { "type": "call.ringing", 
/**
 * The call.
 */
call: Call, 
/**
 * The provisional status (180 or 183).
 */
sip_status: number, } | { "type": "call.answered", 
/**
 * The call.
 */
call: Call, } | { "type": "call.ended", 
/**
 * The call, with `end_reason`.
 */
call: Call, } | { "type": "call.stats", 
/**
 * The call.
 */
call: Call, 
/**
 * The figures.
 */
quality: CallQuality, } | { "type": "call.dtmf", 
/**
 * The call.
 */
call: Call, 
/**
 * The digit (`0-9*#A-D`).
 */
digit: string, 
/**
 * `rfc4733` (RTP telephone-event) or `info` (SIP INFO dtmf-relay).
 */
method: string, } | { "type": "call.held", 
/**
 * The call.
 */
call: Call, } | { "type": "call.resumed", 
/**
 * The call.
 */
call: Call, } | { "type": "call.listening", 
/**
 * The call.
 */
call: Call, } | { "type": "transfer.triggered", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "transfer.initiated", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "transfer.answered", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "transfer.completed", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "transfer.failed", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, 
/**
 * The SIP status that decided it, if any.
 */
sip_status: number | null, 
/**
 * Why, in plain words.
 */
reason: string, } | { "type": "transfer.cancelled", 
/**
 * The caller's call.
 */
call: Call, 
/**
 * The transfer.
 */
transfer: Transfer, } | { "type": "account.registered", 
/**
 * The account's state.
 */
account: AccountStatus, } | { "type": "account.registration_failed", 
/**
 * The account's state.
 */
account: AccountStatus, 
/**
 * Why, in plain words.
 */
reason: string, } | { "type": "audio.devices", 
/**
 * What is in use now.
 */
audio: AudioStatus, } | { "type": "audio.device_lost", 
/**
 * Which device it was.
 */
role: AudioRole, 
/**
 * Its id.
 */
device: string, 
/**
 * The device used instead (the system default), or `null`: that role has none now.
 */
fell_back_to: string | null, 
/**
 * What is in use now.
 */
audio: AudioStatus, });

export type ErrorBody = { 
/**
 * Stable machine-readable code.
 */
code: string, 
/**
 * Human-readable explanation.
 */
message: string, };

