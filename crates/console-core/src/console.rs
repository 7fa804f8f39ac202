//! The sans-IO console: calls over the SIP user agent.

use crate::command::{Command, Reply};
use crate::error::ConsoleError;
use crate::event::{Event, EventBody};
use crate::media::{self, MediaCommand, MediaState};
use crate::model::{AccountStatus, Call, CallId, CallState, Direction, EndReason};
use crate::target::Target;
use chrono::{DateTime, Utc};
use media_engine::sdp::Direction as MediaDirection;
use sip_message::MessageExt;
use sip_message::rsip;
use sip_proto::auth::Credentials;
use sip_proto::registration::{RegistrationId, RegistrationState};
use sip_proto::{
    Destination, InviteParams, RegistrationParams, SessionId, TerminationReason, TimerConfig,
    Transmit, Transport, UaConfig, UaEvent, UserAgent,
};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// One SIP account (registrar / outbound proxy and credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// Name shown in the UI and used in events.
    pub name: String,
    /// Registrar URI, e.g. `sip:pbx.example.com:5060`; also the outbound proxy for calls to
    /// digits and `tel:` numbers.
    pub registrar: String,
    /// Auth and AOR user.
    pub username: String,
    /// Auth password.
    pub password: String,
    /// AOR domain; defaults to the registrar's host.
    pub domain: Option<String>,
    /// Transport towards the registrar.
    pub transport: Transport,
    /// Requested registration lifetime in seconds.
    pub expires: u32,
    /// Whether to REGISTER at all (false: use the account only for routing and auth).
    pub register: bool,
}

/// The console's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleConfig {
    /// Answer inbound calls at once.
    pub auto_answer: bool,
    /// SIP accounts.
    pub accounts: Vec<AccountConfig>,
    /// The user part of our own URI when no account applies.
    pub local_user: String,
    /// The `User-Agent`/`Server` header.
    pub user_agent: String,
    /// SIP timer base values.
    pub timers: TimerConfig,
    /// Cold transfers put the caller on hold (re-INVITE `a=sendonly`) before the REFER, as
    /// RFC 5589 recommends. Off by default: several trunks dislike it.
    pub hold_before_refer: bool,
    /// Caller ID of an anchored transfer's target leg when the request names none: `None` for
    /// the console's own identity, `"caller"` for the caller's URI, or a `sip:`/`tel:` URI.
    pub anchored_caller_id: Option<String>,
    /// With the caller's URI as caller ID, add `Diversion: <our URI>;reason=unconditional`
    /// (RFC 5806), which some trunks require before they pass a foreign caller ID.
    pub anchored_diversion: bool,
    /// Webhook receivers of transfer events.
    pub webhooks: Vec<WebhookConfig>,
    /// Audio codecs in preference order (what we offer, what we accept).
    pub codecs: Vec<media_engine::CodecKind>,
    /// First RTP port (even); calls take the next free even port above it.
    pub rtp_port_base: u16,
    /// Number of RTP ports available from `rtp_port_base`.
    pub rtp_port_count: u16,
    /// The attendant's contacts (`[[contacts]]`), for suggestions.
    pub contacts: Vec<crate::model::Contact>,
}

/// One webhook receiver: transfer events are POSTed to `url` as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `http://` URL.
    pub url: String,
    /// Key of the `X-Switchboard-Signature: sha256=<hex HMAC of the body>` header.
    pub secret: Option<String>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            auto_answer: false,
            accounts: Vec::new(),
            local_user: "switchboard".into(),
            user_agent: concat!("Switchboard/", env!("CARGO_PKG_VERSION")).into(),
            timers: TimerConfig::default(),
            hold_before_refer: false,
            anchored_caller_id: None,
            anchored_diversion: false,
            webhooks: Vec::new(),
            codecs: vec![
                media_engine::CodecKind::Pcmu,
                media_engine::CodecKind::Pcma,
                media_engine::CodecKind::Opus,
            ],
            rtp_port_base: 20_000,
            rtp_port_count: 10_000,
            contacts: Vec::new(),
        }
    }
}

/// How many ended calls stay in memory for `GetCall` (the history has them all).
const RECENT_ENDED: usize = 256;

/// The console engine: calls over the SIP user agent, sans-IO.
///
/// Drive it like the user agent below it: after [`Console::start`], every
/// [`Console::handle_datagram`], [`Console::handle_timeout`] and [`Console::handle_command`],
/// drain [`Console::poll_transmit`] and [`Console::poll_event`], then wait for the next input or
/// [`Console::poll_timeout`].
pub struct Console {
    pub(crate) config: ConsoleConfig,
    pub(crate) ua: UserAgent,
    pub(crate) local: Vec<(Transport, SocketAddr)>,
    pub(crate) calls: HashMap<CallId, Entry>,
    pub(crate) by_session: HashMap<SessionId, CallId>,
    pub(crate) recent_ended: VecDeque<Call>,
    pub(crate) accounts: Vec<AccountEntry>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) epoch: (Instant, DateTime<Utc>),
    /// Set while an INVITE with Replaces is being turned into a call: the call it replaces.
    pub(crate) replacing: Option<CallId>,
    pub(crate) next_rtp_port: u16,
    /// Commands for the media worker.
    pub(crate) media_out: VecDeque<MediaCommand>,
    /// The attendant's sound devices, as the runtime last reported them.
    pub(crate) audio: crate::audio::AudioStatus,
    /// An event was emitted since the ring alert was last brought up to date.
    pub(crate) calls_changed: bool,
}

pub(crate) struct Entry {
    pub(crate) call: Call,
    /// The transfer in progress, if any.
    pub(crate) transfer: Option<crate::transfer::TransferRuntime>,
    pub(crate) session: SessionId,
    /// Set when the attendant ended the call, to tell a local hangup from a remote one.
    pub(crate) local_end: Option<EndReason>,
    /// The call's media negotiation.
    pub(crate) media: Option<MediaState>,
    /// Our re-INVITE in flight: `Some(true)` holds, `Some(false)` resumes.
    pub(crate) pending_hold: Option<bool>,
    /// The peer said `Supported: replaces` (or `Require`): it can follow an attended transfer.
    pub(crate) peer_supports_replaces: bool,
    /// For a consultation call: the caller's call it consults for.
    pub(crate) consult_for: Option<CallId>,
    /// For the target leg of an anchored transfer: the caller's call it serves.
    pub(crate) anchored_for: Option<CallId>,
    /// The attendant hears ringback generated here (an outbound call rings without early media).
    pub(crate) local_ringback: bool,
}

pub(crate) struct AccountEntry {
    pub(crate) config: AccountConfig,
    pub(crate) registration: Option<RegistrationId>,
    pub(crate) status: AccountStatus,
}

impl Console {
    /// A console advertising `local` (one address per bound transport) in Via, Contact and SDP.
    /// `hosts` are names the runtime resolved (registrars, proxies). `now`/`wall` pin the clock.
    pub fn new(
        config: ConsoleConfig,
        local: Vec<(Transport, SocketAddr)>,
        hosts: HashMap<String, IpAddr>,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Self {
        let ua = UserAgent::new(UaConfig {
            timers: config.timers,
            user_agent: config.user_agent.clone(),
            local: local.clone(),
            hosts,
        });
        let accounts = config
            .accounts
            .iter()
            .map(|a| AccountEntry {
                status: AccountStatus {
                    name: a.name.clone(),
                    aor: a.aor(),
                    registered: false,
                    status: None,
                    expires_in: None,
                },
                config: a.clone(),
                registration: None,
            })
            .collect();
        Self {
            config,
            ua,
            local,
            calls: HashMap::new(),
            by_session: HashMap::new(),
            recent_ended: VecDeque::new(),
            accounts,
            events: VecDeque::new(),
            epoch: (now, wall),
            replacing: None,
            next_rtp_port: 0,
            media_out: VecDeque::new(),
            audio: crate::audio::AudioStatus::default(),
            calls_changed: false,
        }
    }

    /// Sends the first REGISTER of every account that registers.
    pub fn start(&mut self, now: Instant) {
        for i in 0..self.accounts.len() {
            let account = &self.accounts[i].config;
            if !account.register {
                continue;
            }
            let params = RegistrationParams {
                aor: account.aor(),
                registrar: account.registrar_uri(),
                transport: account.transport,
                expires: account.expires,
                credentials: account.credentials(),
            };
            match self.ua.register(now, params) {
                Ok(id) => self.accounts[i].registration = Some(id),
                Err(error) => {
                    tracing::warn!(account = %self.accounts[i].config.name, %error, "cannot register");
                    let account = self.accounts[i].status.clone();
                    self.emit(
                        now,
                        None,
                        EventBody::AccountRegistrationFailed {
                            account,
                            reason: error.to_string(),
                        },
                    );
                }
            }
        }
        self.pump(now);
    }

    /// Feeds one received SIP message.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8], source: Destination) {
        self.ua.handle_datagram(now, bytes, source);
        self.pump(now);
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ua.handle_timeout(now);
        self.pump(now);
        self.check_transfer_deadlines(now);
        self.pump(now);
    }

    /// Runs a command. `History` is answered by the runtime (it owns storage) and is refused here.
    pub fn handle_command(
        &mut self,
        now: Instant,
        command: Command,
    ) -> Result<Reply, ConsoleError> {
        let result = self.command(now, command);
        self.pump(now);
        result
    }

    /// Hangs up every call and removes registrations; keep driving until
    /// [`Console::is_quiescent`] or a deadline.
    pub fn shutdown(&mut self, now: Instant) {
        let ids: Vec<CallId> = self.calls.keys().cloned().collect();
        for id in ids {
            if let Some(entry) = self.calls.get_mut(&id) {
                entry.local_end = Some(EndReason::Shutdown);
                let session = entry.session;
                if self.ua.hangup(now, session).is_err() {
                    self.finish(now, &id, EndReason::Shutdown, None);
                }
            }
        }
        self.ua.unregister_all(now);
        self.pump(now);
    }

    /// True when no un-REGISTER is pending and no call is left (safe to stop after
    /// [`Console::shutdown`]).
    pub fn is_quiescent(&self) -> bool {
        !self.ua.unregistering() && self.calls.is_empty()
    }

    /// Ends every call still listed (the peer never confirmed our BYE/CANCEL in time) with
    /// reason `shutdown`, so the history records how it ended. Call last, before exiting.
    pub fn abandon_all(&mut self, now: Instant) {
        let ids: Vec<CallId> = self.calls.keys().cloned().collect();
        for id in ids {
            self.finish(now, &id, EndReason::Shutdown, None);
        }
    }

    /// Next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ua.poll_transmit()
    }

    /// Next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Console::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.ua.poll_timeout(), self.transfer_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Live calls, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls: Vec<Call> = self.calls.values().map(|e| e.call.clone()).collect();
        calls.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
        calls
    }

    /// The host name a command needs resolved before it can run (a dial or consultation to
    /// `sip:user@host.example.com` whose host is unknown). The runtime resolves it, calls
    /// [`Console::add_host`], then runs the command.
    pub fn unresolved_host(&self, command: &Command) -> Option<String> {
        let to = match command {
            Command::Dial { to } | Command::Consult { to, .. } => to,
            _ => return None,
        };
        match Target::parse(to).ok()? {
            Target::Sip(uri) => self.ua.unresolved_host(&uri),
            _ => None,
        }
    }

    /// Records an address for a host name (see [`Console::unresolved_host`]).
    pub fn add_host(&mut self, name: &str, ip: IpAddr) {
        self.ua.add_host(name, ip);
    }

    /// Counters of the SIP layer (malformed messages seen...).
    pub fn sip_stats(&self) -> sip_proto::ua::UaStats {
        self.ua.stats()
    }

    // ---- commands ----

    fn command(&mut self, now: Instant, command: Command) -> Result<Reply, ConsoleError> {
        match command {
            Command::ListCalls => Ok(Reply::Calls(self.calls())),
            Command::GetCall(id) => self.get(&id).map(Reply::Call),
            Command::Dial { to } => self.dial(now, &to).map(Reply::Call),
            Command::Answer(id) => {
                let entry = self.live(&id)?;
                if entry.call.state != CallState::Ringing
                    || entry.call.direction != Direction::Inbound
                {
                    return Err(wrong_state(&entry.call, "answer"));
                }
                let session = entry.session;
                self.answer(now, &id, session)?;
                self.get(&id).map(Reply::Call)
            }
            Command::Reject(id) => {
                let entry = self.live(&id)?;
                if entry.call.state != CallState::Ringing
                    || entry.call.direction != Direction::Inbound
                {
                    return Err(wrong_state(&entry.call, "reject"));
                }
                let session = entry.session;
                if let Some(e) = self.calls.get_mut(&id) {
                    e.local_end = Some(EndReason::Rejected);
                }
                self.ua
                    .reject(now, session, 603)
                    .map_err(|_| ConsoleError::Unavailable)?;
                self.pump(now);
                self.get(&id).map(Reply::Call)
            }
            Command::Hangup(id) => {
                let entry = self.live(&id)?;
                let session = entry.session;
                let reason = match (entry.call.direction, entry.call.state) {
                    (Direction::Inbound, CallState::Ringing) => EndReason::Rejected,
                    (Direction::Outbound, CallState::Dialing | CallState::Early) => {
                        EndReason::Cancelled
                    }
                    _ => EndReason::LocalHangup,
                };
                if let Some(e) = self.calls.get_mut(&id) {
                    e.local_end = Some(reason);
                }
                if self.ua.hangup(now, session).is_err() {
                    self.finish(now, &id, reason, None);
                }
                self.pump(now);
                self.get(&id).map(Reply::Call)
            }
            Command::ListAccounts => Ok(Reply::Accounts(self.account_statuses(now))),
            Command::Transfer { call, request } => self.start_transfer(now, &call, request),
            Command::CancelTransfer(call) => self.cancel_transfer(now, &call),
            Command::Consult { call, to } => self.consult(now, &call, &to),
            Command::CompleteTransfer(call) => self.complete_attended(now, &call),
            Command::SendDtmf { call, digits } => {
                self.send_dtmf(&call, &digits)?;
                self.get(&call).map(Reply::Call)
            }
            Command::Hold(call) => self.hold(now, &call, true),
            Command::Resume(call) => self.hold(now, &call, false),
            Command::Mute(call) => self.set_muted(&call, true),
            Command::Unmute(call) => self.set_muted(&call, false),
            Command::Listen(call) => self.listen(now, &call, true),
            Command::Unlisten(call) => self.listen(now, &call, false),
            Command::History { .. } => Err(ConsoleError::BadRequest(
                "history is served by the runtime's storage".into(),
            )),
            Command::GetAudio => Ok(Reply::Audio(self.audio_status())),
            Command::AttendantTone(tone) => Ok(Reply::Audio(self.attendant_tone(tone))),
            Command::ListContacts => Ok(Reply::Contacts(self.config.contacts.clone())),
            Command::ListAudioDevices | Command::SetAudioDevice { .. } | Command::GetLadder(_) => {
                Err(ConsoleError::BadRequest("served by the runtime".into()))
            }
        }
    }

    /// The console's own identity: the first account's address of record, else
    /// `sip:<local user>@<first bound address>`.
    pub(crate) fn own_uri(&self) -> String {
        match self.accounts.first() {
            Some(a) => a.config.aor(),
            None => {
                let local = self
                    .local
                    .first()
                    .map(|(_, a)| a.to_string())
                    .unwrap_or_default();
                format!("sip:{}@{local}", self.config.local_user)
            }
        }
    }

    pub(crate) fn dial(&mut self, now: Instant, to: &str) -> Result<Call, ConsoleError> {
        self.dial_as(now, to, None, Vec::new())
    }

    /// Dials `to`; `caller_id` replaces our From URI and is asserted with
    /// P-Asserted-Identity (RFC 3325), for anchored transfers that show the caller's number.
    pub(crate) fn dial_as(
        &mut self,
        now: Instant,
        to: &str,
        caller_id: Option<String>,
        headers: Vec<(String, String)>,
    ) -> Result<Call, ConsoleError> {
        let target = Target::parse(to)?;
        let account = self.accounts.first().map(|a| a.config.clone());
        let (request_uri, proxy) = match &target {
            Target::Sip(uri) => (uri.clone(), None),
            Target::Tel(_) | Target::Digits(_) => {
                let account = account
                    .as_ref()
                    .ok_or_else(|| ConsoleError::NoRoute(to.to_string()))?;
                let uri = target
                    .to_request_uri(Some(&account.domain()))
                    .ok_or_else(|| ConsoleError::NoRoute(to.to_string()))?;
                (uri, Some(account.registrar_uri()))
            }
        };
        let from_uri = caller_id.clone().unwrap_or_else(|| self.own_uri());
        let mut extra_headers = match &caller_id {
            Some(uri) => vec![("P-Asserted-Identity".to_string(), format!("<{uri}>"))],
            None => Vec::new(),
        };
        extra_headers.extend(headers);
        let transport_of = |uri: &str| {
            if uri.to_ascii_lowercase().contains("transport=tcp") {
                Transport::Tcp
            } else {
                Transport::Udp
            }
        };
        let rtp_ip = self.rtp_ip(transport_of(proxy.as_deref().unwrap_or(&request_uri)));
        let new_id = CallId::random();
        let mut media_state = self.media_open(&new_id, rtp_ip);
        media_state.caps.session_version += 1;
        media_state.offer_pending = true;
        let offer = media_engine::sdp::create_offer(&media_state.caps, MediaDirection::SendRecv)
            .into_bytes();
        let params = InviteParams {
            request_uri: request_uri.clone(),
            from: format!("<{from_uri}>"),
            to: format!("<{request_uri}>"),
            contact_user: account
                .as_ref()
                .map_or(self.config.local_user.clone(), |a| a.username.clone()),
            outbound_proxy: proxy,
            credentials: account.as_ref().map(AccountConfig::credentials),
            headers: extra_headers,
            sdp: offer,
        };
        let session = self.ua.invite(now, params).map_err(|e| {
            // Nothing was sent: release the media we prepared.
            self.media_out.push_back(MediaCommand::Close {
                call: new_id.clone(),
            });
            ConsoleError::InvalidTarget {
                target: to.to_string(),
                reason: e.to_string(),
            }
        })?;
        let call_id = self
            .ua
            .dialog(session)
            .map(|d| d.call_id.clone())
            .unwrap_or_default();
        let call = Call {
            id: new_id,
            direction: Direction::Outbound,
            state: CallState::Dialing,
            remote_uri: request_uri,
            remote_display: None,
            local_uri: from_uri,
            started_at: self.wall(now),
            answered_at: None,
            ended_at: None,
            end_reason: None,
            sip_status: None,
            sip_call_id: call_id,
            transfer: None,
            muted: false,
            held_by: None,
            codec: None,
            quality: None,
            bridged_with: None,
            listening: false,
        };
        tracing::info!(call = %call.id, to = %call.remote_uri, "dialing");
        self.by_session.insert(session, call.id.clone());
        self.calls.insert(
            call.id.clone(),
            Entry {
                call: call.clone(),
                session,
                local_end: None,
                transfer: None,
                media: Some(media_state),
                pending_hold: None,
                peer_supports_replaces: false,
                consult_for: None,
                anchored_for: None,
                local_ringback: false,
            },
        );
        self.emit(
            now,
            Some(call.id.clone()),
            EventBody::CallDialing { call: call.clone() },
        );
        Ok(call)
    }

    pub(crate) fn answer(
        &mut self,
        now: Instant,
        id: &CallId,
        session: SessionId,
    ) -> Result<(), ConsoleError> {
        let offer = self
            .ua
            .invite_request(session)
            .map(|r| r.body.clone())
            .unwrap_or_default();
        let wall = self.wall(now);
        let body = if offer.is_empty() {
            // Late offer: ours goes in the 200, the answer comes in the ACK.
            self.media_offer(id, MediaDirection::SendRecv)
        } else {
            match self.media_answer(id, &offer, MediaDirection::SendRecv) {
                Ok(body) => body,
                Err(error) => {
                    // RFC 3264 §6: nothing we can accept; 488 Not Acceptable Here (400 for
                    // SDP that does not parse).
                    tracing::info!(call = %id, %error, "refusing the offer");
                    if let Some(e) = self.calls.get_mut(id) {
                        e.local_end = Some(EndReason::Failed);
                    }
                    self.ua
                        .reject(now, session, error.status_code())
                        .map_err(|_| ConsoleError::Unavailable)?;
                    self.pump(now);
                    return Ok(());
                }
            }
        };
        self.ua
            .answer(now, session, body)
            .map_err(|_| ConsoleError::Unavailable)?;
        self.set_state(now, id, CallState::Active);
        if let Some(entry) = self.calls.get_mut(id) {
            entry.call.answered_at = Some(wall);
            entry.call.sip_status = Some(200);
            let call = entry.call.clone();
            tracing::info!(call = %id, "answered");
            self.emit(now, Some(id.clone()), EventBody::CallAnswered { call });
        }
        Ok(())
    }

    // ---- SIP events ----

    pub(crate) fn pump(&mut self, now: Instant) {
        while let Some(event) = self.ua.poll_event() {
            self.on_ua_event(now, event);
        }
    }

    fn on_ua_event(&mut self, now: Instant, event: UaEvent) {
        match event {
            UaEvent::IncomingCall { session, request } => self.on_incoming(now, session, &request),
            UaEvent::Progress {
                session,
                status,
                body,
            } => {
                let Some(id) = self.by_session.get(&session).cloned() else {
                    return;
                };
                // 183 with SDP: early media from the far end.
                self.media_early(&id, &body);
                if !body.is_empty() {
                    self.anchored_early_media(now, &id);
                }
                if status >= 180 {
                    self.set_state(now, &id, CallState::Early);
                    // Early media (a 183 with SDP, now or before) plays instead of ringback.
                    let early_media = self
                        .calls
                        .get(&id)
                        .and_then(|e| e.media.as_ref())
                        .is_some_and(|m| m.negotiated.is_some());
                    self.local_ringback(&id, !early_media);
                    if let Some(entry) = self.calls.get_mut(&id) {
                        entry.call.sip_status = Some(status);
                        let call = entry.call.clone();
                        self.emit(
                            now,
                            Some(id),
                            EventBody::CallRinging {
                                call,
                                sip_status: status,
                            },
                        );
                    }
                }
            }
            UaEvent::Answered { session, response } => {
                let Some(id) = self.by_session.get(&session).cloned() else {
                    return;
                };
                let wall = self.wall(now);
                self.local_ringback(&id, false);
                self.media_process_answer(&id, &response.body);
                if let Some(entry) = self.calls.get_mut(&id) {
                    entry.peer_supports_replaces = supports_replaces(&*response);
                    entry.call.answered_at = Some(wall);
                    entry.call.sip_status = Some(response.status_code.code());
                    if let Some(to) = response.header_value("To") {
                        entry.call.remote_display = display_name(to);
                    }
                }
                // Link the legs first, so the target's call.answered already names its partner.
                self.anchored_link(&id);
                self.set_state(now, &id, CallState::Active);
                if let Some(call) = self.calls.get(&id).map(|e| e.call.clone()) {
                    tracing::info!(call = %id, "answered by remote");
                    self.emit(now, Some(id.clone()), EventBody::CallAnswered { call });
                }
                self.consult_answered(now, &id);
                self.anchored_answered(now, &id);
            }
            UaEvent::Confirmed { session, body } => {
                // The answer to a late offer (our offer went in the 200).
                if let Some(id) = self.by_session.get(&session).cloned() {
                    self.media_process_answer(&id, &body);
                }
            }
            UaEvent::Terminated { session, reason } => {
                let Some(id) = self.by_session.remove(&session) else {
                    return;
                };
                self.transfer_leg_ended(now, &id);
                self.consult_ended(now, &id, status_of(&reason));
                self.anchored_leg_ended(now, &id, &reason);
                let local_end = self.calls.get(&id).and_then(|e| e.local_end);
                let (end_reason, status) = match reason {
                    TerminationReason::LocalBye => {
                        (local_end.unwrap_or(EndReason::LocalHangup), None)
                    }
                    TerminationReason::RemoteBye => (EndReason::RemoteHangup, None),
                    TerminationReason::Cancelled => {
                        (local_end.unwrap_or(EndReason::Cancelled), Some(487))
                    }
                    TerminationReason::Rejected(code) => {
                        (local_end.unwrap_or(EndReason::Rejected), Some(code))
                    }
                    TerminationReason::Failed(code) => (EndReason::Failed, Some(code)),
                    TerminationReason::Timeout => (EndReason::Timeout, Some(408)),
                    TerminationReason::NoAck => (EndReason::Failed, None),
                };
                self.finish(now, &id, end_reason, status);
            }
            UaEvent::InDialogRequest {
                session,
                key,
                request,
            } => {
                let sdp_body = match request.method {
                    rsip::Method::Invite | rsip::Method::Update if !request.body.is_empty() => {
                        let Some(id) = self.by_session.get(&session).cloned() else {
                            let _ = self.ua.respond(now, &key, &request, 481, vec![], None);
                            return;
                        };
                        let we_hold = self
                            .calls
                            .get(&id)
                            .is_some_and(|e| e.call.held_by == Some(crate::model::HoldSide::Local));
                        let wanted = if we_hold {
                            MediaDirection::SendOnly
                        } else {
                            MediaDirection::SendRecv
                        };
                        match self.media_answer(&id, &request.body, wanted) {
                            Ok(body) => Some(body),
                            Err(error) => {
                                let status = error.status_code();
                                let _ = self.ua.respond(now, &key, &request, status, vec![], None);
                                return;
                            }
                        }
                    }
                    rsip::Method::Invite => {
                        // An offerless re-INVITE: our offer goes in the 200.
                        self.by_session
                            .get(&session)
                            .cloned()
                            .map(|id| self.media_offer(&id, MediaDirection::SendRecv))
                    }
                    _ => None,
                };
                if request.method == rsip::Method::Info {
                    self.on_info(now, session, &request);
                }
                if request.method == rsip::Method::Notify {
                    self.on_notify(now, session, &key, &request);
                    return;
                }
                let status = match request.method {
                    // We do not act as transferee yet.
                    rsip::Method::Refer => 501,
                    _ => 200,
                };
                let mut headers = Vec::new();
                if matches!(request.method, rsip::Method::Invite | rsip::Method::Update) {
                    if let Some(contact) = self.ua.local_contact(session) {
                        headers.push(("Contact".to_string(), format!("<{contact}>")));
                    }
                    headers.push(("Allow".to_string(), sip_proto::ua::ALLOW.to_string()));
                }
                let has_offer = sdp_body.is_some() && !request.body.is_empty();
                let body = sdp_body.map(|b| ("application/sdp", b));
                let _ = self.ua.respond(now, &key, &request, status, headers, body);
                if has_offer {
                    self.on_remote_direction(now, session, media::direction_of(&request.body));
                }
            }
            UaEvent::ReinviteResponse {
                session,
                status,
                body,
            } => self.on_reinvite_result(now, session, status, &body),
            UaEvent::InDialogResponse {
                session,
                method,
                response,
            } => self.on_in_dialog_response(now, session, method, response.as_deref()),
            UaEvent::Registration { id, state, status } => {
                self.on_registration(now, id, state, status)
            }
        }
    }

    fn on_incoming(&mut self, now: Instant, session: SessionId, request: &rsip::Request) {
        if self.on_incoming_replaces(now, session, request) {
            return;
        }
        let from = request.header_value("From").unwrap_or_default();
        let remote_uri = uri_in(from).unwrap_or_else(|| from.to_string());
        let local_uri = request
            .header_value("To")
            .and_then(uri_in)
            .unwrap_or_else(|| request.uri.to_string());
        let call = Call {
            id: CallId::random(),
            direction: Direction::Inbound,
            state: CallState::Ringing,
            remote_uri,
            remote_display: display_name(from),
            local_uri,
            started_at: self.wall(now),
            answered_at: None,
            ended_at: None,
            end_reason: None,
            sip_status: None,
            sip_call_id: request.call_id().unwrap_or_default(),
            transfer: None,
            muted: false,
            held_by: None,
            codec: None,
            quality: None,
            bridged_with: None,
            listening: false,
        };
        let id = call.id.clone();
        tracing::info!(call = %id, from = %call.remote_uri, "incoming call");
        self.by_session.insert(session, id.clone());
        let transport = self
            .ua
            .dialog(session)
            .map_or(Transport::Udp, |d| d.destination.transport);
        let media_ip = self.rtp_ip(transport);
        let media_state = self.media_open(&id, media_ip);
        self.calls.insert(
            id.clone(),
            Entry {
                call: call.clone(),
                session,
                local_end: None,
                transfer: None,
                media: Some(media_state),
                pending_hold: None,
                peer_supports_replaces: false,
                consult_for: None,
                anchored_for: None,
                local_ringback: false,
            },
        );
        if let Some(entry) = self.calls.get_mut(&id) {
            entry.peer_supports_replaces = supports_replaces(request);
        }
        self.emit(now, Some(id.clone()), EventBody::CallIncoming { call });
        if self.replacing.is_some() {
            self.finish_replacement(now, &id, session);
            return;
        }
        if self.config.auto_answer {
            if let Err(error) = self.answer(now, &id, session) {
                tracing::warn!(call = %id, %error, "auto-answer failed");
            }
        } else {
            let _ = self.ua.ringing(now, session, 180, Vec::new());
        }
    }

    fn on_registration(
        &mut self,
        now: Instant,
        id: RegistrationId,
        state: RegistrationState,
        status: Option<u16>,
    ) {
        let Some(index) = self
            .accounts
            .iter()
            .position(|a| a.registration == Some(id))
        else {
            return;
        };
        let entry = &mut self.accounts[index];
        entry.status.status = status.or(entry.status.status);
        match state {
            RegistrationState::Registered { until } => {
                entry.status.registered = true;
                entry.status.expires_in = Some(until.saturating_duration_since(now).as_secs());
                let account = entry.status.clone();
                tracing::info!(account = %account.name, "registered");
                self.emit(now, None, EventBody::AccountRegistered { account });
            }
            RegistrationState::Failed { status } => {
                entry.status.registered = false;
                entry.status.expires_in = None;
                let account = entry.status.clone();
                let reason = if status == 0 {
                    "the registrar did not answer".to_string()
                } else {
                    format!("the registrar answered {status}")
                };
                tracing::warn!(account = %account.name, %reason, "registration failed");
                self.emit(
                    now,
                    None,
                    EventBody::AccountRegistrationFailed { account, reason },
                );
            }
            RegistrationState::Unregistered => {
                entry.status.registered = false;
                entry.status.expires_in = None;
            }
            RegistrationState::Registering => {}
        }
    }

    // ---- helpers ----

    fn account_statuses(&self, now: Instant) -> Vec<AccountStatus> {
        self.accounts
            .iter()
            .map(|a| {
                let mut status = a.status.clone();
                if let Some((RegistrationState::Registered { until }, _)) =
                    a.registration.and_then(|id| self.ua.registration(id))
                {
                    status.registered = until > now;
                    status.expires_in = Some(until.saturating_duration_since(now).as_secs());
                }
                status
            })
            .collect()
    }

    pub(crate) fn finish(
        &mut self,
        now: Instant,
        id: &CallId,
        reason: EndReason,
        status: Option<u16>,
    ) {
        self.media_close(id);
        let Some(mut entry) = self.calls.remove(id) else {
            return;
        };
        self.by_session.remove(&entry.session);
        entry.call.state = CallState::Ended;
        entry.call.end_reason = Some(reason);
        entry.call.ended_at = Some(self.wall(now));
        if status.is_some() {
            entry.call.sip_status = status;
        }
        tracing::info!(call = %id, reason = reason.as_str(), "call ended");
        let call = entry.call;
        self.recent_ended.push_back(call.clone());
        if self.recent_ended.len() > RECENT_ENDED {
            self.recent_ended.pop_front();
        }
        self.emit(now, Some(id.clone()), EventBody::CallEnded { call });
    }

    pub(crate) fn set_state(&mut self, _now: Instant, id: &CallId, state: CallState) {
        if let Some(entry) = self.calls.get_mut(id)
            && entry.call.state != state
        {
            tracing::info!(call = %id, from = ?entry.call.state, to = ?state, "call state");
            entry.call.state = state;
        }
    }

    pub(crate) fn live(&self, id: &CallId) -> Result<&Entry, ConsoleError> {
        if let Some(entry) = self.calls.get(id) {
            return Ok(entry);
        }
        match self.recent_ended.iter().find(|c| &c.id == id) {
            Some(call) => Err(wrong_state(call, "do that to an ended call")),
            None => Err(ConsoleError::CallNotFound(id.clone())),
        }
    }

    pub(crate) fn get(&self, id: &CallId) -> Result<Call, ConsoleError> {
        self.calls
            .get(id)
            .map(|e| e.call.clone())
            .or_else(|| self.recent_ended.iter().find(|c| &c.id == id).cloned())
            .ok_or_else(|| ConsoleError::CallNotFound(id.clone()))
    }

    pub(crate) fn emit(&mut self, now: Instant, call_id: Option<CallId>, body: EventBody) {
        let at = self.wall(now);
        // Only these can start or end an inbound call's ringing (see `update_ring_alert`);
        // media figures (two a second per call) must not cost a scan of every call.
        if matches!(
            body,
            EventBody::CallIncoming { .. }
                | EventBody::CallAnswered { .. }
                | EventBody::CallEnded { .. }
        ) {
            self.calls_changed = true;
        }
        self.events.push_back(Event { at, call_id, body });
    }

    pub(crate) fn wall(&self, now: Instant) -> DateTime<Utc> {
        let elapsed = now.saturating_duration_since(self.epoch.0);
        self.epoch.1 + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    pub(crate) fn rtp_ip(&self, transport: Transport) -> IpAddr {
        self.local
            .iter()
            .find(|(t, _)| *t == transport)
            .or(self.local.first())
            .map_or(IpAddr::from([127, 0, 0, 1]), |(_, a)| a.ip())
    }

    /// SIP INFO with `application/dtmf-relay` (or `application/dtmf`): a digit from the peer.
    fn on_info(&mut self, now: Instant, session: SessionId, request: &rsip::Request) {
        let Some(id) = self.by_session.get(&session).cloned() else {
            return;
        };
        let content_type = request.content_type().unwrap_or_default();
        let body = String::from_utf8_lossy(&request.body);
        let digit = match content_type.as_str() {
            "application/dtmf-relay" => media_engine::dtmf::parse_dtmf_relay(&body).map(|(d, _)| d),
            "application/dtmf" => body
                .trim()
                .chars()
                .next()
                .filter(|c| c.is_ascii_digit() || "*#ABCD".contains(*c)),
            _ => None,
        };
        if let Some(digit) = digit {
            self.dtmf_received(now, &id, digit, "info");
        }
    }

    /// The next RTP port (even; RTCP takes the odd one above) from the configured range.
    pub(crate) fn allocate_rtp_port(&mut self) -> u16 {
        let count = self.config.rtp_port_count.max(2);
        self.next_rtp_port = (self.next_rtp_port + 2) % count;
        self.config.rtp_port_base.saturating_add(self.next_rtp_port) & !1
    }
}

impl AccountConfig {
    /// The domain of the account's address of record.
    pub fn domain(&self) -> String {
        self.domain.clone().unwrap_or_else(|| {
            let rest = self
                .registrar
                .trim_start_matches("sips:")
                .trim_start_matches("sip:");
            let host_port = rest.rsplit('@').next().unwrap_or(rest);
            let host_port = host_port.split([';', '?']).next().unwrap_or(host_port);
            if host_port.starts_with('[') {
                host_port
                    .split(']')
                    .next()
                    .map_or(host_port.to_string(), |h| format!("{h}]"))
            } else {
                host_port.split(':').next().unwrap_or(host_port).to_string()
            }
        })
    }

    /// The address of record, `sip:user@domain`.
    pub fn aor(&self) -> String {
        format!("sip:{}@{}", self.username, self.domain())
    }

    /// The registrar URI with the transport parameter when it is not UDP.
    pub fn registrar_uri(&self) -> String {
        match self.transport {
            Transport::Tcp if !self.registrar.to_ascii_lowercase().contains("transport=") => {
                format!("{};transport=tcp", self.registrar)
            }
            _ => self.registrar.clone(),
        }
    }

    /// Digest credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }
}

fn wrong_state(call: &Call, action: &'static str) -> ConsoleError {
    let state = serde_json::to_value(call.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    ConsoleError::WrongState {
        call: call.id.clone(),
        state,
        action,
    }
}

/// The URI inside a name-addr, without header parameters.
fn uri_in(value: &str) -> Option<String> {
    if let Some(start) = value.find('<') {
        let end = value[start..].find('>')? + start;
        return Some(value[start + 1..end].to_string());
    }
    value
        .split(';')
        .next()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The display name of a name-addr, unquoted.
fn display_name(value: &str) -> Option<String> {
    let before = value.split('<').next()?.trim();
    if !value.contains('<') || before.is_empty() {
        return None;
    }
    let name = before.trim_matches('"').replace("\\\"", "\"");
    (!name.is_empty()).then_some(name)
}

/// The SIP status a termination reason carries, if any.
fn status_of(reason: &TerminationReason) -> Option<u16> {
    match reason {
        TerminationReason::Failed(code) | TerminationReason::Rejected(code) => Some(*code),
        TerminationReason::Timeout => Some(408),
        _ => None,
    }
}

/// Whether a message lists `replaces` in Supported or Require (RFC 3891).
fn supports_replaces<M: MessageExt>(message: &M) -> bool {
    ["Supported", "Require"].iter().any(|name| {
        message.header_values(name).iter().any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("replaces"))
        })
    })
}
