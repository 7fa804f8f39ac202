//! The HTTP + WebSocket API driven over a fake console engine: a task that answers
//! `console_core::Request`s from an in-memory map and broadcasts events, like the real engine.

#![allow(clippy::unwrap_used, missing_docs)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::Utc;
use console_core::{
    AccountStatus, Call, CallId, CallState, Command, ConsoleError, ConsoleHandle, Direction,
    EndReason, Event, EventBody, Reply,
};
use control_api::{ApiOptions, ApiState, router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite;
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// A console engine stand-in: an inbound call `c-ringing` waits; `Dial` creates calls.
fn fake_console(event_capacity: usize) -> (ConsoleHandle, broadcast::Sender<Arc<Event>>) {
    let (requests, mut inbox) = mpsc::channel::<console_core::Request>(16);
    let (events, _) = broadcast::channel(event_capacity);
    let emit = events.clone();
    tokio::spawn(async move {
        let mut calls = BTreeMap::new();
        let ringing = new_call(
            "c-ringing",
            Direction::Inbound,
            CallState::Ringing,
            "sip:carol@example.com",
        );
        calls.insert(ringing.id.clone(), ringing);
        let mut ended = new_call(
            "c-old",
            Direction::Outbound,
            CallState::Ended,
            "sip:dave@example.com",
        );
        ended.end_reason = Some(EndReason::RemoteHangup);
        calls.insert(ended.id.clone(), ended);
        let mut next = 0;

        while let Some(request) = inbox.recv().await {
            let result = match request.command {
                Command::ListCalls => Ok(Reply::Calls(
                    calls
                        .values()
                        .filter(|c| c.state != CallState::Ended)
                        .cloned()
                        .collect(),
                )),
                Command::GetCall(id) => calls
                    .get(&id)
                    .cloned()
                    .map(Reply::Call)
                    .ok_or(ConsoleError::CallNotFound(id)),
                Command::Dial { to } => {
                    next += 1;
                    let call = new_call(
                        &format!("c-{next}"),
                        Direction::Outbound,
                        CallState::Dialing,
                        &to,
                    );
                    calls.insert(call.id.clone(), call.clone());
                    let _ = emit.send(Arc::new(event(
                        EventBody::CallDialing { call: call.clone() },
                        &call,
                    )));
                    Ok(Reply::Call(call))
                }
                Command::Answer(id) => match calls.get_mut(&id) {
                    None => Err(ConsoleError::CallNotFound(id)),
                    Some(call) if call.state != CallState::Ringing => {
                        Err(ConsoleError::WrongState {
                            call: id,
                            state: "active".into(),
                            action: "answer",
                        })
                    }
                    Some(call) => {
                        call.state = CallState::Active;
                        call.answered_at = Some(Utc::now());
                        Ok(Reply::Call(call.clone()))
                    }
                },
                Command::Reject(id) | Command::Hangup(id) => match calls.get_mut(&id) {
                    None => Err(ConsoleError::CallNotFound(id)),
                    Some(call) => {
                        call.state = CallState::Ended;
                        call.end_reason = Some(EndReason::LocalHangup);
                        let _ = emit.send(Arc::new(event(
                            EventBody::CallEnded { call: call.clone() },
                            call,
                        )));
                        Ok(Reply::Call(call.clone()))
                    }
                },
                Command::History { limit } => Ok(Reply::Calls(
                    calls
                        .values()
                        .filter(|c| c.state == CallState::Ended)
                        .take(limit as usize)
                        .cloned()
                        .collect(),
                )),
                Command::ListAccounts => Ok(Reply::Accounts(vec![AccountStatus {
                    name: "main".into(),
                    aor: "sip:alice@example.com".into(),
                    registered: true,
                    status: Some(200),
                    expires_in: Some(600),
                }])),
                other => Err(ConsoleError::BadRequest(format!("fake engine: {other:?}"))),
            };
            let _ = request.reply.send(result);
        }
    });
    (ConsoleHandle::new(requests, events.clone()), events)
}

fn new_call(id: &str, direction: Direction, state: CallState, remote: &str) -> Call {
    Call {
        id: CallId(id.into()),
        direction,
        state,
        remote_uri: remote.into(),
        remote_display: None,
        local_uri: "sip:switchboard@127.0.0.1".into(),
        started_at: Utc::now(),
        answered_at: None,
        ended_at: None,
        end_reason: None,
        sip_status: None,
        sip_call_id: format!("{id}@test"),
        transfer: None,
        muted: false,
        held_by: None,
        codec: None,
        quality: None,
        bridged_with: None,
        listening: false,
    }
}

fn event(body: EventBody, call: &Call) -> Event {
    Event {
        at: Utc::now(),
        call_id: Some(call.id.clone()),
        body,
    }
}

fn app() -> (axum::Router, broadcast::Sender<Arc<Event>>) {
    let (handle, events) = fake_console(16);
    let state = ApiState::new(handle, options(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    (router(state), events)
}

fn options(bound_ip: IpAddr) -> ApiOptions {
    ApiOptions {
        token: TOKEN.into(),
        bound_ip,
        extra_hosts: vec!["desk.example.com".into()],
    }
}

fn request(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1:7070")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
}

/// Runs one request; returns the status and the body parsed as JSON (every API answer is JSON).
async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{status}: not JSON ({content_type:?}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{status} {body}"
    );
    (status, body)
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, Value) {
    send(app, request(Method::GET, path).body(Body::empty()).unwrap()).await
}

async fn post_json(app: &axum::Router, path: &str, body: &str) -> (StatusCode, Value) {
    let request = request(Method::POST, path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(app, request).await
}

fn assert_error(status: StatusCode, body: &Value, expected_status: StatusCode, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message explains it: {body}"
    );
}

#[tokio::test]
async fn health_reports_the_version() {
    let (app, _) = app();
    let (status, body) = get(&app, "/api/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

#[tokio::test]
async fn requests_without_the_right_token_get_401() {
    let (app, _) = app();
    let no_token = Request::get("/api/v1/calls")
        .header(header::HOST, "localhost:7070")
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(&app, no_token).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    for auth in [
        "Bearer wrong",
        "Bearer 0123456789abcdef0123456789abcdeF",
        "Basic abc",
        "Bearer ",
    ] {
        let wrong = Request::get("/api/v1/health")
            .header(header::HOST, "localhost")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap();
        let (status, body) = send(&app, wrong).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }

    // `?token=` is only for the WebSocket.
    let query = Request::get(format!("/api/v1/calls?token={TOKEN}"))
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(&app, query).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    // Unknown API routes do not reveal themselves without a token either.
    let unknown = Request::get("/api/v1/nope")
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    let (status, _) = send(&app, unknown).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn foreign_hosts_get_403_even_with_the_token() {
    let (app, _) = app();
    for host in [
        "evil.example",
        "evil.example:7070",
        "localhost.evil.example",
        "10.0.0.1:7070",
    ] {
        let mut request = request(Method::GET, "/api/v1/health")
            .body(Body::empty())
            .unwrap();
        request
            .headers_mut()
            .insert(header::HOST, host.parse().unwrap());
        let (status, body) = send(&app, request).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden_host");
    }
    for host in [
        "localhost:7070",
        "[::1]:7070",
        "desk.example.com",
        "127.0.0.1",
    ] {
        let mut request = request(Method::GET, "/api/v1/health")
            .body(Body::empty())
            .unwrap();
        request
            .headers_mut()
            .insert(header::HOST, host.parse().unwrap());
        let (status, _) = send(&app, request).await;
        assert_eq!(status, StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn dialling_returns_201_and_the_call() {
    let (app, events) = app();
    let mut events = events.subscribe();
    let (status, body) =
        post_json(&app, "/api/v1/calls", r#"{"to": "sip:bob@127.0.0.1:5099"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "dialing");
    assert_eq!(body["direction"], "outbound");
    assert_eq!(body["remote_uri"], "sip:bob@127.0.0.1:5099");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(events.recv().await.unwrap().body.kind(), "call.dialing");

    let (status, call) = get(&app, &format!("/api/v1/calls/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(call, body);

    let (status, calls) = get(&app, "/api/v1/calls").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(calls.as_array().unwrap().len(), 2);

    let (status, call) = post_json(&app, &format!("/api/v1/calls/{id}/hangup"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(call["state"], "ended");
    assert_eq!(call["end_reason"], "local_hangup");
}

#[tokio::test]
async fn answer_and_reject_run_their_commands() {
    let (app, _) = app();
    let (status, call) = post_json(&app, "/api/v1/calls/c-ringing/answer", "").await;
    assert_eq!(status, StatusCode::OK, "{call}");
    assert_eq!(call["state"], "active");
    let (status, body) = post_json(&app, "/api/v1/calls/c-ringing/answer", "").await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_state");
    let (status, call) = post_json(&app, "/api/v1/calls/c-ringing/reject", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(call["state"], "ended");
}

#[tokio::test]
async fn bad_destinations_are_400_invalid_target() {
    let (app, _) = app();
    for to in [
        "",
        "not a uri!",
        "http://example.com",
        "tel:12345",
        "sip:a b@c",
    ] {
        let (status, body) =
            post_json(&app, "/api/v1/calls", &json!({ "to": to }).to_string()).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_target");
    }
}

#[tokio::test]
async fn malformed_bodies_are_400_bad_request_json() {
    let (app, _) = app();
    for body in [
        "{",                         // syntax
        "",                          // empty
        "[]",                        // wrong shape
        r#"{"to": 5}"#,              // wrong type
        r#"{}"#,                     // missing field
        r#"{"to": "1001", "x": 1}"#, // unknown field
        "\u{0}\u{ff}",               // garbage
    ] {
        let (status, reply) = post_json(&app, "/api/v1/calls", body).await;
        assert_error(status, &reply, StatusCode::BAD_REQUEST, "bad_request");
    }

    let missing = request(Method::POST, "/api/v1/calls")
        .body(Body::from(r#"{"to": "1001"}"#))
        .unwrap();
    let (status, reply) = send(&app, missing).await;
    assert_error(status, &reply, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        reply["message"].as_str().unwrap().contains("Content-Type"),
        "{reply}"
    );

    let wrong = request(Method::POST, "/api/v1/calls")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"to": "1001"}"#))
        .unwrap();
    let (status, reply) = send(&app, wrong).await;
    assert_error(status, &reply, StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn oversized_bodies_are_413_json() {
    let (app, _) = app();
    let huge = format!(r#"{{"to": "{}"}}"#, "1".repeat(70 * 1024));
    let (status, body) = post_json(&app, "/api/v1/calls", &huge).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[tokio::test]
async fn unknown_calls_are_404() {
    let (app, _) = app();
    let (status, body) = get(&app, "/api/v1/calls/c-nope").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "call_not_found");
    let (status, body) = post_json(&app, "/api/v1/calls/c-nope/hangup", "").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "call_not_found");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let (app, _) = app();
    let (status, body) = get(&app, "/api/v1/nope").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = get(&app, "/favicon.ico").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let delete = request(Method::DELETE, "/api/v1/calls")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(delete).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response
        .headers()
        .get(header::ALLOW)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["code"], "method_not_allowed");
    let allow = allow.unwrap_or_default();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow:?}"
    );

    let (status, body) = get(&app, "/api/v1/calls/c-ringing/answer").await;
    assert_error(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn history_takes_a_bounded_limit() {
    let (app, _) = app();
    let (status, body) = get(&app, "/api/v1/history").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["id"], "c-old");
    let (status, _) = get(&app, "/api/v1/history?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    for bad in ["0", "1001", "-1", "ten", "", "99999999999999999999", "1.5"] {
        let (status, body) = get(&app, &format!("/api/v1/history?limit={bad}")).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            body["message"].as_str().unwrap().contains("limit"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn accounts_are_listed() {
    let (app, _) = app();
    let (status, body) = get(&app, "/api/v1/accounts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["name"], "main");
    assert_eq!(body[0]["registered"], true);
}

#[tokio::test]
async fn a_stopped_console_is_503() {
    let (requests, inbox) = mpsc::channel(1);
    drop(inbox);
    let (events, _) = broadcast::channel(1);
    let app = router(ApiState::new(
        ConsoleHandle::new(requests, events),
        options(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    ));
    let (status, body) = get(&app, "/api/v1/calls").await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
}

#[tokio::test]
async fn the_index_page_needs_no_token_but_the_right_host() {
    let (app, _) = app();
    let page = Request::get("/")
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(page).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let foreign = Request::get("/")
        .header(header::HOST, "evil.example")
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(&app, foreign).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden_host");
}

#[tokio::test]
async fn events_without_upgrade_are_a_json_400() {
    let (app, _) = app();
    let (status, body) = get(&app, "/api/v1/events").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
}

/// Serves the API on a real loopback port; returns the address and a way to stop it.
async fn serve(
    capacity: usize,
) -> (
    std::net::SocketAddr,
    broadcast::Sender<Arc<Event>>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (handle, events) = fake_console(capacity);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = ApiState::new(handle, options(addr.ip()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(control_api::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (addr, events, stop, server)
}

async fn next_json<S>(ws: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<tungstenite::Message, tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the stream is open")
            .expect("a valid frame");
        match message {
            tungstenite::Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_websocket_streams_events_as_json() {
    let (addr, events, stop, server) = serve(16).await;
    let url = format!("ws://{addr}/api/v1/events?token={TOKEN}");
    let (mut ws, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);

    let call = new_call(
        "c-ws",
        Direction::Inbound,
        CallState::Ringing,
        "sip:erin@example.com",
    );
    events
        .send(Arc::new(event(
            EventBody::CallIncoming { call: call.clone() },
            &call,
        )))
        .unwrap();
    let frame = next_json(&mut ws).await;
    assert_eq!(frame["type"], "call.incoming");
    assert_eq!(frame["call_id"], "c-ws");
    assert_eq!(frame["call"]["remote_uri"], "sip:erin@example.com");
    assert!(frame["at"].is_string(), "{frame}");

    // Pings are answered.
    ws.send(tungstenite::Message::Ping(b"hi".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    assert!(
        matches!(&pong, Some(Ok(tungstenite::Message::Pong(p))) if &p[..] == b"hi"),
        "{pong:?}"
    );

    // The client closes; the server answers the close.
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_websocket_accepts_the_bearer_header_and_refuses_no_token() {
    let (addr, _events, stop, server) = serve(16).await;
    let url = format!("ws://{addr}/api/v1/events");

    let refused = tokio_tungstenite::connect_async(url.clone()).await;
    match refused {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED)
        }
        other => panic!("expected a 401, got {other:?}"),
    }

    use tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {TOKEN}").parse().unwrap(),
    );
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    drop(ws);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_lagging_client_is_told_and_the_stream_goes_on() {
    // Capacity 4: sending 10 events before the stream task runs makes it lag by 6. The test
    // runtime is single-threaded, so nothing runs between the sends.
    let (addr, events, stop, server) = serve(4).await;
    let url = format!("ws://{addr}/api/v1/events?token={TOKEN}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for i in 0..10 {
        let call = new_call(
            &format!("c-{i}"),
            Direction::Inbound,
            CallState::Ringing,
            "sip:x@example.com",
        );
        events
            .send(Arc::new(event(
                EventBody::CallIncoming { call: call.clone() },
                &call,
            )))
            .unwrap();
    }
    let lagged = next_json(&mut ws).await;
    assert_eq!(lagged, json!({"type": "events.lagged", "skipped": 6}));
    for i in 6..10 {
        let frame = next_json(&mut ws).await;
        assert_eq!(frame["call_id"], format!("c-{i}"));
    }

    // Server shutdown closes the stream with 1001 (going away).
    let _ = stop.send(());
    let close = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    match close {
        Some(Ok(tungstenite::Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 1001);
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    drop(ws);
    server.await.unwrap().unwrap();
}
