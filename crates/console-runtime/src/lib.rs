//! # console-runtime
//!
//! The one place with sockets, clocks and storage. [`start`] binds the SIP transports, opens the
//! call history and spawns the engine task that drives the sans-IO [`console_core::Console`]:
//! every received datagram, expired timer and command is fed in, then transmits and events are
//! drained before waiting again.

mod engine;
pub mod media;
mod net;
pub mod storage;
mod trace;
pub mod webhooks;

use console_core::{ConsoleConfig, ConsoleHandle};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

pub use engine::start;

/// A SIP transport to listen on, written `udp:127.0.0.1:5060` or `tcp:0.0.0.0:5060`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenSpec {
    /// UDP or TCP.
    pub transport: sip_proto::Transport,
    /// Address to bind.
    pub addr: SocketAddr,
}

impl FromStr for ListenSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (proto, addr) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: expected <udp|tcp>:<ip>:<port>"))?;
        let transport = match proto.to_ascii_lowercase().as_str() {
            "udp" => sip_proto::Transport::Udp,
            "tcp" => sip_proto::Transport::Tcp,
            other => return Err(format!("{s:?}: unknown transport {other:?} (udp or tcp)")),
        };
        let addr = addr
            .parse()
            .map_err(|e| format!("{s:?}: bad address {addr:?}: {e}"))?;
        Ok(Self { transport, addr })
    }
}

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Transports to bind.
    pub sip_listen: Vec<ListenSpec>,
    /// Where the call history lives.
    pub data_dir: PathBuf,
    /// The console's own settings.
    pub console: ConsoleConfig,
    /// Media settings (headless source, tone region, recordings).
    pub media: media::MediaSettings,
}

/// A started console. Drop it or call [`Running::shutdown`] to stop.
pub struct Running {
    /// Talk to the console through this.
    pub handle: ConsoleHandle,
    /// The addresses actually bound (port 0 resolved).
    pub bound: Vec<ListenSpec>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops cleanly: un-REGISTERs accounts, hangs up calls, flushes the history.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}
