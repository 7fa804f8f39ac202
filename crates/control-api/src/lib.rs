//! # control-api
//!
//! Switchboard's HTTP + WebSocket API over the same [`Command`](console_core::Command) /
//! [`Event`](console_core::Event) model the desktop app uses: every route runs one command on
//! the [`ConsoleHandle`] and answers with its reply as JSON, and `/api/v1/events` streams the
//! console's events. Failures are `{"code", "message"}` with the status
//! [`ConsoleError::http_status`](console_core::ConsoleError::http_status) gives.
//!
//! | Route | Command | Success |
//! |---|---|---|
//! | `GET /api/v1/health` | — | 200 `{"status":"ok","version":...}` |
//! | `GET /api/v1/calls` | `ListCalls` | 200 `[Call]` |
//! | `GET /api/v1/calls/{id}` | `GetCall` | 200 `Call` |
//! | `POST /api/v1/calls` `{"to": "..."}` | `Dial` | 201 `Call` |
//! | `POST /api/v1/calls/{id}/answer`, `/reject`, `/hangup` | `Answer`, `Reject`, `Hangup` | 200 `Call` |
//! | `GET /api/v1/history?limit=N` | `History` (N in 1..=1000, default 50) | 200 `[Call]` |
//! | `GET /api/v1/accounts` | `ListAccounts` | 200 `[AccountStatus]` |
//! | `GET /api/v1/events` | WebSocket: one JSON text frame per event | 101 |
//!
//! Every `/api/` request needs `Authorization: Bearer <token>`; the WebSocket also takes
//! `?token=` because browsers cannot set headers on it. Every request, API or not, must carry a
//! `Host` the server knows (loopback names, the bound address, configured names): a page on a
//! foreign domain that DNS-rebinds to this server gets 403 before anything else happens.

pub mod config;
mod error;
mod events;
mod guard;
pub mod logging;
mod routes;
pub mod signal;
pub mod token;
pub mod ui;

use console_core::ConsoleHandle;
use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;

/// The largest request body accepted (64 KiB); larger ones get 413 `payload_too_large`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Options for [`ApiState::new`].
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// The bearer token every API request must present. An empty token matches nothing, so an
    /// API started without one refuses every request.
    pub token: String,
    /// The IP address the API listener is bound to; `Host: <it>` is accepted. When it is the
    /// unspecified address (`0.0.0.0`, `::`), every IP-literal `Host` is accepted: the server
    /// answers on all addresses, and an IP literal cannot be a rebinding attack (the browser's
    /// origin is then that address itself).
    pub bound_ip: IpAddr,
    /// Further host names (or IPs) to accept in `Host`, e.g. the machine's DNS name when the
    /// API is served beyond loopback.
    pub extra_hosts: Vec<String>,
}

/// What the API's handlers share: the console, the token, the accepted `Host` names. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    handle: ConsoleHandle,
    token: String,
    hosts: AllowedHosts,
    /// Set to true to close every event stream (server shutdown). Each stream holds a receiver,
    /// so the sender also tells when all streams are gone.
    closing: watch::Sender<bool>,
    /// The web UI served at `/`; unset means none (the "how to build it" page).
    ui: OnceLock<ui::UiFiles>,
    /// The mode of a transfer request that names none; unset means cold.
    default_transfer_mode: OnceLock<console_core::TransferMode>,
}

impl ApiState {
    /// The state for [`router`]: commands go to `handle`.
    pub fn new(handle: ConsoleHandle, options: ApiOptions) -> Self {
        let hosts = AllowedHosts::new(options.bound_ip, &options.extra_hosts);
        Self {
            inner: Arc::new(Inner {
                handle,
                token: options.token,
                hosts,
                closing: watch::Sender::new(false),
                ui: OnceLock::new(),
                default_transfer_mode: OnceLock::new(),
            }),
        }
    }

    /// Sends every open `/events` WebSocket a close frame (1001, going away) and ends it. Call
    /// on shutdown; [`serve`] does.
    pub fn close_event_streams(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Serves the web UI from `ui` at `/` (see [`ui`]). Call once, before [`router`]; later
    /// calls are ignored.
    #[must_use]
    pub fn with_ui(self, ui: ui::UiFiles) -> Self {
        let _ = self.inner.ui.set(ui);
        self
    }

    /// The mode of `POST /calls/{id}/transfer` requests that give no `mode` (the config's
    /// `[transfer] default_mode`). Call once, before [`router`]; later calls are ignored.
    #[must_use]
    pub fn with_default_transfer_mode(self, mode: console_core::TransferMode) -> Self {
        let _ = self.inner.default_transfer_mode.set(mode);
        self
    }

    fn default_transfer_mode(&self) -> console_core::TransferMode {
        self.inner
            .default_transfer_mode
            .get()
            .copied()
            .unwrap_or(console_core::TransferMode::Cold)
    }

    fn ui(&self) -> &ui::UiFiles {
        static NONE: OnceLock<ui::UiFiles> = OnceLock::new();
        self.inner
            .ui
            .get()
            .unwrap_or_else(|| NONE.get_or_init(ui::UiFiles::none))
    }

    fn handle(&self) -> &ConsoleHandle {
        &self.inner.handle
    }
}

/// The whole HTTP surface: `/api/v1/...`, the web UI at `/` (see [`ApiState::with_ui`]),
/// JSON 404/405 for everything else, behind the `Host` check and bearer auth.
pub fn router(state: ApiState) -> axum::Router {
    routes::build(state.clone()).fallback_service(ui::fallback(state))
}

/// Serves [`router`] on `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish, closes the event streams and waits (up to 2 s) for them to say
/// goodbye.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let closer = state.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Upgraded connections are not tracked by the graceful shutdown; close them here.
            closer.close_event_streams();
        })
        .await?;
    let _ = tokio::time::timeout(Duration::from_secs(2), state.inner.closing.closed()).await;
    Ok(())
}

/// The `Host` values the server answers to.
#[derive(Debug)]
struct AllowedHosts {
    names: HashSet<String>,
    ips: HashSet<IpAddr>,
    any_ip: bool,
}

impl AllowedHosts {
    fn new(bound_ip: IpAddr, extra: &[String]) -> Self {
        let mut names = HashSet::from(["localhost".to_owned()]);
        let mut ips = HashSet::from([
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            bound_ip,
        ]);
        for host in extra {
            let host = normalise_host(host);
            match host.parse::<IpAddr>() {
                Ok(ip) => {
                    ips.insert(ip);
                }
                Err(_) if !host.is_empty() => {
                    names.insert(host);
                }
                Err(_) => {}
            }
        }
        Self {
            names,
            ips,
            any_ip: bound_ip.is_unspecified(),
        }
    }

    /// Whether a `Host` header value (`name`, `name:port`, `1.2.3.4:port`, `[::1]:port`) is ours.
    fn allows(&self, header: &str) -> bool {
        let Some(host) = strip_port(header.trim()) else {
            return false;
        };
        let host = normalise_host(host);
        match host.parse::<IpAddr>() {
            Ok(ip) => self.any_ip || self.ips.contains(&ip),
            Err(_) => self.names.contains(&host),
        }
    }
}

/// The host part of a `Host` header, without the port and IPv6 brackets; `None` if malformed.
fn strip_port(header: &str) -> Option<&str> {
    if let Some(rest) = header.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        return (after.is_empty() || is_port(after.strip_prefix(':')?)).then_some(ip);
    }
    match header.split_once(':') {
        None => Some(header),
        Some((host, port)) if is_port(port) => Some(host),
        Some(_) => None,
    }
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Lower case, without brackets or the trailing dot of a fully qualified name.
fn normalise_host(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_check_accepts_loopback_and_bound_names_only() {
        let hosts = AllowedHosts::new(
            "192.0.2.7"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            &["Desk.Example.com".into(), "10.1.2.3".into()],
        );
        for ok in [
            "localhost",
            "LOCALHOST:7070",
            "localhost.:80",
            "127.0.0.1",
            "127.0.0.1:7070",
            "[::1]",
            "[::1]:7070",
            "[0:0:0:0:0:0:0:1]:1",
            "192.0.2.7:7070",
            "desk.example.com:7070",
            "10.1.2.3",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:7070",
            "localhost.evil.example",
            "127.0.0.2",
            "::1",
            "[::1",
            "[::1]x",
            "localhost:http",
            "localhost:7070:1",
            "192.0.2.8",
        ] {
            assert!(!hosts.allows(bad), "{bad}");
        }
    }

    #[test]
    fn an_unspecified_bind_accepts_any_ip_literal_but_not_names() {
        let hosts = AllowedHosts::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), &[]);
        assert!(hosts.allows("192.0.2.55:7070"));
        assert!(hosts.allows("[2001:db8::1]:7070"));
        assert!(!hosts.allows("attacker.example:7070"));
    }
}
