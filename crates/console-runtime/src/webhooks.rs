//! Webhooks: transfer events POSTed as JSON to configured URLs, signed with HMAC-SHA256,
//! delivered in order per URL and retried with backoff.
//!
//! Each request carries `Content-Type: application/json`, `X-Switchboard-Event: <type>`,
//! `X-Switchboard-Delivery: <id>` (the same on every retry) and, with a secret,
//! `X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. A 2xx answer is a
//! delivery; anything else (or no answer within 5 s) is retried after 0.5, 1, 2 and 4 s.

use console_core::{Event, WebhookConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc};

/// Attempts per event and URL.
const ATTEMPTS: u32 = 5;
/// Time allowed for one attempt (connect, send, status line).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Events queued per URL before the oldest are dropped (a dead receiver must not eat memory).
const QUEUE: usize = 1024;

/// Starts one delivery task per URL, fed from the console's event stream.
pub(crate) fn spawn(hooks: &[WebhookConfig], mut events: broadcast::Receiver<Arc<Event>>) {
    if hooks.is_empty() {
        return;
    }
    let mut queues = Vec::new();
    for hook in hooks {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(deliver_loop(hook.clone(), rx));
        queues.push(tx);
    }
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "webhooks fell behind; events dropped");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let kind = event.body.kind();
            if !kind.starts_with("transfer.") {
                continue;
            }
            let Ok(body) = serde_json::to_vec(&*event) else {
                continue;
            };
            let delivery = format!("d-{:016x}", rand::random::<u64>());
            for queue in &queues {
                if queue
                    .try_send((kind, delivery.clone(), body.clone()))
                    .is_err()
                {
                    tracing::warn!(event = kind, "webhook queue full; event dropped");
                }
            }
        }
    });
}

async fn deliver_loop(
    hook: WebhookConfig,
    mut rx: mpsc::Receiver<(&'static str, String, Vec<u8>)>,
) {
    while let Some((kind, delivery, body)) = rx.recv().await {
        let signature = hook.secret.as_deref().map(|secret| sign(secret, &body));
        let mut backoff = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let result = tokio::time::timeout(
                ATTEMPT_TIMEOUT,
                post(&hook.url, kind, &delivery, signature.as_deref(), &body),
            )
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
            match result {
                Ok(status) if (200..300).contains(&status) => {
                    tracing::debug!(url = %hook.url, event = kind, attempt, "webhook delivered");
                    break;
                }
                outcome => {
                    let why = match outcome {
                        Ok(status) => format!("HTTP {status}"),
                        Err(e) => e,
                    };
                    if attempt == ATTEMPTS {
                        tracing::warn!(url = %hook.url, event = kind, %why, "webhook undeliverable; giving up");
                    } else {
                        tracing::info!(url = %hook.url, event = kind, %why, attempt, "webhook failed; retrying");
                        // Backoff between retries of a delivery, not test synchronisation.
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                }
            }
        }
    }
}

/// `sha256=<hex>` of the body keyed with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC accepts keys of any length; this branch cannot be taken.
        return String::new();
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::from("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// One HTTP/1.1 POST; returns the status code.
async fn post(
    url: &str,
    kind: &str,
    delivery: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<u16, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("HTTP://"))
        .ok_or("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let target = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut stream = TcpStream::connect(&target)
        .await
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nUser-Agent: Switchboard/{}\r\nX-Switchboard-Event: {kind}\r\nX-Switchboard-Delivery: {delivery}\r\nConnection: close\r\n",
        body.len(),
        env!("CARGO_PKG_VERSION"),
    );
    if let Some(signature) = signature {
        head.push_str(&format!("X-Switchboard-Signature: {signature}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.write_all(body).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1024];
    let mut read = 0;
    while !buf[..read].contains(&b'\n') && read < buf.len() {
        let n = stream
            .read(&mut buf[read..])
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let line = String::from_utf8_lossy(&buf[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            format!(
                "not an HTTP response: {:?}",
                line.lines().next().unwrap_or("")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
