//! # console-core
//!
//! Call control for Switchboard. It owns the calls and their state and is the only model both
//! the desktop app and the HTTP API use: [`Command`]s go in, [`Event`]s come out, failures are
//! [`ConsoleError`]s that carry their own stable code and HTTP status.
//!
//! [`Console`] is sans-IO like the SIP layer below it: the runtime feeds it received datagrams,
//! timeouts and commands, and drains transmits and events after every input.

pub mod anchored;
pub mod attended;
pub mod audio;
pub mod command;
pub mod console;
pub mod error;
pub mod event;
pub mod handle;
pub mod hold;
pub mod media;
pub mod model;
pub mod target;
pub mod transfer;

pub use audio::{AudioDevice, AudioRole, AudioStatus};
pub use command::{Command, Reply, TransferRequest};
pub use console::{AccountConfig, Console, ConsoleConfig, WebhookConfig};
pub use error::{ConsoleError, ErrorBody};
pub use event::{Event, EventBody};
pub use handle::{ConsoleHandle, Request};
pub use media::{MediaCommand, MediaEvent};
pub use model::{
    AccountStatus, Call, CallId, CallQuality, CallState, Contact, Direction, EndReason, HoldSide,
    SipLadder, SipTraceEntry, TraceDirection, Transfer, TransferId, TransferMode, TransferState,
};
