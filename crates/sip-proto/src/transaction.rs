//! RFC 3261 §17 transactions, client and server, INVITE and non-INVITE, with the RFC 6026
//! "Accepted" states. The [`TransactionLayer`] matches messages to transactions (§17.1.3,
//! §17.2.3), retransmits over unreliable transports and reports what the transaction user (the
//! dialog and session layer above) must act on as [`TxEvent`]s.
//!
//! Driving rule: after every `receive_*`, `send_*`, `respond` or `handle_timeout` call, drain
//! [`TransactionLayer::poll_transmit`] and [`TransactionLayer::poll_event`], then wait until
//! [`TransactionLayer::poll_timeout`].

use crate::timer::{DeadlineQueue, Timer};
use crate::{Destination, TimerConfig, Transmit, Transport};
use sip_message::MessageExt;
use sip_message::rsip::{self, Header, Method, Request, Response, SipMessage};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Identifies a transaction: the top Via branch, the method (ACK maps to INVITE on the server
/// side) and, for server transactions, the Via sent-by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionKey {
    /// `true` for server transactions.
    pub server: bool,
    /// Top Via branch (plus `|sent-by` for server transactions).
    pub branch: String,
    /// CSeq method, upper case.
    pub method: String,
}

impl TransactionKey {
    /// The key of the client transaction a response belongs to (§17.1.3).
    pub fn for_response(response: &Response) -> Option<Self> {
        let (_, method) = response.cseq()?;
        Some(Self {
            server: false,
            branch: response.branch()?,
            method: method.to_string(),
        })
    }

    /// The key of the server transaction a request belongs to (§17.2.3). ACK matches the INVITE.
    pub fn for_request(request: &Request) -> Option<Self> {
        let via = request.top_via()?;
        let method = match request.method {
            Method::Ack => Method::Invite,
            m => m,
        };
        Some(Self {
            server: true,
            branch: format!("{}|{}", request.branch()?, via.uri),
            method: method.to_string(),
        })
    }

    /// The server INVITE transaction a CANCEL refers to (same branch and sent-by, §9.2).
    pub fn invite_for_cancel(&self) -> Self {
        Self {
            server: true,
            branch: self.branch.clone(),
            method: "INVITE".into(),
        }
    }
}

/// What the transaction user must act on.
#[derive(Debug, Clone, PartialEq)]
pub enum TxEvent {
    /// A response for a client transaction: provisional, final, or a retransmitted 2xx of an
    /// INVITE (the dialog answers it with ACK again).
    Response {
        /// The client transaction.
        key: TransactionKey,
        /// The response.
        response: Response,
    },
    /// A client transaction got no final response in time (Timer B or F), or a server INVITE
    /// transaction never got the ACK for its 3xx–6xx (Timer H).
    Timeout {
        /// The transaction.
        key: TransactionKey,
    },
}

/// How the layer disposed of a received request.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestDisposition {
    /// A new request: the TU must create a server transaction with
    /// [`TransactionLayer::create_server`] and respond.
    New(TransactionKey),
    /// A retransmission or an ACK for a 3xx–6xx; absorbed by the layer.
    Absorbed,
    /// An ACK that matches no transaction: the ACK for a 2xx, for the dialog layer.
    AckForDialog,
}

/// Misuse of the transaction layer by its user (never caused by the network).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// No such transaction (it ended or never existed).
    #[error("no such transaction")]
    NoTransaction,
    /// The transaction already sent its final response.
    #[error("the transaction already has a final response")]
    AlreadyFinal,
}

/// All live transactions of one endpoint.
#[derive(Debug)]
pub struct TransactionLayer {
    timers: TimerConfig,
    clients: HashMap<TransactionKey, ClientTx>,
    servers: HashMap<TransactionKey, ServerTx>,
    deadlines: DeadlineQueue<(TransactionKey, Timer)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
}

impl TransactionLayer {
    /// A layer with the given timer values.
    pub fn new(timers: TimerConfig) -> Self {
        Self {
            timers,
            clients: HashMap::new(),
            servers: HashMap::new(),
            deadlines: DeadlineQueue::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Starts a client transaction for `request` (any method but ACK) and sends it. Returns its
    /// key; responses arrive as [`TxEvent::Response`].
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
    ) -> Option<TransactionKey> {
        let key = TransactionKey {
            server: false,
            branch: request.branch()?,
            method: request.method.to_string(),
        };
        let invite = request.method == Method::Invite;
        let reliable = destination.transport != Transport::Udp;
        let t1 = self.timers.t1;
        let mut tx = ClientTx {
            invite,
            state: ClientState::Calling,
            request,
            destination,
            interval: t1,
            retransmit_at: None,
            timeout_at: now + t1 * 64,
            linger_until: None,
        };
        if !reliable {
            tx.retransmit_at = Some(now + t1);
            self.deadlines.push(
                now + t1,
                (key.clone(), if invite { Timer::A } else { Timer::E }),
            );
        }
        self.deadlines.push(
            tx.timeout_at,
            (key.clone(), if invite { Timer::B } else { Timer::F }),
        );
        self.transmits.push_back(Transmit {
            transport: destination.transport,
            destination: destination.addr,
            message: SipMessage::Request(tx.request.clone()),
        });
        self.clients.insert(key.clone(), tx);
        Some(key)
    }

    /// Sends a message outside any transaction (the ACK for a 2xx, or a stateless response).
    pub fn send_stateless(&mut self, message: SipMessage, destination: Destination) {
        self.transmits.push_back(Transmit {
            transport: destination.transport,
            destination: destination.addr,
            message,
        });
    }

    /// Feeds a response received from the network. Responses matching no transaction are
    /// dropped (§18.1.2) and reported as `false`.
    pub fn receive_response(&mut self, now: Instant, response: Response) -> bool {
        let Some(key) = TransactionKey::for_response(&response) else {
            return false;
        };
        let Some(tx) = self.clients.get_mut(&key) else {
            return false;
        };
        let code = response.status_code.code();
        let reliable = tx.destination.transport != Transport::Udp;
        match (tx.invite, tx.state, code) {
            (_, ClientState::Calling | ClientState::Proceeding, 100..=199) => {
                tx.state = ClientState::Proceeding;
                if tx.invite {
                    // §17.1.1.2: a provisional response stops retransmission of INVITE.
                    tx.retransmit_at = None;
                } else if !reliable {
                    tx.interval = self.timers.t2;
                }
                self.events.push_back(TxEvent::Response { key, response });
            }
            (true, ClientState::Calling | ClientState::Proceeding, 200..=299) => {
                tx.state = ClientState::Accepted;
                tx.retransmit_at = None;
                let until = now + self.timers.t1 * 64;
                tx.linger_until = Some(until);
                self.deadlines.push(until, (key.clone(), Timer::M));
                self.events.push_back(TxEvent::Response { key, response });
            }
            (true, ClientState::Accepted, 200..=299) => {
                self.events.push_back(TxEvent::Response { key, response });
            }
            (true, ClientState::Calling | ClientState::Proceeding, _) => {
                tx.state = ClientState::Completed;
                tx.retransmit_at = None;
                let ack = ack_for_non_2xx(&tx.request, &response);
                self.transmits.push_back(Transmit {
                    transport: tx.destination.transport,
                    destination: tx.destination.addr,
                    message: SipMessage::Request(ack),
                });
                let linger = if reliable {
                    Duration::ZERO
                } else {
                    Duration::from_secs(32)
                };
                tx.linger_until = Some(now + linger);
                self.deadlines.push(now + linger, (key.clone(), Timer::D));
                self.events.push_back(TxEvent::Response { key, response });
            }
            (true, ClientState::Completed, 300..) => {
                // Retransmitted final response: ACK again, do not tell the TU.
                let ack = ack_for_non_2xx(&tx.request, &response);
                self.transmits.push_back(Transmit {
                    transport: tx.destination.transport,
                    destination: tx.destination.addr,
                    message: SipMessage::Request(ack),
                });
            }
            (false, ClientState::Calling | ClientState::Proceeding, 200..) => {
                tx.state = ClientState::Completed;
                tx.retransmit_at = None;
                let linger = if reliable {
                    Duration::ZERO
                } else {
                    self.timers.t4
                };
                tx.linger_until = Some(now + linger);
                self.deadlines.push(now + linger, (key.clone(), Timer::K));
                self.events.push_back(TxEvent::Response { key, response });
            }
            _ => return false,
        }
        true
    }

    /// Feeds a request received from the network from `source`.
    pub fn receive_request(
        &mut self,
        now: Instant,
        request: &Request,
        source: Destination,
    ) -> Option<RequestDisposition> {
        let key = TransactionKey::for_request(request)?;
        if request.method == Method::Ack {
            return Some(match self.servers.get_mut(&key) {
                Some(tx) if tx.invite && tx.state == ServerState::Completed => {
                    // §17.2.1: ACK for our 3xx–6xx.
                    tx.state = ServerState::Confirmed;
                    tx.retransmit_at = None;
                    let linger = if source.transport == Transport::Udp {
                        self.timers.t4
                    } else {
                        Duration::ZERO
                    };
                    tx.linger_until = Some(now + linger);
                    self.deadlines.push(now + linger, (key, Timer::I));
                    RequestDisposition::Absorbed
                }
                Some(tx) if tx.invite && tx.state == ServerState::Confirmed => {
                    RequestDisposition::Absorbed
                }
                _ => RequestDisposition::AckForDialog,
            });
        }
        if let Some(tx) = self.servers.get_mut(&key) {
            // A retransmission: resend the last response, if any (§17.2.1, §17.2.2).
            if let Some(last) = &tx.last_response
                && matches!(
                    tx.state,
                    ServerState::Proceeding | ServerState::Completed | ServerState::Accepted
                )
                && !(tx.invite && tx.state == ServerState::Accepted)
            {
                self.transmits.push_back(Transmit {
                    transport: tx.source.transport,
                    destination: tx.source.addr,
                    message: SipMessage::Response(last.clone()),
                });
            }
            return Some(RequestDisposition::Absorbed);
        }
        Some(RequestDisposition::New(key))
    }

    /// Creates the server transaction for a request that [`TransactionLayer::receive_request`]
    /// reported as new. An INVITE transaction starts in Proceeding; send a 100 with
    /// [`TransactionLayer::respond`] if the answer may take a while.
    pub fn create_server(&mut self, key: TransactionKey, request: &Request, source: Destination) {
        let invite = request.method == Method::Invite;
        self.servers.insert(
            key,
            ServerTx {
                invite,
                state: if invite {
                    ServerState::Proceeding
                } else {
                    ServerState::Trying
                },
                source,
                last_response: None,
                interval: self.timers.t1,
                retransmit_at: None,
                timeout_at: None,
                linger_until: None,
            },
        );
    }

    /// Sends `response` within the server transaction `key`.
    pub fn respond(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        response: Response,
    ) -> Result<(), TxError> {
        let tx = self.servers.get_mut(key).ok_or(TxError::NoTransaction)?;
        if !matches!(tx.state, ServerState::Trying | ServerState::Proceeding) {
            return Err(TxError::AlreadyFinal);
        }
        let code = response.status_code.code();
        let reliable = tx.source.transport != Transport::Udp;
        let t1 = self.timers.t1;
        match (tx.invite, code) {
            (_, 100..=199) => tx.state = ServerState::Proceeding,
            (true, 200..=299) => {
                // RFC 6026: 2xx retransmission belongs to the TU; absorb INVITE retransmits.
                tx.state = ServerState::Accepted;
                tx.linger_until = Some(now + t1 * 64);
                self.deadlines.push(now + t1 * 64, (key.clone(), Timer::L));
            }
            (true, _) => {
                tx.state = ServerState::Completed;
                if !reliable {
                    tx.retransmit_at = Some(now + t1);
                    self.deadlines.push(now + t1, (key.clone(), Timer::G));
                }
                tx.timeout_at = Some(now + t1 * 64);
                self.deadlines.push(now + t1 * 64, (key.clone(), Timer::H));
            }
            (false, _) => {
                tx.state = ServerState::Completed;
                let linger = if reliable { Duration::ZERO } else { t1 * 64 };
                tx.linger_until = Some(now + linger);
                self.deadlines.push(now + linger, (key.clone(), Timer::J));
            }
        }
        self.transmits.push_back(Transmit {
            transport: tx.source.transport,
            destination: tx.source.addr,
            message: SipMessage::Response(response.clone()),
        });
        tx.last_response = Some(response);
        Ok(())
    }

    /// The request that started client transaction `key`, while it lives.
    pub fn client_request(&self, key: &TransactionKey) -> Option<&Request> {
        self.clients.get(key).map(|tx| &tx.request)
    }

    /// True while the server transaction `key` has not sent a final response.
    pub fn server_pending(&self, key: &TransactionKey) -> bool {
        self.servers
            .get(key)
            .is_some_and(|tx| matches!(tx.state, ServerState::Trying | ServerState::Proceeding))
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((key, timer)) = self.deadlines.pop_due(now) {
            self.fire(now, key, timer);
        }
        if self.deadlines.len() > 4 * (self.clients.len() + self.servers.len()) + 1024 {
            let (clients, servers) = (&self.clients, &self.servers);
            self.deadlines
                .retain(|(k, _)| clients.contains_key(k) || servers.contains_key(k));
        }
    }

    /// The earliest deadline at which [`TransactionLayer::handle_timeout`] must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.peek()
    }

    /// Next message to put on the wire.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event for the transaction user.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// Number of live transactions (client, server).
    pub fn len(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len())
    }

    fn fire(&mut self, now: Instant, key: TransactionKey, timer: Timer) {
        let t2 = self.timers.t2;
        if key.server {
            let Some(tx) = self.servers.get_mut(&key) else {
                return;
            };
            match timer {
                Timer::G
                    if tx.state == ServerState::Completed
                        && tx.retransmit_at.is_some_and(|at| at <= now) =>
                {
                    if let Some(last) = &tx.last_response {
                        self.transmits.push_back(Transmit {
                            transport: tx.source.transport,
                            destination: tx.source.addr,
                            message: SipMessage::Response(last.clone()),
                        });
                    }
                    tx.interval = (tx.interval * 2).min(t2);
                    let next = now + tx.interval;
                    tx.retransmit_at = Some(next);
                    self.deadlines.push(next, (key, Timer::G));
                }
                Timer::H if tx.state == ServerState::Completed => {
                    self.servers.remove(&key);
                    self.events.push_back(TxEvent::Timeout { key });
                }
                Timer::I | Timer::J | Timer::L if tx.linger_until.is_some_and(|at| at <= now) => {
                    self.servers.remove(&key);
                }
                _ => {}
            }
        } else {
            let Some(tx) = self.clients.get_mut(&key) else {
                return;
            };
            match timer {
                Timer::A | Timer::E
                    if tx.retransmit_at.is_some_and(|at| at <= now)
                        && matches!(tx.state, ClientState::Calling | ClientState::Proceeding) =>
                {
                    self.transmits.push_back(Transmit {
                        transport: tx.destination.transport,
                        destination: tx.destination.addr,
                        message: SipMessage::Request(tx.request.clone()),
                    });
                    tx.interval = if tx.invite {
                        tx.interval * 2
                    } else if tx.state == ClientState::Proceeding {
                        t2
                    } else {
                        (tx.interval * 2).min(t2)
                    };
                    let next = now + tx.interval;
                    tx.retransmit_at = Some(next);
                    self.deadlines.push(next, (key, timer));
                }
                Timer::B | Timer::F
                    if matches!(tx.state, ClientState::Calling | ClientState::Proceeding)
                        && tx.timeout_at <= now =>
                {
                    self.clients.remove(&key);
                    self.events.push_back(TxEvent::Timeout { key });
                }
                Timer::D | Timer::K | Timer::M if tx.linger_until.is_some_and(|at| at <= now) => {
                    self.clients.remove(&key);
                }
                _ => {}
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Calling,
    Proceeding,
    Accepted,
    Completed,
}

#[derive(Debug)]
struct ClientTx {
    invite: bool,
    state: ClientState,
    request: Request,
    destination: Destination,
    interval: Duration,
    retransmit_at: Option<Instant>,
    timeout_at: Instant,
    linger_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    Trying,
    Proceeding,
    Accepted,
    Completed,
    Confirmed,
}

#[derive(Debug)]
struct ServerTx {
    invite: bool,
    state: ServerState,
    source: Destination,
    last_response: Option<Response>,
    interval: Duration,
    retransmit_at: Option<Instant>,
    timeout_at: Option<Instant>,
    linger_until: Option<Instant>,
}

/// The ACK for a 3xx–6xx response, built by the transaction (§17.1.1.3).
fn ack_for_non_2xx(invite: &Request, response: &Response) -> Request {
    let mut headers = rsip::Headers::default();
    let mut via_done = false;
    for h in invite.headers.iter() {
        match h {
            Header::Via(_) if !via_done => {
                headers.push(h.clone());
                via_done = true;
            }
            Header::From(_) | Header::CallId(_) | Header::Route(_) | Header::MaxForwards(_) => {
                headers.push(h.clone());
            }
            _ => {}
        }
    }
    if let Some(Header::To(to)) = response.headers.iter().find(|h| matches!(h, Header::To(_))) {
        headers.push(Header::To(to.clone()));
    }
    let seq = invite.cseq().map_or(1, |(n, _)| n);
    headers.push(Header::CSeq(rsip::headers::CSeq::from(format!(
        "{seq} ACK"
    ))));
    headers.push(Header::ContentLength(rsip::headers::ContentLength::from(
        0u32,
    )));
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}
