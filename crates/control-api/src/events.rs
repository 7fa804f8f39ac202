//! `GET /api/v1/events`: the console's events over a WebSocket.
//!
//! One JSON text frame per [`Event`] (`{"type", "call_id", "at", ...}`). A client that falls
//! more than the broadcast capacity behind gets `{"type":"events.lagged","skipped":n}` and should
//! re-read `GET /calls`; the stream goes on. The server pings every
//! [`PING_EVERY`] and closes a connection it has not heard from in [`SILENCE_LIMIT`]. Messages
//! from the client are read (for pongs and close) and otherwise ignored.

use crate::error::ApiError;
use crate::{ApiState, BODY_LIMIT};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::{IntoResponse, Response};
use console_core::Event;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// How often the server pings.
const PING_EVERY: Duration = Duration::from_secs(20);
/// A client silent (not even a pong) for this long is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// How long to wait for the client's reply to our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Upgrades to a WebSocket and streams events. Subscribes before answering, so every event
/// after the 101 response reaches the client.
pub(crate) async fn upgrade(
    State(state): State<ApiState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError::bad_request(format!(
                "this is a WebSocket endpoint: {}",
                rejection.body_text()
            ))
            .into_response();
        }
    };
    let events = state.handle().subscribe();
    let closing = state.inner.closing.subscribe();
    upgrade
        .max_message_size(BODY_LIMIT)
        .on_upgrade(move |socket| stream(socket, events, closing))
}

async fn stream(
    mut socket: WebSocket,
    mut events: broadcast::Receiver<Arc<Event>>,
    mut closing: watch::Receiver<bool>,
) {
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = Instant::now();
    loop {
        let frame = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => match serde_json::to_string(&*event) {
                    Ok(json) => Message::Text(json.into()),
                    Err(e) => {
                        tracing::warn!(error = %e, kind = event.body.kind(), "cannot serialise event");
                        continue;
                    }
                },
                Err(RecvError::Lagged(skipped)) => Message::Text(
                    serde_json::json!({"type": "events.lagged", "skipped": skipped})
                        .to_string()
                        .into(),
                ),
                Err(RecvError::Closed) => {
                    return close(socket, close_code::AWAY, "the console stopped").await;
                }
            },
            incoming = socket.recv() => match incoming {
                // The library has already queued the reply to a close; reading on flushes it.
                Some(Ok(Message::Close(_))) => return drain(socket).await,
                Some(Ok(_)) => {
                    last_heard = Instant::now();
                    continue;
                }
                Some(Err(_)) | None => return,
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    return close(socket, close_code::AWAY, "no pong").await;
                }
                Message::Ping(Default::default())
            },
            () = shutting_down(&mut closing) => {
                return close(socket, close_code::AWAY, "the server is shutting down").await;
            },
        };
        if socket.send(frame).await.is_err() {
            return;
        }
    }
}

/// Completes once the server starts shutting down (or the state is gone).
async fn shutting_down(closing: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, not in the select.
    let _ = closing.wait_for(|closing| *closing).await;
}

/// Sends a close frame and waits (briefly) for the client's.
async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        drain(socket).await;
    }
}

/// Reads until the connection ends, so the closing handshake completes.
async fn drain(mut socket: WebSocket) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
}
