//! # sip-proto
//!
//! Sans-IO SIP state machines.

use std::time::Duration;

/// A SIP transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, retransmissions by the transaction layer.
    Udp,
    /// TCP: reliable stream framed by Content-Length.
    Tcp,
}

/// RFC 3261 timer base values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// Maximum duration a message remains in the network (default 5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

pub mod auth;
pub mod dialog;
pub mod registration;
pub mod timer;
pub mod transaction;
pub mod ua;

pub use dialog::DialogId;
pub use timer::Timer;
pub use transaction::{TransactionKey, TransactionLayer, TxEvent};
pub use ua::{
    InviteParams, RegistrationParams, SessionId, TerminationReason, UaConfig, UaError, UaEvent,
    UserAgent,
};

use sip_message::rsip::SipMessage;
use std::net::SocketAddr;

/// Where a message goes (or came from): transport and socket address. For TCP the runtime keeps
/// one connection per remote address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Destination {
    /// UDP or TCP.
    pub transport: Transport,
    /// Remote address.
    pub addr: SocketAddr,
}

/// A message to put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Transmit {
    /// UDP or TCP.
    pub transport: Transport,
    /// Remote address.
    pub destination: SocketAddr,
    /// The message; serialise with `sip_message::to_bytes`.
    pub message: SipMessage,
}

impl Transport {
    /// The token used in Via headers (`UDP`, `TCP`).
    pub fn via_token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }
}
