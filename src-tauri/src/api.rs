//! The optional HTTP + WebSocket API (`--api-listen`): the headless server's routes, on the
//! desktop app's console, so a supervisor's browser can watch it.

use anyhow::{Context as _, bail};
use console_core::ConsoleHandle;
use control_api::{ApiOptions, ApiState};
use std::net::SocketAddr;
use std::path::Path;
use tokio::sync::oneshot;

/// A running API server.
pub(crate) struct ApiServer {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tauri::async_runtime::JoinHandle<std::io::Result<()>>,
}

impl ApiServer {
    /// Stops accepting, finishes in-flight requests, closes event streams.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the API server failed"),
            Err(e) => tracing::warn!(error = %e, "the API server task failed"),
        }
    }
}

/// The API's listener, bound, with its token; [`ApiListener::serve`] starts answering.
pub(crate) struct ApiListener {
    listener: tokio::net::TcpListener,
    token: String,
}

/// Binds `addr` for the API with `token` (or the one in `<data_dir>/api-token`, generated on
/// first use, as `switchboard serve` does).
pub(crate) async fn bind(
    addr: SocketAddr,
    token: Option<String>,
    data_dir: &Path,
) -> anyhow::Result<ApiListener> {
    let token = match token {
        Some(token) if token.trim().is_empty() => bail!("--api-token is empty"),
        Some(token) => token.trim().to_owned(),
        None => {
            std::fs::create_dir_all(data_dir).with_context(|| {
                format!("cannot create the data directory {}", data_dir.display())
            })?;
            control_api::token::from_data_dir(data_dir, "switchboard-desktop")?
        }
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for the API on {addr}"))?;
    Ok(ApiListener { listener, token })
}

impl ApiListener {
    /// Serves the HTTP + WebSocket API on the console behind `handle`, on Tauri's runtime.
    pub(crate) fn serve(self, handle: ConsoleHandle, extra_hosts: Vec<String>) -> ApiServer {
        // A bound listener always has an address; fall back to "unspecified" (accept any IP
        // literal in Host) rather than fail if the OS says otherwise.
        let addr = self
            .listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let state = ApiState::new(
            handle,
            ApiOptions {
                token: self.token,
                bound_ip: addr.ip(),
                extra_hosts,
            },
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task =
            tauri::async_runtime::spawn(control_api::serve(self.listener, state, async move {
                let _ = stopped.await;
            }));
        ApiServer { addr, stop, task }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use console_core::ConsoleConfig;
    use console_runtime::RuntimeConfig;

    #[tokio::test]
    async fn the_api_serves_the_same_console_with_a_generated_private_token() {
        let dir = tempfile::tempdir().unwrap();
        let running = console_runtime::start(RuntimeConfig {
            sip_listen: vec!["udp:127.0.0.1:0".parse().unwrap()],
            data_dir: dir.path().to_path_buf(),
            console: ConsoleConfig::default(),
            media: Default::default(),
        })
        .await
        .unwrap();
        let server = bind("127.0.0.1:0".parse().unwrap(), None, dir.path())
            .await
            .unwrap()
            .serve(running.handle.clone(), vec![]);
        // The token file itself (generated once, mode 0600) is control_api::token's test.
        let token = std::fs::read_to_string(dir.path().join("api-token")).unwrap();

        // A raw HTTP/1.1 request: enough to prove the routes answer with our console.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let request = format!(
            "GET /api/v1/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            token.trim()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.trim_end().ends_with("[]"), "{reply}");

        assert!(
            bind(
                "127.0.0.1:0".parse().unwrap(),
                Some("  ".into()),
                dir.path()
            )
            .await
            .is_err()
        );
        // A taken port is refused before anything is served.
        assert!(
            bind(server.addr, Some("t".into()), dir.path())
                .await
                .is_err()
        );
        server.stop().await;
        running.shutdown().await;
    }
}
