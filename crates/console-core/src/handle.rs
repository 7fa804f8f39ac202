//! A cloneable, async handle to a running console: the one thing transports (HTTP, Tauri) hold.

use crate::command::{Command, Reply};
use crate::error::ConsoleError;
use crate::event::Event;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// A command with the channel its reply goes back on.
#[derive(Debug)]
pub struct Request {
    /// What is asked.
    pub command: Command,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Reply, ConsoleError>>,
}

/// Sends commands to the console's engine task and subscribes to its events.
#[derive(Debug, Clone)]
pub struct ConsoleHandle {
    requests: mpsc::Sender<Request>,
    events: broadcast::Sender<Arc<Event>>,
}

impl ConsoleHandle {
    /// Wraps the engine's request queue and event broadcaster. The runtime calls this; tests may
    /// build one over a fake engine.
    ///
    /// Events are shared (`Arc`): the channel keeps a pointer per slot, not an event, and each
    /// subscriber's `recv` clones a pointer rather than the call snapshot.
    pub fn new(requests: mpsc::Sender<Request>, events: broadcast::Sender<Arc<Event>>) -> Self {
        Self { requests, events }
    }

    /// Runs one command and waits for its reply.
    pub async fn execute(&self, command: Command) -> Result<Reply, ConsoleError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request { command, reply: tx })
            .await
            .map_err(|_| ConsoleError::Unavailable)?;
        rx.await.map_err(|_| ConsoleError::Unavailable)?
    }

    /// Events from now on. A slow subscriber that falls more than the channel's capacity behind
    /// gets `RecvError::Lagged` and should re-read the call list.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }
}
