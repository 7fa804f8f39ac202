//! The user agent: transactions, dialogs, INVITE sessions and registrations of one endpoint,
//! still without I/O.
//!
//! Drive it like str0m: feed [`UserAgent::handle_datagram`] for every message received (a UDP
//! datagram or one framed TCP message) and [`UserAgent::handle_timeout`] when the deadline from
//! [`UserAgent::poll_timeout`] passes; after every input or command, drain
//! [`UserAgent::poll_transmit`] and [`UserAgent::poll_event`] until both return `None`.

use crate::auth::{Challenge, Credentials, DigestClient};
use crate::dialog::{Dialog, DialogId};
use crate::registration::{Registration, RegistrationId, RegistrationState};
use crate::timer::DeadlineQueue;
use crate::transaction::{RequestDisposition, TransactionKey, TransactionLayer, TxEvent};
use crate::{Destination, TimerConfig, Transmit, Transport};
use sip_message::rsip::headers::UntypedHeader;
use sip_message::rsip::{self, Header, Method, Request, Response, SipMessage};
use sip_message::{MessageExt, ParseError};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Methods we accept, for `Allow`.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, MESSAGE, UPDATE";
/// Extensions we support, for `Supported`.
pub const SUPPORTED: &str = "replaces, norefersub";
/// Bodies we accept, for `Accept`.
pub const ACCEPT: &str = "application/sdp, message/sipfrag, application/dtmf-relay";

/// Identifies one INVITE session (a call leg) within the user agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// Static settings of a user agent.
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// Timer base values.
    pub timers: TimerConfig,
    /// `User-Agent` / `Server` header value.
    pub user_agent: String,
    /// The address we advertise in Via and Contact, per transport (the address actually bound,
    /// with an unspecified IP replaced by a routable one by the runtime).
    pub local: Vec<(Transport, SocketAddr)>,
    /// Host names the runtime resolved up front (we do no DNS here).
    pub hosts: HashMap<String, IpAddr>,
}

/// What to call.
#[derive(Debug, Clone)]
pub struct InviteParams {
    /// Request-URI, e.g. `sip:bob@127.0.0.1:5070`.
    pub request_uri: String,
    /// Our From (name-addr without tag), e.g. `"Desk" <sip:desk@10.0.0.1>`.
    pub from: String,
    /// To (name-addr without tag); usually the request URI in angle brackets.
    pub to: String,
    /// Our Contact user part.
    pub contact_user: String,
    /// Send to this proxy instead of the request URI's host.
    pub outbound_proxy: Option<String>,
    /// Credentials for 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// Extra headers (name, value).
    pub headers: Vec<(String, String)>,
    /// SDP offer (empty: late offer).
    pub sdp: Vec<u8>,
}

/// What to register.
#[derive(Debug, Clone)]
pub struct RegistrationParams {
    /// Address of record, `sip:alice@example.com`.
    pub aor: String,
    /// Registrar URI, `sip:example.com:5060`.
    pub registrar: String,
    /// Transport to the registrar.
    pub transport: Transport,
    /// Requested lifetime (seconds).
    pub expires: u32,
    /// Credentials for the challenge.
    pub credentials: Credentials,
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminationReason {
    /// We sent BYE.
    LocalBye,
    /// The peer sent BYE.
    RemoteBye,
    /// The caller cancelled before we answered, or our CANCEL took effect.
    Cancelled,
    /// We rejected the inbound INVITE with this status.
    Rejected(u16),
    /// The peer answered our INVITE with this final non-2xx status.
    Failed(u16),
    /// No final response (Timer B), or a BYE/re-INVITE timed out.
    Timeout,
    /// We answered but the ACK never came (§13.3.1.4).
    NoAck,
}

/// What the user agent reports to the layer above.
#[derive(Debug, Clone, PartialEq)]
pub enum UaEvent {
    /// A new inbound INVITE (a 100 Trying went out). Answer with [`UserAgent::answer`], send
    /// 180 with [`UserAgent::ringing`], or [`UserAgent::reject`].
    IncomingCall {
        /// The new session.
        session: SessionId,
        /// The INVITE as received.
        request: Box<Request>,
    },
    /// Our INVITE got a provisional response (180/183...).
    Progress {
        /// The session.
        session: SessionId,
        /// Status code.
        status: u16,
        /// Body (early media SDP, may be empty).
        body: Vec<u8>,
    },
    /// Our INVITE was answered; the ACK went out.
    Answered {
        /// The session.
        session: SessionId,
        /// The 2xx.
        response: Box<Response>,
    },
    /// Our 2xx was acknowledged.
    Confirmed {
        /// The session.
        session: SessionId,
        /// The ACK's body (the answer of a late offer), may be empty.
        body: Vec<u8>,
    },
    /// The session is over; no more events for it.
    Terminated {
        /// The session.
        session: SessionId,
        /// Why.
        reason: TerminationReason,
    },
    /// A request inside a session's dialog that the layer above must answer with
    /// [`UserAgent::respond`]: re-INVITE, INFO, REFER, NOTIFY, UPDATE, MESSAGE.
    InDialogRequest {
        /// The session.
        session: SessionId,
        /// The server transaction to answer in.
        key: TransactionKey,
        /// The request.
        request: Box<Request>,
    },
    /// A response to a request we sent inside a session with [`UserAgent::send_in_dialog`].
    InDialogResponse {
        /// The session.
        session: SessionId,
        /// The method of our request.
        method: Method,
        /// The response, or `None` on timeout.
        response: Option<Box<Response>>,
    },
    /// The final response to our re-INVITE (hold, resume, new media).
    ReinviteResponse {
        /// The session.
        session: SessionId,
        /// Final status (2xx: ACK sent; 491: glare, try again later).
        status: u16,
        /// The answer SDP of a 2xx.
        body: Vec<u8>,
    },
    /// A registration changed state.
    Registration {
        /// Which one.
        id: RegistrationId,
        /// Its new state.
        state: RegistrationState,
        /// Status of the response that caused it, if any.
        status: Option<u16>,
    },
}

/// Misuse of the user agent by the layer above, or a destination it cannot reach.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UaError {
    /// No such session (it ended).
    #[error("no such session")]
    NoSession,
    /// The session's state does not allow this.
    #[error("not possible in the session's current state")]
    WrongState,
    /// The URI does not parse or names a host we cannot resolve without DNS.
    #[error("cannot route to {0:?}")]
    Unroutable(String),
    /// We have no listener for the transport the URI asks for.
    #[error("no local {0:?} transport")]
    NoTransport(Transport),
}

/// Counters for the flood and load tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UaStats {
    /// Messages that did not parse.
    pub malformed: u64,
    /// Of those, answered with 400.
    pub answered_400: u64,
    /// Responses matching no transaction.
    pub stray_responses: u64,
}

/// One SIP endpoint: transactions, sessions, registrations.
#[derive(Debug)]
pub struct UserAgent {
    config: UaConfig,
    tx: TransactionLayer,
    next_id: u64,
    sessions: HashMap<SessionId, Session>,
    by_dialog: HashMap<DialogId, SessionId>,
    /// Client and server transactions owned by sessions or registrations.
    owners: HashMap<TransactionKey, Owner>,
    /// (Call-ID, From tag, CSeq) of inbound INVITEs being processed, for §8.2.2.2.
    merged: HashSet<(String, String, u32)>,
    registrations: Vec<Registration>,
    /// BYEs in flight (their sessions already ended), for challenge retries.
    byes: HashMap<TransactionKey, ByeRetry>,
    timers: DeadlineQueue<UaTimer>,
    events: VecDeque<UaEvent>,
    extra: VecDeque<Transmit>,
    stats: UaStats,
}

impl UserAgent {
    /// A user agent with nothing in progress.
    pub fn new(config: UaConfig) -> Self {
        Self {
            tx: TransactionLayer::new(config.timers),
            config,
            next_id: 1,
            sessions: HashMap::new(),
            by_dialog: HashMap::new(),
            owners: HashMap::new(),
            merged: HashSet::new(),
            registrations: Vec::new(),
            byes: HashMap::new(),
            timers: DeadlineQueue::new(),
            events: VecDeque::new(),
            extra: VecDeque::new(),
            stats: UaStats::default(),
        }
    }

    /// Feeds one received message (a UDP datagram or one framed TCP message) from `source`.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8], source: Destination) {
        match sip_message::parse(bytes) {
            Ok(SipMessage::Request(request)) => self.on_request(now, request, source),
            Ok(SipMessage::Response(response)) => self.on_response(now, response),
            Err(error) => self.on_malformed(bytes, source, &error),
        }
        self.process_tx_events(now);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        self.process_tx_events(now);
        while let Some(timer) = self.timers.pop_due(now) {
            self.fire(now, timer);
        }
        self.process_tx_events(now);
    }

    /// The earliest time [`UserAgent::handle_timeout`] must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.tx.poll_timeout(), self.timers.peek()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.extra.pop_front().or_else(|| self.tx.poll_transmit())
    }

    /// Next event for the layer above.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// Counters.
    pub fn stats(&self) -> UaStats {
        self.stats
    }

    /// Number of live sessions and transactions (for leak checks).
    pub fn load(&self) -> (usize, usize, usize) {
        let (c, s) = self.tx.len();
        (self.sessions.len(), c, s)
    }

    /// Starts an outbound call.
    pub fn invite(&mut self, now: Instant, params: InviteParams) -> Result<SessionId, UaError> {
        let hop = params
            .outbound_proxy
            .as_deref()
            .unwrap_or(&params.request_uri)
            .to_string();
        let destination = self.resolve(&hop)?;
        let local = self.local_addr(destination.transport)?;
        let id = self.new_session_id();
        let call_id = format!("{}@{}", random_hex(16), local.ip());
        let local_tag = random_hex(10);
        let contact = contact_uri(&params.contact_user, local, destination.transport);
        let session = Session {
            role: Role::Uac,
            state: SessionState::Calling,
            dialog: Dialog {
                call_id,
                local_tag: local_tag.clone(),
                remote_tag: String::new(),
                local_uri: params.from.clone(),
                remote_uri: params.to.clone(),
                remote_target: params.request_uri.clone(),
                route_set: Vec::new(),
                local_cseq: 0,
                remote_cseq: None,
                destination,
            },
            request_uri: params.request_uri.clone(),
            contact,
            invite_key: None,
            invite: None,
            pending_2xx: None,
            last_ack: None,
            auth: params.credentials.clone().map(DigestClient::new),
            auth_attempts: 0,
            extra_headers: params.headers.clone(),
            cancel_requested: false,
            local_sdp: params.sdp.clone(),
            invite_source: destination,
            reinvite_key: None,
            reinvite_ack: None,
            reinvite_pending: false,
        };
        self.sessions.insert(id, session);
        self.send_invite(now, id, None);
        Ok(id)
    }

    /// Sends a provisional response (180 Ringing, 183 with early media SDP) to an inbound call.
    pub fn ringing(
        &mut self,
        now: Instant,
        id: SessionId,
        status: u16,
        sdp: Vec<u8>,
    ) -> Result<(), UaError> {
        let session = self.sessions.get(&id).ok_or(UaError::NoSession)?;
        let (Some(key), Some(invite)) = (&session.invite_key, &session.invite) else {
            return Err(UaError::WrongState);
        };
        if session.state != SessionState::Incoming {
            return Err(UaError::WrongState);
        }
        let mut response = make_response(invite, status, Some(&session.dialog.local_tag));
        push(
            &mut response.headers,
            "Contact",
            &format!("<{}>", session.contact),
        );
        set_body(
            &mut response.headers,
            &mut response.body,
            sdp,
            "application/sdp",
        );
        let key = key.clone();
        self.tx
            .respond(now, &key, response)
            .map_err(|_| UaError::WrongState)
    }

    /// Answers an inbound call with 200 OK and `sdp`; retransmits it until the ACK.
    pub fn answer(&mut self, now: Instant, id: SessionId, sdp: Vec<u8>) -> Result<(), UaError> {
        let t1 = self.config.timers.t1;
        let user_agent = self.config.user_agent.clone();
        let session = self.sessions.get_mut(&id).ok_or(UaError::NoSession)?;
        let (Some(key), Some(invite)) = (&session.invite_key, &session.invite) else {
            return Err(UaError::WrongState);
        };
        if session.state != SessionState::Incoming {
            return Err(UaError::WrongState);
        }
        let mut response = make_response(invite, 200, Some(&session.dialog.local_tag));
        push(
            &mut response.headers,
            "Contact",
            &format!("<{}>", session.contact),
        );
        push(&mut response.headers, "Allow", ALLOW);
        push(&mut response.headers, "Supported", SUPPORTED);
        push(&mut response.headers, "Server", &user_agent);
        for rr in invite.header_values("Record-Route") {
            push(&mut response.headers, "Record-Route", rr);
        }
        session.local_sdp = sdp.clone();
        set_body(
            &mut response.headers,
            &mut response.body,
            sdp,
            "application/sdp",
        );
        let key = key.clone();
        session.state = SessionState::WaitAck;
        session.pending_2xx = Some(Pending2xx {
            response: response.clone(),
            interval: t1,
            give_up: now + t1 * 64,
        });
        self.timers.push(now + t1, UaTimer::Retransmit2xx(id));
        self.timers.push(now + t1 * 64, UaTimer::AckTimeout(id));
        self.tx
            .respond(now, &key, response)
            .map_err(|_| UaError::WrongState)
    }

    /// Rejects an inbound call with `status` (e.g. 486, 603).
    pub fn reject(&mut self, now: Instant, id: SessionId, status: u16) -> Result<(), UaError> {
        let session = self.sessions.get(&id).ok_or(UaError::NoSession)?;
        let (Some(key), Some(invite)) = (&session.invite_key, &session.invite) else {
            return Err(UaError::WrongState);
        };
        if session.state != SessionState::Incoming {
            return Err(UaError::WrongState);
        }
        let response = make_response(invite, status, Some(&session.dialog.local_tag));
        let key = key.clone();
        let _ = self.tx.respond(now, &key, response);
        self.end_session(id, TerminationReason::Rejected(status));
        Ok(())
    }

    /// Ends a session from our side: CANCEL while our INVITE is unanswered, BYE once
    /// answered, 486 for an unanswered inbound call. The `Terminated` event follows at once
    /// (CANCEL: when the INVITE's final response arrives).
    pub fn hangup(&mut self, now: Instant, id: SessionId) -> Result<(), UaError> {
        let state = self.sessions.get(&id).ok_or(UaError::NoSession)?.state;
        match state {
            SessionState::Incoming => self.reject(now, id, 486),
            SessionState::Calling | SessionState::Early => {
                self.send_cancel(now, id);
                Ok(())
            }
            SessionState::WaitAck | SessionState::Confirmed => {
                self.send_bye(now, id);
                self.end_session(id, TerminationReason::LocalBye);
                Ok(())
            }
            SessionState::Terminated => Err(UaError::WrongState),
        }
    }

    /// Answers a request reported by [`UaEvent::InDialogRequest`].
    pub fn respond(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        request: &Request,
        status: u16,
        headers: Vec<(String, String)>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(), UaError> {
        let mut response = make_response(request, status, None);
        for (name, value) in headers {
            push(&mut response.headers, &name, &value);
        }
        if let Some((content_type, body)) = body {
            set_body(
                &mut response.headers,
                &mut response.body,
                body,
                content_type,
            );
        }
        self.tx
            .respond(now, key, response)
            .map_err(|_| UaError::WrongState)
    }

    /// Sends a request inside a session's dialog (INFO, REFER, NOTIFY...; not ACK, BYE or
    /// INVITE) and returns its CSeq number (a REFER's subscription is `Event: refer;id=<cseq>`).
    /// The response arrives as [`UaEvent::InDialogResponse`].
    pub fn send_in_dialog(
        &mut self,
        now: Instant,
        id: SessionId,
        method: Method,
        headers: Vec<(String, String)>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<u32, UaError> {
        let session = self.sessions.get_mut(&id).ok_or(UaError::NoSession)?;
        if !matches!(
            session.state,
            SessionState::Confirmed | SessionState::WaitAck
        ) {
            return Err(UaError::WrongState);
        }
        let mut request = self.build_in_dialog(id, method)?;
        for (name, value) in headers {
            push(&mut request.headers, &name, &value);
        }
        if let Some((content_type, body)) = body {
            set_body(&mut request.headers, &mut request.body, body, content_type);
        }
        let cseq = request.cseq().map_or(0, |(n, _)| n);
        self.send_owned(now, id, request);
        Ok(cseq)
    }

    /// Sends a re-INVITE with a new offer inside an established session (hold with
    /// `a=sendonly`, resume with `a=sendrecv`, a new address). The outcome arrives as
    /// [`UaEvent::ReinviteResponse`]; only one re-INVITE may be pending (RFC 3261 §14.1).
    pub fn reinvite(&mut self, now: Instant, id: SessionId, sdp: Vec<u8>) -> Result<(), UaError> {
        let pending = {
            let session = self.sessions.get(&id).ok_or(UaError::NoSession)?;
            if session.state != SessionState::Confirmed {
                return Err(UaError::WrongState);
            }
            session.reinvite_pending
        };
        if pending {
            return Err(UaError::WrongState);
        }
        let mut request = self.build_in_dialog(id, Method::Invite)?;
        push(&mut request.headers, "Allow", ALLOW);
        push(&mut request.headers, "Supported", SUPPORTED);
        set_body(
            &mut request.headers,
            &mut request.body,
            sdp.clone(),
            "application/sdp",
        );
        let Some(session) = self.sessions.get_mut(&id) else {
            return Err(UaError::NoSession);
        };
        session.local_sdp = sdp;
        session.reinvite_ack = None;
        session.reinvite_pending = true;
        let destination = session.dialog.destination;
        if let Some(key) = self.tx.send_request(now, request, destination) {
            self.owners.insert(key.clone(), Owner::Session(id));
            if let Some(session) = self.sessions.get_mut(&id) {
                session.reinvite_key = Some(key);
            }
        }
        Ok(())
    }

    /// Adds an account registration and sends its first REGISTER.
    pub fn register(
        &mut self,
        now: Instant,
        params: RegistrationParams,
    ) -> Result<RegistrationId, UaError> {
        let destination = self.resolve(&params.registrar)?;
        let local = self.local_addr(destination.transport)?;
        let id = RegistrationId(self.registrations.len());
        self.registrations.push(Registration {
            aor: params.aor,
            registrar_uri: params.registrar,
            destination,
            call_id: format!("{}@{}", random_hex(16), local.ip()),
            from_tag: random_hex(10),
            cseq: 0,
            expires: params.expires,
            auth: Some(DigestClient::new(params.credentials)),
            auth_attempts: 0,
            state: RegistrationState::Registering,
            unregistering: false,
            last_status: None,
        });
        self.send_register(now, id, None);
        Ok(id)
    }

    /// Removes every binding (REGISTER with Expires: 0). Drive the agent until
    /// [`UserAgent::unregistering`] is false, or a deadline.
    pub fn unregister_all(&mut self, now: Instant) {
        for i in 0..self.registrations.len() {
            let reg = &mut self.registrations[i];
            if matches!(reg.state, RegistrationState::Unregistered) {
                continue;
            }
            reg.unregistering = true;
            reg.auth_attempts = 0;
            self.send_register(now, RegistrationId(i), None);
        }
    }

    /// True while an un-REGISTER is awaiting its response.
    pub fn unregistering(&self) -> bool {
        self.registrations
            .iter()
            .any(|r| r.unregistering && !matches!(r.state, RegistrationState::Unregistered))
    }

    /// A registration's state and the status of its last final response.
    pub fn registration(&self, id: RegistrationId) -> Option<(RegistrationState, Option<u16>)> {
        self.registrations
            .get(id.0)
            .map(|r| (r.state, r.last_status))
    }

    /// The inbound INVITE of a session (for its From, SDP...), while the session lives.
    pub fn invite_request(&self, id: SessionId) -> Option<&Request> {
        self.sessions.get(&id).and_then(|s| s.invite.as_ref())
    }

    /// Our Contact URI in a session.
    pub fn local_contact(&self, id: SessionId) -> Option<&str> {
        self.sessions.get(&id).map(|s| s.contact.as_str())
    }

    /// Teaches the agent an address for a host name (the runtime resolves names; we do no DNS).
    pub fn add_host(&mut self, name: &str, ip: IpAddr) {
        self.config.hosts.insert(name.to_ascii_lowercase(), ip);
    }

    /// The host name in `uri` that must be resolved before a request can be sent to it, if any.
    pub fn unresolved_host(&self, uri: &str) -> Option<String> {
        let inner = uri_of_name_addr(uri).unwrap_or_else(|| uri.to_string());
        let parsed = rsip::Uri::try_from(inner.as_str()).ok()?;
        match &parsed.host_with_port.host {
            rsip::Host::IpAddr(_) => None,
            rsip::Host::Domain(domain) => {
                let name = domain.to_string().to_ascii_lowercase();
                (name != "localhost" && !self.config.hosts.contains_key(&name)).then_some(name)
            }
        }
    }

    /// The session of a dialog, by its id from our side.
    pub fn session_by_dialog(&self, id: &DialogId) -> Option<SessionId> {
        self.by_dialog.get(id).copied()
    }

    /// The dialog of a session.
    pub fn dialog(&self, id: SessionId) -> Option<&Dialog> {
        self.sessions.get(&id).map(|s| &s.dialog)
    }

    // ---- inbound ----

    fn on_malformed(&mut self, bytes: &[u8], source: Destination, error: &ParseError) {
        self.stats.malformed += 1;
        tracing::debug!(%error, from = %source.addr, len = bytes.len(), "malformed SIP message dropped");
        // Answer 400 when the request line and the headers a response needs are readable.
        if let Some(response) = bad_request_response(bytes, &error.to_string()) {
            self.stats.answered_400 += 1;
            self.tx
                .send_stateless(SipMessage::Response(response), source);
        }
    }

    fn on_request(&mut self, now: Instant, mut request: Request, source: Destination) {
        fix_via(&mut request, source);
        if request
            .header_value("Max-Forwards")
            .and_then(|v| v.trim().parse::<u32>().ok())
            == Some(0)
            && request.method != Method::Ack
        {
            let response = make_response(&request, 483, None);
            self.tx
                .send_stateless(SipMessage::Response(response), source);
            return;
        }
        let Some(disposition) = self.tx.receive_request(now, &request, source) else {
            if request.method != Method::Ack {
                let response = make_response(&request, 400, None);
                self.tx
                    .send_stateless(SipMessage::Response(response), source);
            }
            return;
        };
        match disposition {
            RequestDisposition::Absorbed => {}
            RequestDisposition::AckForDialog => self.on_ack(&request),
            RequestDisposition::New(key) => {
                self.tx.create_server(key.clone(), &request, source);
                self.on_new_request(now, key, request, source);
            }
        }
    }

    fn on_new_request(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Request,
        source: Destination,
    ) {
        let dialog_id = match (request.call_id(), request.to_tag(), request.from_tag()) {
            (Some(call_id), Some(local_tag), Some(remote_tag)) => Some(DialogId {
                call_id,
                local_tag,
                remote_tag,
            }),
            _ => None,
        };
        if request.method == Method::Cancel {
            return self.on_cancel(now, &key, &request);
        }
        if let Some(dialog_id) = dialog_id {
            let Some(&id) = self.by_dialog.get(&dialog_id) else {
                let _ = self.respond(now, &key, &request, 481, vec![], None);
                return;
            };
            return self.on_in_dialog(now, id, key, request);
        }
        match request.method {
            Method::Invite => self.on_invite(now, key, request, source),
            Method::Options => {
                let headers = vec![
                    ("Allow".into(), ALLOW.into()),
                    ("Accept".into(), ACCEPT.into()),
                    ("Supported".into(), SUPPORTED.into()),
                    ("Server".into(), self.config.user_agent.clone()),
                ];
                let _ = self.respond(now, &key, &request, 200, headers, None);
            }
            Method::Bye
            | Method::Info
            | Method::Refer
            | Method::Notify
            | Method::Update
            | Method::PRack => {
                let _ = self.respond(now, &key, &request, 481, vec![], None);
            }
            _ => {
                let headers = vec![("Allow".into(), ALLOW.into())];
                let _ = self.respond(now, &key, &request, 405, headers, None);
            }
        }
    }

    fn on_invite(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Request,
        source: Destination,
    ) {
        let (Some(call_id), Some(from_tag), Some((cseq, _))) =
            (request.call_id(), request.from_tag(), request.cseq())
        else {
            let _ = self.respond(now, &key, &request, 400, vec![], None);
            return;
        };
        // §8.2.2.2: the same request arriving by another path is answered 482.
        if !self
            .merged
            .insert((call_id.clone(), from_tag.clone(), cseq))
        {
            let _ = self.respond(now, &key, &request, 482, vec![], None);
            return;
        }
        let Ok(local) = self.local_addr(source.transport) else {
            let _ = self.respond(now, &key, &request, 500, vec![], None);
            return;
        };
        let trying = make_response(&request, 100, None);
        let _ = self.tx.respond(now, &key, trying);
        let remote_target = request
            .header_value("Contact")
            .and_then(uri_of_name_addr)
            .unwrap_or_else(|| request.uri.to_string());
        let user = request.uri.user().unwrap_or("switchboard").to_string();
        let id = self.new_session_id();
        let dialog = Dialog {
            call_id,
            local_tag: random_hex(10),
            remote_tag: from_tag,
            local_uri: strip_tag(request.header_value("To").unwrap_or_default()),
            remote_uri: request.header_value("From").unwrap_or_default().to_string(),
            remote_target: remote_target.clone(),
            route_set: request
                .header_values("Record-Route")
                .iter()
                .map(|s| s.to_string())
                .collect(),
            local_cseq: 0,
            remote_cseq: Some(cseq),
            destination: self.in_dialog_destination(&remote_target, source),
        };
        self.by_dialog.insert(dialog.id(), id);
        self.owners.insert(key.clone(), Owner::Session(id));
        self.sessions.insert(
            id,
            Session {
                role: Role::Uas,
                state: SessionState::Incoming,
                dialog,
                request_uri: request.uri.to_string(),
                contact: contact_uri(&user, local, source.transport),
                invite_key: Some(key),
                invite: Some(request.clone()),
                pending_2xx: None,
                last_ack: None,
                auth: None,
                auth_attempts: 0,
                extra_headers: Vec::new(),
                cancel_requested: false,
                local_sdp: Vec::new(),
                invite_source: source,
                reinvite_key: None,
                reinvite_ack: None,
                reinvite_pending: false,
            },
        );
        self.events.push_back(UaEvent::IncomingCall {
            session: id,
            request: Box::new(request),
        });
    }

    fn on_cancel(&mut self, now: Instant, key: &TransactionKey, request: &Request) {
        let invite_key = key.invite_for_cancel();
        let owner = self.owners.get(&invite_key).copied();
        if !self.tx.server_pending(&invite_key) {
            let _ = self.respond(now, key, request, 481, vec![], None);
            return;
        }
        let _ = self.respond(now, key, request, 200, vec![], None);
        if let Some(Owner::Session(id)) = owner {
            if let Some(invite) = self.sessions.get(&id).and_then(|s| s.invite.clone()) {
                let tag = self.sessions.get(&id).map(|s| s.dialog.local_tag.clone());
                let response = make_response(&invite, 487, tag.as_deref());
                let _ = self.tx.respond(now, &invite_key, response);
            }
            self.end_session(id, TerminationReason::Cancelled);
        }
    }

    fn on_ack(&mut self, request: &Request) {
        let (Some(call_id), Some(local_tag), Some(remote_tag)) =
            (request.call_id(), request.to_tag(), request.from_tag())
        else {
            return;
        };
        let id = DialogId {
            call_id,
            local_tag,
            remote_tag,
        };
        let Some(&sid) = self.by_dialog.get(&id) else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        if session.pending_2xx.take().is_some() {
            let first = session.state == SessionState::WaitAck;
            session.state = SessionState::Confirmed;
            if first {
                self.events.push_back(UaEvent::Confirmed {
                    session: sid,
                    body: request.body.clone(),
                });
            }
        }
    }

    fn on_in_dialog(&mut self, now: Instant, id: SessionId, key: TransactionKey, request: Request) {
        let Some(session) = self.sessions.get_mut(&id) else {
            let _ = self.respond(now, &key, &request, 481, vec![], None);
            return;
        };
        let cseq = request.cseq().map_or(0, |(n, _)| n);
        if !session.dialog.accept_remote_cseq(cseq) {
            let _ = self.respond(
                now,
                &key,
                &request,
                500,
                vec![("Retry-After".into(), "1".into())],
                None,
            );
            return;
        }
        match request.method {
            Method::Bye => {
                let _ = self.respond(now, &key, &request, 200, vec![], None);
                self.end_session(id, TerminationReason::RemoteBye);
            }
            Method::Options => {
                let headers = vec![
                    ("Allow".into(), ALLOW.into()),
                    ("Accept".into(), ACCEPT.into()),
                    ("Supported".into(), SUPPORTED.into()),
                ];
                let _ = self.respond(now, &key, &request, 200, headers, None);
            }
            _ => {
                if matches!(request.method, Method::Invite | Method::Update) {
                    // §12.2.2: target refresh.
                    if let Some(target) = request.header_value("Contact").and_then(uri_of_name_addr)
                    {
                        session.dialog.remote_target = target;
                    }
                }
                self.owners.insert(key.clone(), Owner::Session(id));
                self.events.push_back(UaEvent::InDialogRequest {
                    session: id,
                    key,
                    request: Box::new(request),
                });
            }
        }
    }

    fn on_response(&mut self, now: Instant, response: Response) {
        if !self.tx.receive_response(now, response) {
            self.stats.stray_responses += 1;
        }
    }

    fn process_tx_events(&mut self, now: Instant) {
        while let Some(event) = self.tx.poll_event() {
            match event {
                TxEvent::Response { key, response } => self.on_tx_response(now, key, response),
                TxEvent::Timeout { key } => self.on_tx_timeout(now, key),
            }
        }
    }

    fn on_tx_response(&mut self, now: Instant, key: TransactionKey, response: Response) {
        if key.method == "BYE" && self.byes.contains_key(&key) {
            self.on_bye_response(now, &key, &response);
            return;
        }
        let code = response.status_code.code();
        let owner = self.owners.get(&key).copied();
        if code >= 200 && !(key.method == "INVITE" && (200..300).contains(&code)) {
            self.owners.remove(&key);
        }
        match owner {
            Some(Owner::Registration(rid)) => self.on_register_response(now, rid, &key, response),
            Some(Owner::Session(id)) if key.method == "INVITE" => {
                self.on_invite_response(now, id, &key, response)
            }
            Some(Owner::Session(id)) => {
                if (code == 401 || code == 407) && self.retry_with_auth(now, id, &key, &response) {
                    return;
                }
                if code < 200 {
                    return;
                }
                let method = key.method.parse().unwrap_or(Method::Info);
                if method != Method::Bye && method != Method::Cancel {
                    self.events.push_back(UaEvent::InDialogResponse {
                        session: id,
                        method,
                        response: Some(Box::new(response)),
                    });
                }
            }
            None => {}
        }
    }

    fn on_invite_response(
        &mut self,
        now: Instant,
        id: SessionId,
        key: &TransactionKey,
        response: Response,
    ) {
        let code = response.status_code.code();
        let current = self
            .sessions
            .get(&id)
            .is_some_and(|s| s.invite_key.as_ref() == Some(key));
        if current && (code == 401 || code == 407) && self.retry_with_auth(now, id, key, &response)
        {
            return;
        }
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        if session.reinvite_key.as_ref() == Some(key) {
            self.on_reinvite_response(id, code, response);
            return;
        }
        if session.invite_key.as_ref() != Some(key) {
            // A response to an earlier (challenged) INVITE or a re-INVITE retransmission.
            if (200..300).contains(&code)
                && let Some(ack) = session.last_ack.clone()
            {
                self.tx
                    .send_stateless(SipMessage::Request(ack), session.dialog.destination);
            }
            return;
        }
        match code {
            100 => {}
            101..=199 => {
                if let Some(tag) = response.to_tag() {
                    if session.dialog.remote_tag.is_empty() {
                        session.dialog.remote_tag = tag;
                    }
                    if session.state == SessionState::Calling {
                        session.state = SessionState::Early;
                    }
                }
                self.events.push_back(UaEvent::Progress {
                    session: id,
                    status: code,
                    body: response.body.clone(),
                });
            }
            200..=299 => {
                if session.state == SessionState::Confirmed || session.last_ack.is_some() {
                    // Retransmitted 2xx: ACK again.
                    if let Some(ack) = session.last_ack.clone() {
                        self.tx
                            .send_stateless(SipMessage::Request(ack), session.dialog.destination);
                    }
                    return;
                }
                let old_id = session.dialog.id();
                session.dialog.remote_tag = response.to_tag().unwrap_or_default();
                if let Some(target) = response.header_value("Contact").and_then(uri_of_name_addr) {
                    session.dialog.remote_target = target;
                }
                let mut routes: Vec<String> = response
                    .header_values("Record-Route")
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                routes.reverse();
                session.dialog.route_set = routes;
                if let Some(to) = response.header_value("To") {
                    session.dialog.remote_uri = to.to_string();
                }
                self.by_dialog.remove(&old_id);
                let new_id = session.dialog.id();
                self.by_dialog.insert(new_id, id);
                let target = session.dialog.remote_target.clone();
                if session.dialog.route_set.is_empty()
                    && let Ok(dest) = resolve_with(&self.config.hosts, &target)
                {
                    session.dialog.destination = Destination {
                        transport: session.dialog.destination.transport,
                        addr: dest.addr,
                    };
                }
                let ack = self.build_ack(id);
                if let Some(session) = self.sessions.get_mut(&id) {
                    session.state = SessionState::Confirmed;
                    if let Some(ack) = ack {
                        session.last_ack = Some(ack.clone());
                        self.tx
                            .send_stateless(SipMessage::Request(ack), session.dialog.destination);
                    }
                    if session.cancel_requested {
                        // Our CANCEL lost the race with the 200: end the call properly.
                        self.send_bye(now, id);
                        self.end_session(id, TerminationReason::Cancelled);
                        return;
                    }
                }
                self.events.push_back(UaEvent::Answered {
                    session: id,
                    response: Box::new(response),
                });
            }
            _ => {
                let cancelled = session.cancel_requested;
                let reason = if code == 487 && cancelled {
                    TerminationReason::Cancelled
                } else {
                    TerminationReason::Failed(code)
                };
                self.end_session(id, reason);
            }
        }
    }

    fn on_reinvite_response(&mut self, id: SessionId, code: u16, response: Response) {
        if code < 200 {
            return;
        }
        if let Some(session) = self.sessions.get_mut(&id) {
            session.reinvite_pending = false;
        }
        if (200..300).contains(&code) {
            let cseq = response.cseq().map_or(0, |(n, _)| n);
            let Some(session) = self.sessions.get(&id) else {
                return;
            };
            if let Some(ack) = session.reinvite_ack.clone() {
                // A retransmitted 2xx: the ACK was lost.
                self.tx
                    .send_stateless(SipMessage::Request(ack), session.dialog.destination);
                return;
            }
            let Ok(mut ack) = self.build_in_dialog(id, Method::Ack) else {
                return;
            };
            ack.headers.retain(|h| !matches!(h, Header::CSeq(_)));
            push(&mut ack.headers, "CSeq", &format!("{cseq} ACK"));
            let Some(session) = self.sessions.get_mut(&id) else {
                return;
            };
            if let Some(target) = response.header_value("Contact").and_then(uri_of_name_addr) {
                session.dialog.remote_target = target;
            }
            session.reinvite_ack = Some(ack.clone());
            self.tx
                .send_stateless(SipMessage::Request(ack), session.dialog.destination);
        }
        self.events.push_back(UaEvent::ReinviteResponse {
            session: id,
            status: code,
            body: response.body.clone(),
        });
    }

    fn on_tx_timeout(&mut self, now: Instant, key: TransactionKey) {
        self.byes.remove(&key);
        let Some(owner) = self.owners.remove(&key) else {
            return;
        };
        match owner {
            Owner::Registration(rid) => {
                if let Some(reg) = self.registrations.get_mut(rid.0) {
                    if reg.unregistering {
                        reg.state = RegistrationState::Unregistered;
                    } else {
                        reg.state = RegistrationState::Failed { status: 0 };
                        self.timers
                            .push(now + Duration::from_secs(30), UaTimer::Register(rid));
                    }
                    let state = reg.state;
                    self.events.push_back(UaEvent::Registration {
                        id: rid,
                        state,
                        status: None,
                    });
                }
            }
            Owner::Session(id) => {
                if key.server {
                    return;
                }
                if key.method == "INVITE"
                    && self
                        .sessions
                        .get(&id)
                        .is_some_and(|s| s.reinvite_key.as_ref() == Some(&key))
                {
                    // §14.1: a re-INVITE that times out ends the dialog.
                    self.send_bye(now, id);
                    self.end_session(id, TerminationReason::Timeout);
                } else if key.method == "INVITE" {
                    if self
                        .sessions
                        .get(&id)
                        .is_some_and(|s| s.invite_key.as_ref() == Some(&key))
                    {
                        self.end_session(id, TerminationReason::Timeout);
                    }
                } else if key.method != "BYE" && key.method != "CANCEL" {
                    let method = key.method.parse().unwrap_or(Method::Info);
                    self.events.push_back(UaEvent::InDialogResponse {
                        session: id,
                        method,
                        response: None,
                    });
                }
            }
        }
    }

    fn on_register_response(
        &mut self,
        now: Instant,
        rid: RegistrationId,
        key: &TransactionKey,
        response: Response,
    ) {
        let code = response.status_code.code();
        if code < 200 {
            return;
        }
        let Some(reg) = self.registrations.get_mut(rid.0) else {
            return;
        };
        reg.last_status = Some(code);
        match code {
            200..=299 => {
                reg.auth_attempts = 0;
                if reg.unregistering {
                    reg.state = RegistrationState::Unregistered;
                } else {
                    let granted = granted_expires(&response).unwrap_or(reg.expires);
                    reg.state = RegistrationState::Registered {
                        until: now + Duration::from_secs(u64::from(granted)),
                    };
                    self.timers.push(
                        Registration::refresh_at(now, granted),
                        UaTimer::Register(rid),
                    );
                }
            }
            401 | 407 if reg.auth_attempts < 2 => {
                let header = if code == 401 {
                    "WWW-Authenticate"
                } else {
                    "Proxy-Authenticate"
                };
                let challenge = response
                    .header_value(header)
                    .and_then(|v| Challenge::parse(v).ok());
                if let Some(challenge) = challenge {
                    // A stale nonce is not a wrong password: allow the retry again.
                    if !challenge.stale {
                        reg.auth_attempts += 1;
                    }
                    let _ = key;
                    self.send_register(now, rid, Some((code, challenge)));
                    return;
                }
                reg.state = RegistrationState::Failed { status: code };
                self.timers
                    .push(now + Duration::from_secs(30), UaTimer::Register(rid));
            }
            423 => {
                if let Some(min) = response
                    .header_value("Min-Expires")
                    .and_then(|v| v.trim().parse().ok())
                {
                    reg.expires = min;
                    self.send_register(now, rid, None);
                    return;
                }
                reg.state = RegistrationState::Failed { status: code };
            }
            _ => {
                if reg.unregistering {
                    reg.state = RegistrationState::Unregistered;
                } else {
                    reg.state = RegistrationState::Failed { status: code };
                    let retry = response
                        .header_value("Retry-After")
                        .and_then(|v| v.split(';').next()?.trim().parse::<u64>().ok())
                        .unwrap_or(30)
                        .clamp(5, 3600);
                    self.timers
                        .push(now + Duration::from_secs(retry), UaTimer::Register(rid));
                }
            }
        }
        let state = self.registrations[rid.0].state;
        self.events.push_back(UaEvent::Registration {
            id: rid,
            state,
            status: Some(code),
        });
    }

    // ---- timers ----

    fn fire(&mut self, now: Instant, timer: UaTimer) {
        match timer {
            UaTimer::Retransmit2xx(id) => {
                let t2 = self.config.timers.t2;
                let Some(session) = self.sessions.get_mut(&id) else {
                    return;
                };
                let Some(pending) = session.pending_2xx.as_mut() else {
                    return;
                };
                if now >= pending.give_up {
                    return;
                }
                let response = pending.response.clone();
                pending.interval = (pending.interval * 2).min(t2);
                let next = now + pending.interval;
                let reply_to = session.invite_source;
                self.extra.push_back(Transmit {
                    transport: reply_to.transport,
                    destination: reply_to.addr,
                    message: SipMessage::Response(response),
                });
                self.timers.push(next, UaTimer::Retransmit2xx(id));
            }
            UaTimer::AckTimeout(id) => {
                let no_ack = self
                    .sessions
                    .get(&id)
                    .is_some_and(|s| s.pending_2xx.is_some() && s.state == SessionState::WaitAck);
                if no_ack {
                    self.send_bye(now, id);
                    self.end_session(id, TerminationReason::NoAck);
                }
            }
            UaTimer::Register(rid) => {
                let due = self
                    .registrations
                    .get(rid.0)
                    .is_some_and(|r| !r.unregistering);
                if due {
                    if let Some(reg) = self.registrations.get_mut(rid.0) {
                        reg.auth_attempts = 0;
                    }
                    self.send_register(now, rid, None);
                }
            }
        }
    }

    // ---- outbound helpers ----

    fn new_session_id(&mut self) -> SessionId {
        let id = SessionId(self.next_id);
        self.next_id += 1;
        id
    }

    fn local_addr(&self, transport: Transport) -> Result<SocketAddr, UaError> {
        self.config
            .local
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
            .ok_or(UaError::NoTransport(transport))
    }

    fn resolve(&self, uri: &str) -> Result<Destination, UaError> {
        resolve_with(&self.config.hosts, uri)
    }

    fn in_dialog_destination(&self, remote_target: &str, source: Destination) -> Destination {
        // Behind NAT the Contact may be unreachable; the source address always is for the
        // transport the request came on (symmetric response routing, RFC 3581 spirit).
        match self.resolve(remote_target) {
            Ok(dest)
                if dest.transport == source.transport && source.transport == Transport::Udp =>
            {
                if dest.addr.ip().is_unspecified() {
                    source
                } else {
                    dest
                }
            }
            _ => source,
        }
    }

    fn via(&self, transport: Transport) -> Result<(String, String), UaError> {
        let local = self.local_addr(transport)?;
        let branch = format!("z9hG4bK{}", random_hex(16));
        Ok((
            format!(
                "SIP/2.0/{} {};branch={};rport",
                transport.via_token(),
                local,
                branch
            ),
            branch,
        ))
    }

    fn send_invite(&mut self, now: Instant, id: SessionId, auth: Option<(u16, String)>) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let transport = session.dialog.destination.transport;
        let cseq = session.dialog.next_cseq();
        let Ok((via, _)) = self.via(transport) else {
            self.end_session(id, TerminationReason::Failed(503));
            return;
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let Ok(uri) = rsip::Uri::try_from(session.request_uri.as_str()) else {
            self.end_session(id, TerminationReason::Failed(416));
            return;
        };
        let mut headers = rsip::Headers::default();
        push(&mut headers, "Via", &via);
        push(&mut headers, "Max-Forwards", "70");
        push(
            &mut headers,
            "From",
            &format!(
                "{};tag={}",
                session.dialog.local_uri, session.dialog.local_tag
            ),
        );
        push(&mut headers, "To", &session.dialog.remote_uri);
        push(&mut headers, "Call-ID", &session.dialog.call_id);
        push(&mut headers, "CSeq", &format!("{cseq} INVITE"));
        push(&mut headers, "Contact", &format!("<{}>", session.contact));
        push(&mut headers, "Allow", ALLOW);
        push(&mut headers, "Supported", SUPPORTED);
        push(&mut headers, "User-Agent", &self.config.user_agent);
        if let Some((code, value)) = auth {
            let name = if code == 407 {
                "Proxy-Authorization"
            } else {
                "Authorization"
            };
            push(&mut headers, name, &value);
        }
        for (name, value) in &session.extra_headers {
            push(&mut headers, name, value);
        }
        let mut request = Request {
            method: Method::Invite,
            uri,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        };
        let sdp = session.local_sdp.clone();
        set_body(
            &mut request.headers,
            &mut request.body,
            sdp,
            "application/sdp",
        );
        let destination = session.dialog.destination;
        session.invite = Some(request.clone());
        if let Some(key) = self.tx.send_request(now, request, destination) {
            self.owners.insert(key.clone(), Owner::Session(id));
            if let Some(session) = self.sessions.get_mut(&id) {
                session.invite_key = Some(key);
            }
        }
    }

    fn retry_with_auth(
        &mut self,
        now: Instant,
        id: SessionId,
        key: &TransactionKey,
        response: &Response,
    ) -> bool {
        let code = response.status_code.code();
        let header = if code == 401 {
            "WWW-Authenticate"
        } else {
            "Proxy-Authenticate"
        };
        let Some(challenge) = response
            .header_value(header)
            .and_then(|v| Challenge::parse(v).ok())
        else {
            return false;
        };
        let Some(original) = self.tx.client_request(key).cloned() else {
            return false;
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        if session.auth_attempts >= 2 {
            return false;
        }
        let Some(auth) = session.auth.as_mut() else {
            return false;
        };
        let uri = original.uri.to_string();
        let Ok(value) = auth.authorize(&challenge, &original.method.to_string(), &uri) else {
            return false;
        };
        session.auth_attempts += 1;
        if original.method == Method::Invite {
            self.send_invite(now, id, Some((code, value)));
        } else {
            // Re-send the same request with a new branch and CSeq plus credentials.
            let mut request = original;
            let cseq = session.dialog.next_cseq();
            let transport = session.dialog.destination.transport;
            let Ok((via, _)) = self.via(transport) else {
                return false;
            };
            request
                .headers
                .retain(|h| !matches!(h, Header::Via(_) | Header::CSeq(_)));
            let method = request.method;
            let mut headers = rsip::Headers::default();
            push(&mut headers, "Via", &via);
            for h in request.headers.iter() {
                headers.push(h.clone());
            }
            push(&mut headers, "CSeq", &format!("{cseq} {method}"));
            let name = if code == 407 {
                "Proxy-Authorization"
            } else {
                "Authorization"
            };
            push(&mut headers, name, &value);
            request.headers = headers;
            self.send_owned(now, id, request);
        }
        true
    }

    fn send_register(
        &mut self,
        now: Instant,
        rid: RegistrationId,
        challenge: Option<(u16, Challenge)>,
    ) {
        let Some(reg) = self.registrations.get(rid.0) else {
            return;
        };
        let transport = reg.destination.transport;
        let Ok(local) = self.local_addr(transport) else {
            return;
        };
        let Ok((via, _)) = self.via(transport) else {
            return;
        };
        let user_agent = self.config.user_agent.clone();
        let Some(reg) = self.registrations.get_mut(rid.0) else {
            return;
        };
        let Ok(uri) = rsip::Uri::try_from(reg.registrar_uri.as_str()) else {
            return;
        };
        reg.cseq += 1;
        let expires = if reg.unregistering { 0 } else { reg.expires };
        let user = reg
            .aor
            .trim_start_matches("sips:")
            .trim_start_matches("sip:")
            .split('@')
            .next()
            .unwrap_or("switchboard")
            .to_string();
        let mut headers = rsip::Headers::default();
        push(&mut headers, "Via", &via);
        push(&mut headers, "Max-Forwards", "70");
        push(
            &mut headers,
            "From",
            &format!("<{}>;tag={}", reg.aor, reg.from_tag),
        );
        push(&mut headers, "To", &format!("<{}>", reg.aor));
        push(&mut headers, "Call-ID", &reg.call_id);
        push(&mut headers, "CSeq", &format!("{} REGISTER", reg.cseq));
        push(
            &mut headers,
            "Contact",
            &format!(
                "<{}>;expires={expires}",
                contact_uri(&user, local, transport)
            ),
        );
        push(&mut headers, "Expires", &expires.to_string());
        push(&mut headers, "Allow", ALLOW);
        push(&mut headers, "User-Agent", &user_agent);
        if let (Some((code, challenge)), Some(auth)) = (challenge, reg.auth.as_mut())
            && let Ok(value) = auth.authorize(&challenge, "REGISTER", &reg.registrar_uri)
        {
            let name = if code == 407 {
                "Proxy-Authorization"
            } else {
                "Authorization"
            };
            push(&mut headers, name, &value);
        }
        if !reg.unregistering && !matches!(reg.state, RegistrationState::Registered { .. }) {
            reg.state = RegistrationState::Registering;
        }
        let request = Request {
            method: Method::Register,
            uri,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        };
        let destination = reg.destination;
        if let Some(key) = self.tx.send_request(now, request, destination) {
            self.owners.insert(key, Owner::Registration(rid));
        }
    }

    fn build_in_dialog(&mut self, id: SessionId, method: Method) -> Result<Request, UaError> {
        let user_agent = self.config.user_agent.clone();
        let session = self.sessions.get(&id).ok_or(UaError::NoSession)?;
        let (via, _) = self.via(session.dialog.destination.transport)?;
        let session = self.sessions.get_mut(&id).ok_or(UaError::NoSession)?;
        let cseq = if method == Method::Ack || method == Method::Cancel {
            session.dialog.local_cseq
        } else {
            session.dialog.next_cseq()
        };
        let d = &session.dialog;
        let uri = rsip::Uri::try_from(d.remote_target.as_str())
            .map_err(|_| UaError::Unroutable(d.remote_target.clone()))?;
        let mut headers = rsip::Headers::default();
        push(&mut headers, "Via", &via);
        push(&mut headers, "Max-Forwards", "70");
        let (from, to) = match session.role {
            Role::Uac => (
                format!("{};tag={}", d.local_uri, d.local_tag),
                with_tag(&d.remote_uri, &d.remote_tag),
            ),
            Role::Uas => (
                format!("{};tag={}", d.local_uri, d.local_tag),
                d.remote_uri.clone(),
            ),
        };
        push(&mut headers, "From", &from);
        push(&mut headers, "To", &to);
        push(&mut headers, "Call-ID", &d.call_id);
        push(&mut headers, "CSeq", &format!("{cseq} {method}"));
        for route in &d.route_set {
            push(&mut headers, "Route", route);
        }
        if method != Method::Ack && method != Method::Bye {
            push(&mut headers, "Contact", &format!("<{}>", session.contact));
        }
        push(&mut headers, "User-Agent", &user_agent);
        Ok(Request {
            method,
            uri,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        })
    }

    fn build_ack(&mut self, id: SessionId) -> Option<Request> {
        let mut ack = self.build_in_dialog(id, Method::Ack).ok()?;
        let session = self.sessions.get(&id)?;
        // §13.2.2.4: credentials of the INVITE go into the ACK too.
        if let Some(invite) = &session.invite {
            for name in ["Authorization", "Proxy-Authorization"] {
                if let Some(value) = invite.header_value(name) {
                    push(&mut ack.headers, name, value);
                }
            }
        }
        Some(ack)
    }

    fn send_owned(&mut self, now: Instant, id: SessionId, request: Request) {
        let Some(session) = self.sessions.get(&id) else {
            return;
        };
        let destination = session.dialog.destination;
        if let Some(key) = self.tx.send_request(now, request, destination) {
            self.owners.insert(key, Owner::Session(id));
        }
    }

    fn send_bye(&mut self, now: Instant, id: SessionId) {
        let Ok(bye) = self.build_in_dialog(id, Method::Bye) else {
            return;
        };
        let Some(session) = self.sessions.get(&id) else {
            return;
        };
        let destination = session.dialog.destination;
        let auth = session.auth.clone();
        // The session ends with this BYE; what a 401/407 retry needs outlives it.
        if let Some(key) = self.tx.send_request(now, bye.clone(), destination) {
            self.byes.insert(
                key,
                ByeRetry {
                    request: bye,
                    destination,
                    auth,
                    retried: false,
                },
            );
        }
    }

    /// A final response to a BYE we sent: retry once with credentials when challenged.
    fn on_bye_response(&mut self, now: Instant, key: &TransactionKey, response: &Response) {
        let code = response.status_code.code();
        if code < 200 {
            return;
        }
        let Some(mut retry) = self.byes.remove(key) else {
            return;
        };
        if !(code == 401 || code == 407) || retry.retried {
            return;
        }
        let header = if code == 401 {
            "WWW-Authenticate"
        } else {
            "Proxy-Authenticate"
        };
        let (Some(challenge), Some(auth)) = (
            response
                .header_value(header)
                .and_then(|v| Challenge::parse(v).ok()),
            retry.auth.as_mut(),
        ) else {
            return;
        };
        let mut request = retry.request.clone();
        let Ok(value) = auth.authorize(&challenge, "BYE", &request.uri.to_string()) else {
            return;
        };
        let Ok((via, _)) = self.via(retry.destination.transport) else {
            return;
        };
        let cseq = request.cseq().map_or(1, |(n, _)| n.wrapping_add(1));
        request
            .headers
            .retain(|h| !matches!(h, Header::Via(_) | Header::CSeq(_)));
        let mut headers = rsip::Headers::default();
        push(&mut headers, "Via", &via);
        for h in request.headers.iter() {
            headers.push(h.clone());
        }
        push(&mut headers, "CSeq", &format!("{cseq} BYE"));
        let name = if code == 407 {
            "Proxy-Authorization"
        } else {
            "Authorization"
        };
        push(&mut headers, name, &value);
        request.headers = headers;
        if let Some(key) = self
            .tx
            .send_request(now, request.clone(), retry.destination)
        {
            retry.request = request;
            retry.retried = true;
            self.byes.insert(key, retry);
        }
    }

    fn send_cancel(&mut self, now: Instant, id: SessionId) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        session.cancel_requested = true;
        let Some(invite) = session.invite.clone() else {
            return;
        };
        // §9.1: CANCEL copies Request-URI, Call-ID, To, From, CSeq number and the top Via.
        let mut headers = rsip::Headers::default();
        let mut via_done = false;
        for h in invite.headers.iter() {
            match h {
                Header::Via(_) if !via_done => {
                    headers.push(h.clone());
                    via_done = true;
                }
                Header::From(_)
                | Header::To(_)
                | Header::CallId(_)
                | Header::Route(_)
                | Header::MaxForwards(_) => headers.push(h.clone()),
                _ => {}
            }
        }
        let seq = invite.cseq().map_or(1, |(n, _)| n);
        push(&mut headers, "CSeq", &format!("{seq} CANCEL"));
        let cancel = Request {
            method: Method::Cancel,
            uri: invite.uri.clone(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        };
        let destination = session.dialog.destination;
        if let Some(key) = self.tx.send_request(now, cancel, destination) {
            self.owners.insert(key, Owner::Session(id));
        }
    }

    fn end_session(&mut self, id: SessionId, reason: TerminationReason) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        if session.state == SessionState::Terminated {
            return;
        }
        session.state = SessionState::Terminated;
        session.pending_2xx = None;
        if let Some(invite) = &session.invite
            && session.role == Role::Uas
            && let (Some(c), Some(f), Some((n, _))) =
                (invite.call_id(), invite.from_tag(), invite.cseq())
        {
            self.merged.remove(&(c, f, n));
        }
        self.by_dialog.remove(&session.dialog.id());
        // Keep owners of in-flight transactions (BYE) only as long as they live: they point at
        // a session that no longer exists and are ignored.
        self.sessions.remove(&id);
        self.owners.retain(|_, o| *o != Owner::Session(id));
        self.events.push_back(UaEvent::Terminated {
            session: id,
            reason,
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Session(SessionId),
    Registration(RegistrationId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UaTimer {
    Retransmit2xx(SessionId),
    AckTimeout(SessionId),
    Register(RegistrationId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Uac,
    Uas,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionState {
    /// UAC: INVITE sent, no dialog yet.
    Calling,
    /// UAC: early dialog.
    Early,
    /// UAS: INVITE received, not answered.
    Incoming,
    /// UAS: 2xx sent, waiting for ACK.
    WaitAck,
    /// Established.
    Confirmed,
    /// Over.
    Terminated,
}

/// A BYE in flight, kept so a 401/407 can be answered after its session is gone.
#[derive(Debug)]
struct ByeRetry {
    request: Request,
    destination: Destination,
    auth: Option<DigestClient>,
    retried: bool,
}

#[derive(Debug)]
struct Pending2xx {
    response: Response,
    interval: Duration,
    give_up: Instant,
}

#[derive(Debug)]
struct Session {
    role: Role,
    state: SessionState,
    dialog: Dialog,
    request_uri: String,
    contact: String,
    invite_key: Option<TransactionKey>,
    invite: Option<Request>,
    pending_2xx: Option<Pending2xx>,
    last_ack: Option<Request>,
    auth: Option<DigestClient>,
    auth_attempts: u8,
    extra_headers: Vec<(String, String)>,
    cancel_requested: bool,
    local_sdp: Vec<u8>,
    /// Where the INVITE came from (UAS) or went to (UAC): responses and 2xx retransmissions go here.
    invite_source: Destination,
    /// Our re-INVITE in progress (or the last one, to re-ACK retransmitted 2xx).
    reinvite_key: Option<TransactionKey>,
    /// The ACK of our last re-INVITE's 2xx.
    reinvite_ack: Option<Request>,
    /// Our re-INVITE has no final response yet.
    reinvite_pending: bool,
}

// ---- message helpers ----

fn push(headers: &mut rsip::Headers, name: &str, value: &str) {
    let header = match name.to_ascii_lowercase().as_str() {
        "via" => Header::Via(rsip::headers::Via::new(value)),
        "from" => Header::From(rsip::headers::From::new(value)),
        "to" => Header::To(rsip::headers::To::new(value)),
        "call-id" => Header::CallId(rsip::headers::CallId::new(value)),
        "cseq" => Header::CSeq(rsip::headers::CSeq::new(value)),
        "contact" => Header::Contact(rsip::headers::Contact::new(value)),
        "max-forwards" => Header::MaxForwards(rsip::headers::MaxForwards::new(value)),
        "route" => Header::Route(rsip::headers::Route::new(value)),
        "record-route" => Header::RecordRoute(rsip::headers::RecordRoute::new(value)),
        "content-type" => Header::ContentType(rsip::headers::ContentType::new(value)),
        "content-length" => Header::ContentLength(rsip::headers::ContentLength::new(value)),
        "expires" => Header::Expires(rsip::headers::Expires::new(value)),
        "authorization" => Header::Authorization(rsip::headers::Authorization::new(value)),
        "proxy-authorization" => {
            Header::ProxyAuthorization(rsip::headers::ProxyAuthorization::new(value))
        }
        _ => Header::Other(name.to_string(), value.to_string()),
    };
    headers.push(header);
}

fn set_body(headers: &mut rsip::Headers, body: &mut Vec<u8>, new: Vec<u8>, content_type: &str) {
    headers.retain(|h| !matches!(h, Header::ContentType(_) | Header::ContentLength(_)));
    if !new.is_empty() {
        push(headers, "Content-Type", content_type);
    }
    *body = new;
}

/// Builds a response to `request` (§8.2.6): Via, From, To (with `to_tag` if it has none),
/// Call-ID, CSeq copied.
fn make_response(request: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut headers = rsip::Headers::default();
    for h in request.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(to) => {
                let value = to.value().to_string();
                match to_tag {
                    Some(tag) if status != 100 && !value.to_ascii_lowercase().contains(";tag=") => {
                        push(&mut headers, "To", &format!("{value};tag={tag}"));
                    }
                    _ => headers.push(h.clone()),
                }
            }
            _ => {}
        }
    }
    Response {
        status_code: rsip::StatusCode::from(status),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// A 400 for a request that failed validation but whose essentials are readable.
fn bad_request_response(bytes: &[u8], reason: &str) -> Option<Response> {
    if bytes.len() > sip_message::MAX_MESSAGE_SIZE || bytes.starts_with(b"SIP/") {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let method = request_line.split(' ').next()?;
    if method == "ACK" || !request_line.ends_with("SIP/2.0") {
        return None;
    }
    let mut copy = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let name = name.trim().to_ascii_lowercase();
        let canonical = match name.as_str() {
            "via" | "v" => "Via",
            "from" | "f" => "From",
            "to" | "t" => "To",
            "call-id" | "i" => "Call-ID",
            "cseq" => "CSeq",
            _ => continue,
        };
        copy.push((canonical, value.trim().to_string()));
    }
    for needed in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if !copy.iter().any(|(n, _)| *n == needed) {
            return None;
        }
    }
    let mut headers = rsip::Headers::default();
    for (name, value) in copy {
        if value.chars().any(|c| c.is_control()) {
            return None;
        }
        push(&mut headers, name, &value);
    }
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    push(
        &mut headers,
        "Warning",
        &format!("399 switchboard \"{}\"", reason.replace('"', "'")),
    );
    Some(Response {
        status_code: rsip::StatusCode::from(400),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    })
}

/// RFC 3261 §18.2.1 and RFC 3581: record where a request really came from in its top Via.
fn fix_via(request: &mut Request, source: Destination) {
    let Some(Header::Via(via)) = request
        .headers
        .iter_mut()
        .find(|h| matches!(h, Header::Via(_)))
    else {
        return;
    };
    let value = via.value().to_string();
    let mut parts: Vec<String> = value.split(';').map(|s| s.to_string()).collect();
    let sent_by_host = parts
        .first()
        .and_then(|p| p.split_whitespace().nth(1))
        .map(|hp| {
            if let Some(rest) = hp.strip_prefix('[') {
                rest.split(']').next().unwrap_or(rest).to_string()
            } else {
                hp.split(':').next().unwrap_or(hp).to_string()
            }
        })
        .unwrap_or_default();
    let ip = source.addr.ip().to_string();
    let mut changed = false;
    for p in parts.iter_mut().skip(1) {
        if p.trim().eq_ignore_ascii_case("rport") {
            *p = format!("rport={}", source.addr.port());
            changed = true;
        }
    }
    if sent_by_host != ip
        && !parts
            .iter()
            .any(|p| p.trim().to_ascii_lowercase().starts_with("received="))
    {
        parts.push(format!("received={ip}"));
        changed = true;
    }
    if changed {
        *via = rsip::headers::Via::new(parts.join(";"));
    }
}

fn resolve_with(hosts: &HashMap<String, IpAddr>, uri: &str) -> Result<Destination, UaError> {
    let inner = uri_of_name_addr(uri).unwrap_or_else(|| uri.to_string());
    let parsed =
        rsip::Uri::try_from(inner.as_str()).map_err(|_| UaError::Unroutable(uri.to_string()))?;
    let transport = match parsed.transport() {
        Some(rsip::Transport::Tcp) => Transport::Tcp,
        _ => Transport::Udp,
    };
    let ip = match &parsed.host_with_port.host {
        rsip::Host::IpAddr(ip) => *ip,
        rsip::Host::Domain(domain) => {
            let name = domain.to_string().to_ascii_lowercase();
            if name == "localhost" {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                *hosts
                    .get(&name)
                    .ok_or_else(|| UaError::Unroutable(uri.to_string()))?
            }
        }
    };
    let port = parsed.host_with_port.port.map_or(5060, |p| *p.value());
    Ok(Destination {
        transport,
        addr: SocketAddr::new(ip, port),
    })
}

/// The URI inside a name-addr (`"A" <sip:a@b>;tag=1` → `sip:a@b`), or an addr-spec up to its
/// parameters.
fn uri_of_name_addr(value: &str) -> Option<String> {
    if let Some(start) = value.find('<') {
        let end = value[start..].find('>')? + start;
        return Some(value[start + 1..end].trim().to_string());
    }
    let v = value.trim();
    if v.is_empty() || v == "*" {
        return None;
    }
    Some(v.split(';').next().unwrap_or(v).trim().to_string())
}

fn strip_tag(value: &str) -> String {
    let mut out = Vec::new();
    let (head, params) = match value.rfind('>') {
        Some(i) => (&value[..=i], &value[i + 1..]),
        None => {
            let mut it = value.splitn(2, ';');
            (
                it.next().unwrap_or(""),
                it.next()
                    .map_or("", |_| &value[value.find(';').unwrap_or(value.len())..]),
            )
        }
    };
    out.push(head.to_string());
    for p in params.split(';').filter(|p| !p.trim().is_empty()) {
        if !p.trim().to_ascii_lowercase().starts_with("tag=") {
            out.push(p.to_string());
        }
    }
    out.join(";")
}

fn with_tag(value: &str, tag: &str) -> String {
    if tag.is_empty() || value.to_ascii_lowercase().contains(";tag=") {
        value.to_string()
    } else {
        format!("{value};tag={tag}")
    }
}

fn contact_uri(user: &str, local: SocketAddr, transport: Transport) -> String {
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(*c))
        .collect();
    let user = if user.is_empty() {
        "switchboard".to_string()
    } else {
        user
    };
    match transport {
        Transport::Udp => format!("sip:{user}@{local}"),
        Transport::Tcp => format!("sip:{user}@{local};transport=tcp"),
    }
}

fn granted_expires(response: &Response) -> Option<u32> {
    for contact in response.header_values("Contact") {
        for param in contact.split(';').skip(1) {
            if let Some(v) = param.trim().strip_prefix("expires=")
                && let Ok(n) = v.trim().parse()
            {
                return Some(n);
            }
        }
    }
    response
        .header_value("Expires")
        .and_then(|v| v.trim().parse().ok())
}

fn random_hex(len: usize) -> String {
    let mut s = String::with_capacity(len);
    while s.len() < len {
        s.push_str(&format!("{:016x}", rand::random::<u64>()));
    }
    s.truncate(len);
    s
}
