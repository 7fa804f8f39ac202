//! The routes: each one runs one console command and returns its reply as JSON.

use crate::error::ApiError;
use crate::{ApiState, BODY_LIMIT, events, guard};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use console_core::target::Target;
use console_core::{
    AccountStatus, AudioDevice, AudioRole, AudioStatus, Call, CallId, Command, Contact, Reply,
    SipLadder, TransferMode, TransferRequest,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// `GET /history` without `limit`.
const DEFAULT_HISTORY_LIMIT: u32 = 50;
/// The largest `limit` `GET /history` accepts.
const MAX_HISTORY_LIMIT: u32 = 1000;

pub(crate) fn build(state: ApiState) -> Router {
    Router::new()
        .route("/", get(crate::ui::index))
        .route("/api/v1/health", get(health))
        .route("/api/v1/calls", get(list_calls).post(dial))
        .route("/api/v1/calls/{id}", get(get_call))
        .route("/api/v1/calls/{id}/answer", post(answer))
        .route("/api/v1/calls/{id}/reject", post(reject))
        .route("/api/v1/calls/{id}/hangup", post(hangup))
        .route("/api/v1/calls/{id}/dtmf", post(dtmf))
        .route("/api/v1/calls/{id}/hold", post(hold))
        .route("/api/v1/calls/{id}/resume", post(resume))
        .route("/api/v1/calls/{id}/mute", post(mute))
        .route("/api/v1/calls/{id}/unmute", post(unmute))
        .route("/api/v1/calls/{id}/listen", post(listen))
        .route("/api/v1/calls/{id}/unlisten", post(unlisten))
        .route("/api/v1/calls/{id}/consult", post(consult))
        .route("/api/v1/calls/{id}/ladder", get(ladder))
        .route(
            "/api/v1/calls/{id}/transfer/complete",
            post(complete_transfer),
        )
        .route("/api/v1/calls/{id}/transfer", post(transfer))
        .route("/api/v1/calls/{id}/transfer/cancel", post(cancel_transfer))
        .route("/api/v1/history", get(history))
        .route("/api/v1/accounts", get(accounts))
        .route("/api/v1/contacts", get(contacts))
        .route("/api/v1/audio", get(audio))
        .route("/api/v1/audio/devices", get(audio_devices))
        .route("/api/v1/audio/tone", axum::routing::put(attendant_tone))
        .route(
            "/api/v1/audio/devices/{role}",
            axum::routing::put(set_audio_device),
        )
        .route(guard::EVENTS_PATH, get(events::upgrade))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), guard::check))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

async fn list_calls(State(state): State<ApiState>) -> Result<Json<Vec<Call>>, ApiError> {
    let reply = state.handle().execute(Command::ListCalls).await?;
    calls(reply).map(Json)
}

async fn get_call(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    let reply = state.handle().execute(Command::GetCall(id)).await?;
    call(reply).map(Json)
}

/// `POST /calls` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DialRequest {
    /// `sip:`/`sips:` URI, `tel:+E164` or digits.
    to: String,
}

async fn dial(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<DialRequest>,
) -> Result<(StatusCode, Json<Call>), ApiError> {
    // Refuse garbage here with a precise reason, before it reaches the engine.
    Target::parse(&body.to)?;
    let reply = state
        .handle()
        .execute(Command::Dial { to: body.to })
        .await?;
    Ok((StatusCode::CREATED, Json(call(reply)?)))
}

async fn answer(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    let reply = state.handle().execute(Command::Answer(id)).await?;
    call(reply).map(Json)
}

async fn reject(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    let reply = state.handle().execute(Command::Reject(id)).await?;
    call(reply).map(Json)
}

async fn hangup(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    let reply = state.handle().execute(Command::Hangup(id)).await?;
    call(reply).map(Json)
}

/// `POST /calls/{id}/dtmf` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DtmfBody {
    digits: String,
}

async fn dtmf(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
    ApiJson(body): ApiJson<DtmfBody>,
) -> Result<Json<Call>, ApiError> {
    let command = Command::SendDtmf {
        call: id,
        digits: body.digits,
    };
    call(state.handle().execute(command).await?).map(Json)
}

async fn hold(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    call(state.handle().execute(Command::Hold(id)).await?).map(Json)
}

async fn resume(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    call(state.handle().execute(Command::Resume(id)).await?).map(Json)
}

async fn mute(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    call(state.handle().execute(Command::Mute(id)).await?).map(Json)
}

async fn listen(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    call(state.handle().execute(Command::Listen(id)).await?).map(Json)
}

async fn unlisten(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    call(state.handle().execute(Command::Unlisten(id)).await?).map(Json)
}

async fn unmute(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    call(state.handle().execute(Command::Unmute(id)).await?).map(Json)
}

async fn consult(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
    ApiJson(body): ApiJson<DialRequest>,
) -> Result<(StatusCode, Json<Call>), ApiError> {
    Target::parse(&body.to)?;
    let reply = state
        .handle()
        .execute(Command::Consult {
            call: id,
            to: body.to,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(call(reply)?)))
}

async fn complete_transfer(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    call(
        state
            .handle()
            .execute(Command::CompleteTransfer(id))
            .await?,
    )
    .map(Json)
}

/// `POST /calls/{id}/transfer` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    transfer_to: String,
    /// `None`: the configured default mode.
    #[serde(default)]
    mode: Option<TransferMode>,
    #[serde(default)]
    play_dialtone: bool,
    #[serde(default)]
    caller_id: Option<String>,
    #[serde(default = "default_ringing_timeout")]
    ringing_timeout_s: u32,
    #[serde(default)]
    fallback_to_anchored: bool,
}

fn default_ringing_timeout() -> u32 {
    30
}

/// `202 {"transfer_id": ...}`
#[derive(Debug, serde::Serialize)]
struct TransferAccepted {
    transfer_id: console_core::TransferId,
}

async fn transfer(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
    ApiJson(body): ApiJson<TransferBody>,
) -> Result<(StatusCode, Json<TransferAccepted>), ApiError> {
    let request = TransferRequest {
        transfer_to: body.transfer_to,
        mode: body.mode.unwrap_or_else(|| state.default_transfer_mode()),
        play_dialtone: body.play_dialtone,
        caller_id: body.caller_id,
        ringing_timeout_s: body.ringing_timeout_s,
        fallback_to_anchored: body.fallback_to_anchored,
    };
    let reply = state
        .handle()
        .execute(Command::Transfer { call: id, request })
        .await?;
    match reply {
        Reply::Transfer(transfer_id) => {
            Ok((StatusCode::ACCEPTED, Json(TransferAccepted { transfer_id })))
        }
        _ => Err(ApiError::from(console_core::ConsoleError::Unavailable)),
    }
}

async fn cancel_transfer(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<Call>, ApiError> {
    let reply = state.handle().execute(Command::CancelTransfer(id)).await?;
    call(reply).map(Json)
}

/// `GET /history` query. `limit` is parsed by hand for a clear error message.
#[derive(Debug, Deserialize)]
struct HistoryQuery {
    limit: Option<String>,
}

async fn history(
    State(state): State<ApiState>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Vec<Call>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = match query.limit {
        None => DEFAULT_HISTORY_LIMIT,
        Some(raw) => raw
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_HISTORY_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit must be a whole number from 1 to {MAX_HISTORY_LIMIT}, not {raw:?}"
                ))
            })?,
    };
    let reply = state.handle().execute(Command::History { limit }).await?;
    calls(reply).map(Json)
}

async fn accounts(State(state): State<ApiState>) -> Result<Json<Vec<AccountStatus>>, ApiError> {
    match state.handle().execute(Command::ListAccounts).await? {
        Reply::Accounts(accounts) => Ok(Json(accounts)),
        other => Err(unexpected(&other)),
    }
}

async fn contacts(State(state): State<ApiState>) -> Result<Json<Vec<Contact>>, ApiError> {
    match state.handle().execute(Command::ListContacts).await? {
        Reply::Contacts(contacts) => Ok(Json(contacts)),
        other => Err(unexpected(&other)),
    }
}

async fn ladder(
    State(state): State<ApiState>,
    CallPath(id): CallPath,
) -> Result<Json<SipLadder>, ApiError> {
    match state.handle().execute(Command::GetLadder(id)).await? {
        Reply::Ladder(ladder) => Ok(Json(ladder)),
        other => Err(unexpected(&other)),
    }
}

async fn audio(State(state): State<ApiState>) -> Result<Json<AudioStatus>, ApiError> {
    audio_status(state.handle().execute(Command::GetAudio).await?).map(Json)
}

/// `GET /audio/devices`: what there is and what is in use.
#[derive(Debug, serde::Serialize)]
struct AudioDevices {
    devices: Vec<AudioDevice>,
    active: AudioStatus,
}

async fn audio_devices(State(state): State<ApiState>) -> Result<Json<AudioDevices>, ApiError> {
    let devices = match state.handle().execute(Command::ListAudioDevices).await? {
        Reply::AudioDevices(devices) => devices,
        other => return Err(unexpected(&other)),
    };
    let active = audio_status(state.handle().execute(Command::GetAudio).await?)?;
    Ok(Json(AudioDevices { devices, active }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceBody {
    /// A device id (`GET /audio/devices`) or name; `null` or absent: the system default (for
    /// `ring`: no separate ring device).
    #[serde(default)]
    device: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToneBody {
    /// `dial`, `ringback`, `busy`, `congestion`, `call_waiting`; `null` or absent: stop.
    #[serde(default)]
    tone: Option<String>,
}

async fn attendant_tone(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ToneBody>,
) -> Result<Json<AudioStatus>, ApiError> {
    let tone = body
        .tone
        .as_deref()
        .map(console_core::audio::tone_from_name)
        .transpose()?;
    audio_status(state.handle().execute(Command::AttendantTone(tone)).await?).map(Json)
}

async fn set_audio_device(
    State(state): State<ApiState>,
    Path(role): Path<String>,
    ApiJson(body): ApiJson<DeviceBody>,
) -> Result<Json<AudioStatus>, ApiError> {
    let role: AudioRole = role.parse().map_err(ApiError::bad_request)?;
    if body.device.as_deref().is_some_and(|d| d.trim().is_empty()) {
        return Err(ApiError::bad_request(
            "device must be a device id, or null for the system default",
        ));
    }
    let command = Command::SetAudioDevice {
        role,
        device: body.device,
    };
    audio_status(state.handle().execute(command).await?).map(Json)
}

fn audio_status(reply: Reply) -> Result<AudioStatus, ApiError> {
    match reply {
        Reply::Audio(status) => Ok(status),
        other => Err(unexpected(&other)),
    }
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

fn call(reply: Reply) -> Result<Call, ApiError> {
    match reply {
        Reply::Call(call) => Ok(call),
        other => Err(unexpected(&other)),
    }
}

fn calls(reply: Reply) -> Result<Vec<Call>, ApiError> {
    match reply {
        Reply::Calls(calls) => Ok(calls),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(reply: &Reply) -> ApiError {
    ApiError::Internal(format!("the console gave an unexpected reply: {reply:?}"))
}

/// The `{id}` of a call route. Rejections (e.g. bad percent-encoding) become JSON 400s.
struct CallPath(CallId);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CallPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e: PathRejection| ApiError::bad_request(e.body_text()))?;
        Ok(Self(CallId(id)))
    }
}

/// `Json<T>` whose rejections are our JSON errors (axum's are plain text).
struct ApiJson<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::from_json(&rejection)),
        }
    }
}
