//! The Tauri commands: one per console [`Command`], named like the UI's backend methods
//! (`ui/src/backend/tauri.ts`), with the HTTP API's arguments and replies. Failures reach the
//! page as `{code, message}` ([`ErrorBody`]), exactly like the HTTP API's error bodies.
//!
//! Each `#[tauri::command]` is a one-line wrapper over a plain `async fn` taking the
//! [`ConsoleHandle`], so the mapping is tested against a real console without a window.

use console_core::target::Target;
use console_core::{
    AccountStatus, AudioDevice, AudioRole, AudioStatus, Call, CallId, Command, ConsoleError,
    ConsoleHandle, Contact, ErrorBody, Reply, SipLadder, TransferId, TransferMode, TransferRequest,
};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Once};
use std::time::Instant;
use tauri::State;

/// What a command returns to the page.
pub type CommandResult<T> = Result<T, ErrorBody>;

/// `history` without `limit`.
pub const DEFAULT_HISTORY_LIMIT: u32 = 50;
/// The largest `limit` `history` accepts (as `GET /history`).
pub const MAX_HISTORY_LIMIT: u32 = 1000;

/// The console the commands drive; managed Tauri state.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    handle: ConsoleHandle,
    started: Instant,
    page_loaded: Arc<Once>,
}

impl ConsoleState {
    /// Wraps the handle of the running console; `started` is when the process started, for the
    /// "calls panel loaded" line.
    pub fn new(handle: ConsoleHandle, started: Instant) -> Self {
        Self {
            handle,
            started,
            page_loaded: Arc::new(Once::new()),
        }
    }

    /// The page's first `list_calls` is when the calls panel has its data and becomes
    /// interactive: say how long that took after start, once (`src-tauri/scripts/footprint.sh`
    /// reads this line).
    fn page_asked_for_calls(&self) {
        self.page_loaded.call_once(|| {
            let ms = self.started.elapsed().as_millis();
            eprintln!("switchboard-desktop: calls panel loaded {ms} ms after start");
        });
    }

    /// The handle, for the event forwarder.
    pub fn handle(&self) -> &ConsoleHandle {
        &self.handle
    }
}

/// `health`: `{status, version}` like `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Always `"ok"` while the app answers.
    pub status: &'static str,
    /// The app's version.
    pub version: &'static str,
}

/// The `request` argument of `transfer`: the body of `POST /calls/{id}/transfer`, with the
/// same defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// Destination: `tel:+E164`, `sip:`/`sips:` URI or digits.
    pub transfer_to: String,
    /// Cold (REFER) by default.
    #[serde(default = "default_mode")]
    pub mode: TransferMode,
    /// Play dial tone to the caller while the transfer is pending.
    #[serde(default)]
    pub play_dialtone: bool,
    /// Caller ID of the anchored leg; `null` = the configured default.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Give up when the target has not answered after this many seconds (default 30).
    #[serde(default = "default_ringing_timeout")]
    pub ringing_timeout_s: u32,
    /// Fall back to an anchored transfer when a cold one fails.
    #[serde(default)]
    pub fallback_to_anchored: bool,
}

fn default_mode() -> TransferMode {
    TransferMode::Cold
}

fn default_ringing_timeout() -> u32 {
    30
}

/// The reply to `transfer`: `{transfer_id}` like the API's 202.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferAccepted {
    /// The new transfer's id.
    pub transfer_id: TransferId,
}

/// Every command, for `tauri::Builder::invoke_handler`. The names are the UI's
/// (`COMMANDS` in `ui/src/backend/tauri.ts`) and `build.rs`'s permission list.
pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        health,
        list_calls,
        get_call,
        dial,
        answer,
        reject,
        hangup,
        hold,
        resume,
        mute,
        unmute,
        listen,
        unlisten,
        send_dtmf,
        transfer,
        cancel_transfer,
        consult,
        complete_transfer,
        history,
        accounts,
        audio,
        audio_devices,
        set_audio_device,
        ladder,
        contacts,
        attendant_tone,
    ]
}

/// Whether the app answers, and its version.
#[tauri::command]
pub fn health() -> Health {
    Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    }
}

/// All calls that have not ended.
#[tauri::command]
pub async fn list_calls(console: State<'_, ConsoleState>) -> CommandResult<Vec<Call>> {
    let calls = ops::list_calls(&console.handle).await;
    console.page_asked_for_calls();
    calls
}

/// One call.
#[tauri::command]
pub async fn get_call(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::GetCall(id)).await
}

/// Places an outbound call.
#[tauri::command]
pub async fn dial(console: State<'_, ConsoleState>, to: String) -> CommandResult<Call> {
    ops::dial(&console.handle, to).await
}

/// Answers a ringing inbound call.
#[tauri::command]
pub async fn answer(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::Answer(id)).await
}

/// Rejects a ringing inbound call.
#[tauri::command]
pub async fn reject(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::Reject(id)).await
}

/// Hangs up (BYE, CANCEL or reject, whatever the call's state needs).
#[tauri::command]
pub async fn hangup(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::Hangup(id)).await
}

/// Puts an active call on hold.
#[tauri::command]
pub async fn hold(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::Hold(id)).await
}

/// Takes a call off hold.
#[tauri::command]
pub async fn resume(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::Resume(id)).await
}

/// Stops sending the microphone.
#[tauri::command]
pub async fn mute(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::Mute(id)).await
}

/// Sends the microphone again.
#[tauri::command]
pub async fn unmute(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::Unmute(id)).await
}

/// Listens in on the anchored bridge `id` is a leg of: both legs to the speaker.
#[tauri::command]
pub async fn listen(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::Listen(id)).await
}

/// Stops listening in.
#[tauri::command]
pub async fn unlisten(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::Unlisten(id)).await
}

/// Sends DTMF digits (`0-9 * # A-D`, RFC 4733) in an established call.
#[tauri::command]
pub async fn send_dtmf(
    console: State<'_, ConsoleState>,
    id: CallId,
    digits: String,
) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::SendDtmf { call: id, digits }).await
}

/// Hands an established call on (cold, anchored or attended).
#[tauri::command]
pub async fn transfer(
    console: State<'_, ConsoleState>,
    id: CallId,
    request: TransferBody,
) -> CommandResult<TransferAccepted> {
    ops::transfer(&console.handle, id, request).await
}

/// Aborts the pending transfer of a call.
#[tauri::command]
pub async fn cancel_transfer(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::CancelTransfer(id)).await
}

/// Attended transfer, step 1: holds the caller and calls `to`.
#[tauri::command]
pub async fn consult(
    console: State<'_, ConsoleState>,
    id: CallId,
    to: String,
) -> CommandResult<Call> {
    ops::consult(&console.handle, id, to).await
}

/// Attended transfer, step 2: hands the caller to the consulted target.
#[tauri::command]
pub async fn complete_transfer(
    console: State<'_, ConsoleState>,
    id: CallId,
) -> CommandResult<Call> {
    ops::call_command(&console.handle, Command::CompleteTransfer(id)).await
}

/// Ended calls, newest first (`limit` 1..=1000, default 50).
#[tauri::command]
pub async fn history(
    console: State<'_, ConsoleState>,
    limit: Option<u32>,
) -> CommandResult<Vec<Call>> {
    ops::history(&console.handle, limit).await
}

/// Registration state of the configured accounts.
#[tauri::command]
pub async fn accounts(console: State<'_, ConsoleState>) -> CommandResult<Vec<AccountStatus>> {
    ops::accounts(&console.handle).await
}

/// Plays a call-progress tone (`dial`…) in the attendant's headset, or stops (`null`), like
/// `PUT /api/v1/audio/tone`.
#[tauri::command]
pub async fn attendant_tone(
    console: State<'_, ConsoleState>,
    tone: Option<String>,
) -> CommandResult<AudioStatus> {
    ops::attendant_tone(&console.handle, tone).await
}

/// The attendant's contacts, like `GET /api/v1/contacts`.
#[tauri::command]
pub async fn contacts(console: State<'_, ConsoleState>) -> CommandResult<Vec<Contact>> {
    ops::contacts(&console.handle).await
}

/// The SIP messages of a call, like `GET /api/v1/calls/{id}/ladder`.
#[tauri::command]
pub async fn ladder(console: State<'_, ConsoleState>, id: CallId) -> CommandResult<SipLadder> {
    ops::ladder(&console.handle, id).await
}

/// The attendant's sound devices in use, like `GET /api/v1/audio`.
#[tauri::command]
pub async fn audio(console: State<'_, ConsoleState>) -> CommandResult<AudioStatus> {
    ops::audio(&console.handle).await
}

/// The devices there are and those in use, like `GET /api/v1/audio/devices`.
#[tauri::command]
pub async fn audio_devices(console: State<'_, ConsoleState>) -> CommandResult<AudioDevices> {
    ops::audio_devices(&console.handle).await
}

/// Switches the microphone, headset or ring device mid-call, like
/// `PUT /api/v1/audio/devices/{role}`; `device: null` is the system default.
#[tauri::command]
pub async fn set_audio_device(
    console: State<'_, ConsoleState>,
    role: AudioRole,
    device: Option<String>,
) -> CommandResult<AudioStatus> {
    ops::set_audio_device(&console.handle, role, device).await
}

/// The reply to `audio_devices`: `{devices, active}` as the API's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudioDevices {
    /// Every device the sound server offers.
    pub devices: Vec<AudioDevice>,
    /// What the console uses now.
    pub active: AudioStatus,
}

/// The commands' bodies, over a bare [`ConsoleHandle`].
pub mod ops {
    use super::*;

    /// Runs a command whose reply is one call.
    pub async fn call_command(handle: &ConsoleHandle, command: Command) -> CommandResult<Call> {
        match execute(handle, command).await? {
            Reply::Call(call) => Ok(call),
            other => Err(unexpected(&other)),
        }
    }

    /// `list_calls`.
    pub async fn list_calls(handle: &ConsoleHandle) -> CommandResult<Vec<Call>> {
        calls(execute(handle, Command::ListCalls).await?)
    }

    /// `dial`: the destination is checked first, for a precise `invalid_target`.
    pub async fn dial(handle: &ConsoleHandle, to: String) -> CommandResult<Call> {
        Target::parse(&to).map_err(|e| e.body())?;
        call_command(handle, Command::Dial { to }).await
    }

    /// `consult`: like `dial`, for the consultation call.
    pub async fn consult(handle: &ConsoleHandle, id: CallId, to: String) -> CommandResult<Call> {
        Target::parse(&to).map_err(|e| e.body())?;
        call_command(handle, Command::Consult { call: id, to }).await
    }

    /// `transfer`.
    pub async fn transfer(
        handle: &ConsoleHandle,
        id: CallId,
        body: TransferBody,
    ) -> CommandResult<TransferAccepted> {
        let request = TransferRequest {
            transfer_to: body.transfer_to,
            mode: body.mode,
            play_dialtone: body.play_dialtone,
            caller_id: body.caller_id,
            ringing_timeout_s: body.ringing_timeout_s,
            fallback_to_anchored: body.fallback_to_anchored,
        };
        match execute(handle, Command::Transfer { call: id, request }).await? {
            Reply::Transfer(transfer_id) => Ok(TransferAccepted { transfer_id }),
            other => Err(unexpected(&other)),
        }
    }

    /// `history`: `limit` must be 1..=[`MAX_HISTORY_LIMIT`].
    pub async fn history(handle: &ConsoleHandle, limit: Option<u32>) -> CommandResult<Vec<Call>> {
        let limit = limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
            return Err(ConsoleError::BadRequest(format!(
                "limit must be a whole number from 1 to {MAX_HISTORY_LIMIT}, not {limit}"
            ))
            .body());
        }
        calls(execute(handle, Command::History { limit }).await?)
    }

    /// `accounts`.
    pub async fn accounts(handle: &ConsoleHandle) -> CommandResult<Vec<AccountStatus>> {
        match execute(handle, Command::ListAccounts).await? {
            Reply::Accounts(accounts) => Ok(accounts),
            other => Err(unexpected(&other)),
        }
    }

    /// `attendant_tone`.
    pub async fn attendant_tone(
        handle: &ConsoleHandle,
        tone: Option<String>,
    ) -> CommandResult<AudioStatus> {
        let tone = tone
            .as_deref()
            .map(console_core::audio::tone_from_name)
            .transpose()
            .map_err(|e| e.body())?;
        audio_status(execute(handle, Command::AttendantTone(tone)).await?)
    }

    /// `contacts`.
    pub async fn contacts(handle: &ConsoleHandle) -> CommandResult<Vec<Contact>> {
        match execute(handle, Command::ListContacts).await? {
            Reply::Contacts(contacts) => Ok(contacts),
            other => Err(unexpected(&other)),
        }
    }

    /// `ladder`.
    pub async fn ladder(handle: &ConsoleHandle, id: CallId) -> CommandResult<SipLadder> {
        match execute(handle, Command::GetLadder(id)).await? {
            Reply::Ladder(ladder) => Ok(ladder),
            other => Err(unexpected(&other)),
        }
    }

    /// `audio`.
    pub async fn audio(handle: &ConsoleHandle) -> CommandResult<AudioStatus> {
        audio_status(execute(handle, Command::GetAudio).await?)
    }

    /// `audio_devices`.
    pub async fn audio_devices(handle: &ConsoleHandle) -> CommandResult<AudioDevices> {
        let devices = match execute(handle, Command::ListAudioDevices).await? {
            Reply::AudioDevices(devices) => devices,
            other => return Err(unexpected(&other)),
        };
        let active = audio(handle).await?;
        Ok(AudioDevices { devices, active })
    }

    /// `set_audio_device`.
    pub async fn set_audio_device(
        handle: &ConsoleHandle,
        role: AudioRole,
        device: Option<String>,
    ) -> CommandResult<AudioStatus> {
        if device.as_deref().is_some_and(|d| d.trim().is_empty()) {
            return Err(ConsoleError::BadRequest(
                "device must be a device id, or null for the system default".into(),
            )
            .body());
        }
        audio_status(execute(handle, Command::SetAudioDevice { role, device }).await?)
    }

    fn audio_status(reply: Reply) -> CommandResult<AudioStatus> {
        match reply {
            Reply::Audio(status) => Ok(status),
            other => Err(unexpected(&other)),
        }
    }

    async fn execute(handle: &ConsoleHandle, command: Command) -> CommandResult<Reply> {
        handle.execute(command).await.map_err(|e| e.body())
    }

    fn calls(reply: Reply) -> CommandResult<Vec<Call>> {
        match reply {
            Reply::Calls(calls) => Ok(calls),
            other => Err(unexpected(&other)),
        }
    }

    fn unexpected(reply: &Reply) -> ErrorBody {
        ErrorBody {
            code: "internal",
            message: format!("the console gave an unexpected reply: {reply:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use console_core::ConsoleConfig;
    use console_runtime::{ListenSpec, RuntimeConfig};

    async fn console(dir: &std::path::Path) -> console_runtime::Running {
        console_runtime::start(RuntimeConfig {
            sip_listen: vec!["udp:127.0.0.1:0".parse::<ListenSpec>().unwrap()],
            data_dir: dir.to_path_buf(),
            console: ConsoleConfig::default(),
            media: Default::default(),
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn commands_reach_the_console_and_errors_are_code_and_message() {
        let dir = tempfile::tempdir().unwrap();
        let running = console(dir.path()).await;
        let handle = running.handle.clone();

        assert!(ops::list_calls(&handle).await.unwrap().is_empty());
        assert!(ops::accounts(&handle).await.unwrap().is_empty());
        assert!(ops::history(&handle, None).await.unwrap().is_empty());

        let missing = CallId("c-nope".into());
        let err = ops::call_command(&handle, Command::Answer(missing.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code, "call_not_found");
        assert!(err.message.contains("c-nope"), "{}", err.message);

        let err = ops::dial(&handle, "not a target".into()).await.unwrap_err();
        assert_eq!(err.code, "invalid_target");

        for bad in [0, MAX_HISTORY_LIMIT + 1] {
            let err = ops::history(&handle, Some(bad)).await.unwrap_err();
            assert_eq!(err.code, "bad_request");
        }

        let body: TransferBody =
            serde_json::from_value(serde_json::json!({"transfer_to": "sip:x@127.0.0.1"})).unwrap();
        let err = ops::transfer(&handle, missing.clone(), body)
            .await
            .unwrap_err();
        assert_eq!(err.code, "call_not_found");

        let err = ops::call_command(
            &handle,
            Command::SendDtmf {
                call: missing.clone(),
                digits: "12#".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, "call_not_found");
        running.shutdown().await;
    }

    #[test]
    fn the_transfer_body_has_the_api_defaults_and_refuses_unknown_fields() {
        let body: TransferBody =
            serde_json::from_value(serde_json::json!({"transfer_to": "1234"})).unwrap();
        assert_eq!(body.mode, TransferMode::Cold);
        assert_eq!(body.ringing_timeout_s, 30);
        assert!(!body.play_dialtone && !body.fallback_to_anchored);
        assert!(body.caller_id.is_none());

        let full: TransferBody = serde_json::from_value(serde_json::json!({
            "transfer_to": "sip:sales@pbx", "mode": "anchored", "play_dialtone": true,
            "caller_id": null, "ringing_timeout_s": 20, "fallback_to_anchored": true
        }))
        .unwrap();
        assert_eq!(full.mode, TransferMode::Anchored);

        assert!(
            serde_json::from_value::<TransferBody>(
                serde_json::json!({"transfer_to": "1", "bogus": 1})
            )
            .is_err()
        );
    }

    #[test]
    fn replies_serialise_like_the_http_api() {
        let accepted = TransferAccepted {
            transfer_id: TransferId("t-1".into()),
        };
        assert_eq!(
            serde_json::to_value(accepted).unwrap(),
            serde_json::json!({"transfer_id": "t-1"})
        );
        assert_eq!(
            serde_json::to_value(health()).unwrap()["status"],
            serde_json::json!("ok")
        );
    }
}
