//! The engine task: the only owner of the [`Console`]. It feeds it network input, timeouts and
//! commands, then drains transmits (to sockets) and events (to subscribers and the history).

use crate::net::{self, NetInput};
use crate::storage::{History, HistoryWriter};
use crate::{ListenSpec, Running, RuntimeConfig};
use anyhow::Context as _;
use chrono::Utc;
use console_core::{
    CallId, Command, Console, ConsoleError, ConsoleHandle, Event, EventBody, Reply, Request,
    SipLadder, TraceDirection,
};
use sip_proto::{Transmit, Transport};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Queue between the sockets and the engine.
const NET_QUEUE: usize = 65_536;
/// Queue of commands.
const COMMAND_QUEUE: usize = 1024;
/// Events kept for slow subscribers.
const EVENT_BUFFER: usize = 4096;
/// How long a clean shutdown waits for un-REGISTERs and BYEs.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How long a host name lookup for a dial may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds sockets, opens storage (marking calls that were up at a crash as interrupted), and
/// spawns the engine.
pub async fn start(config: RuntimeConfig) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let db_path = config.data_dir.join("history.sqlite3");
    let mut history = History::open(&db_path).context("cannot open the call history")?;
    let interrupted = history
        .mark_interrupted(Utc::now())
        .context("cannot update call history")?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "calls that were up when the console stopped are marked interrupted"
        );
    }
    let reader = History::open(&db_path).context("cannot open call history for reading")?;
    let writer = HistoryWriter::spawn(history);

    let (net_tx, net_rx) = mpsc::channel(NET_QUEUE);
    let (reg_tx, reg_rx) = mpsc::unbounded_channel();
    let mut udp_sockets = Vec::new();
    let mut bound = Vec::new();
    let mut local = Vec::new();
    for spec in &config.sip_listen {
        match spec.transport {
            Transport::Udp => {
                let socket = bind_udp(spec.addr)
                    .with_context(|| format!("cannot bind SIP udp:{}", spec.addr))?;
                let addr = socket.local_addr()?;
                let socket = Arc::new(socket);
                tokio::spawn(net::udp_receive_loop(socket.clone(), net_tx.clone()));
                udp_sockets.push(socket);
                bound.push(ListenSpec {
                    transport: Transport::Udp,
                    addr,
                });
                local.push((Transport::Udp, net::advertised(addr)));
            }
            Transport::Tcp => {
                let listener = TcpListener::bind(spec.addr)
                    .await
                    .with_context(|| format!("cannot bind SIP tcp:{}", spec.addr))?;
                let addr = listener.local_addr()?;
                tokio::spawn(net::tcp_accept_loop(
                    listener,
                    net_tx.clone(),
                    reg_tx.clone(),
                ));
                bound.push(ListenSpec {
                    transport: Transport::Tcp,
                    addr,
                });
                local.push((Transport::Tcp, net::advertised(addr)));
            }
        }
    }
    let hosts = resolve_account_hosts(&config).await;
    let now = Instant::now();
    let console = Console::new(config.console.clone(), local, hosts, now, Utc::now());

    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
    let (events_tx, _) = broadcast::channel(EVENT_BUFFER);
    let handle = ConsoleHandle::new(cmd_tx, events_tx.clone());
    crate::webhooks::spawn(&config.console.webhooks, events_tx.subscribe());
    let (shutdown_tx, shutdown_rx) = oneshot::channel();
    let (resolved_tx, resolved_rx) = mpsc::channel(COMMAND_QUEUE);
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    let media = crate::media::MediaManager::new(config.media.clone(), media_tx);
    let engine = Engine {
        console,
        udp: udp_sockets,
        tcp: HashMap::new(),
        net_tx,
        events: events_tx,
        writer: Arc::new(writer),
        reader: Arc::new(std::sync::Mutex::new(reader)),
        resolved_tx,
        media,
        trace: crate::trace::SipTrace::default(),
    };
    let task = tokio::spawn(engine.run(net_rx, reg_rx, cmd_rx, resolved_rx, media_rx, shutdown_rx));
    Ok(Running {
        handle,
        bound,
        shutdown: shutdown_tx,
        task,
    })
}

struct Engine {
    console: Console,
    udp: Vec<Arc<UdpSocket>>,
    tcp: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    net_tx: mpsc::Sender<NetInput>,
    events: broadcast::Sender<Arc<Event>>,
    writer: Arc<HistoryWriter>,
    reader: Arc<std::sync::Mutex<History>>,
    resolved_tx: mpsc::Sender<(String, Option<IpAddr>, Request)>,
    media: crate::media::MediaManager,
    /// Every SIP message sent and received, per Call-ID, for the calls' ladders.
    trace: crate::trace::SipTrace,
}

impl Engine {
    async fn run(
        mut self,
        mut net_rx: mpsc::Receiver<NetInput>,
        mut reg_rx: mpsc::UnboundedReceiver<(SocketAddr, mpsc::Sender<Vec<u8>>)>,
        mut cmd_rx: mpsc::Receiver<Request>,
        mut resolved_rx: mpsc::Receiver<(String, Option<IpAddr>, Request)>,
        mut media_rx: mpsc::UnboundedReceiver<console_core::MediaEvent>,
        mut shutdown: oneshot::Receiver<()>,
    ) {
        self.console.start(Instant::now());
        self.drain();
        let mut stopping: Option<Instant> = None;
        // One timer, moved when the console's next deadline moves (not one per loop: media
        // statistics alone wake this loop about twice per call and second).
        let mut sleep_until = tokio::time::Instant::now() + Duration::from_secs(3600);
        let sleep = tokio::time::sleep_until(sleep_until);
        tokio::pin!(sleep);
        // Whether the console's next deadline may have moved since it was last asked. Call
        // statistics cannot move it, and asking costs a look at every call (it was 1.3 % of
        // the console's CPU relaying 600 bridged calls).
        let mut deadline_may_move = true;
        loop {
            if std::mem::take(&mut deadline_may_move) {
                let next = self
                    .console
                    .poll_timeout()
                    .map(tokio::time::Instant::from_std)
                    .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
                if next != sleep_until {
                    sleep_until = next;
                    sleep.as_mut().reset(sleep_until);
                }
            }
            let mut only_statistics = false;
            tokio::select! {
                biased;
                _ = &mut shutdown, if stopping.is_none() => {
                    tracing::info!("shutting down: hanging up calls, removing registrations");
                    let now = Instant::now();
                    self.console.shutdown(now);
                    stopping = Some(now + SHUTDOWN_GRACE);
                }
                Some((peer, sender)) = reg_rx.recv() => {
                    self.tcp.insert(peer, sender);
                }
                Some(input) = net_rx.recv() => {
                    self.on_net(input);
                    for_queued(|| net_rx.try_recv().ok(), |input| self.on_net(input));
                }
                Some(request) = cmd_rx.recv() => self.on_command(request),
                Some((host, ip, request)) = resolved_rx.recv() => self.on_resolved(host, ip, request),
                Some(event) = media_rx.recv() => {
                    let now = Instant::now();
                    only_statistics = is_statistics(&event);
                    self.console.handle_media_event(now, event);
                    for_queued(|| media_rx.try_recv().ok(), |event| {
                        only_statistics &= is_statistics(&event);
                        self.console.handle_media_event(now, event);
                    });
                }
                () = &mut sleep => {
                    self.console.handle_timeout(Instant::now());
                }
            }
            deadline_may_move = !only_statistics;
            self.drain();
            if let Some(until) = stopping
                && (self.console.is_quiescent() || Instant::now() >= until)
            {
                break;
            }
        }
        self.console.abandon_all(Instant::now());
        self.drain();
        let writer = self.writer.clone();
        let _ = tokio::task::spawn_blocking(move || writer.flush()).await;
        tracing::info!("console stopped");
    }

    fn on_net(&mut self, input: NetInput) {
        match input {
            NetInput::Message { bytes, source } => {
                if tracing::enabled!(tracing::Level::DEBUG) {
                    tracing::debug!(from = %source.addr, transport = ?source.transport, "recv {}", first_line(&bytes));
                }
                let transport = match source.transport {
                    Transport::Udp => "udp",
                    Transport::Tcp => "tcp",
                };
                self.trace.record(
                    Utc::now(),
                    TraceDirection::Received,
                    transport,
                    source.addr,
                    &bytes,
                );
                self.console.handle_datagram(Instant::now(), &bytes, source);
            }
            NetInput::TcpClosed(peer) => {
                self.tcp.remove(&peer);
            }
        }
    }

    fn on_command(&mut self, request: Request) {
        let Request { command, reply } = request;
        match command {
            Command::SetAudioDevice { role, device } => {
                self.media.set_audio_device(role, device, reply);
                return;
            }
            Command::GetLadder(id) => {
                let result = self.ladder(id);
                let _ = reply.send(result);
                return;
            }
            Command::ListAudioDevices => {
                // Enumeration talks to the sound server: off the engine task.
                tokio::task::spawn_blocking(move || {
                    let _ = reply.send(crate::media::list_audio_devices());
                });
                return;
            }
            _ => {}
        }
        if let Command::History { limit } = command {
            // Storage reads happen off the engine task; the writer is flushed first so the
            // newest calls are included.
            let writer = self.writer.clone();
            let reader = self.reader.clone();
            tokio::task::spawn_blocking(move || {
                writer.flush();
                let result = reader
                    .lock()
                    .map_err(|_| ConsoleError::Storage("history lock poisoned".into()))
                    .and_then(|r| {
                        r.recent(limit)
                            .map_err(|e| ConsoleError::Storage(e.to_string()))
                    })
                    .map(Reply::Calls);
                let _ = reply.send(result);
            });
            return;
        }
        if let Some(host) = self.console.unresolved_host(&command) {
            // DNS happens off the engine task; the command runs when the answer is back.
            let resolved = self.resolved_tx.clone();
            tokio::spawn(async move {
                let ip = {
                    let lookup = tokio::time::timeout(
                        RESOLVE_TIMEOUT,
                        tokio::net::lookup_host((host.as_str(), 5060)),
                    )
                    .await;
                    match lookup {
                        Ok(Ok(mut addrs)) => addrs.next().map(|a| a.ip()),
                        _ => None,
                    }
                };
                let _ = resolved.send((host, ip, Request { command, reply })).await;
            });
            return;
        }
        let result = self.console.handle_command(Instant::now(), command);
        let _ = reply.send(result);
    }

    fn on_resolved(&mut self, host: String, ip: Option<IpAddr>, request: Request) {
        let Request { command, reply } = request;
        let Some(ip) = ip else {
            let target = match &command {
                Command::Dial { to } | Command::Consult { to, .. } => to.clone(),
                _ => host.clone(),
            };
            let _ = reply.send(Err(ConsoleError::InvalidTarget {
                target,
                reason: format!("cannot resolve host {host:?}"),
            }));
            return;
        };
        tracing::debug!(%host, %ip, "resolved");
        self.console.add_host(&host, ip);
        let result = self.console.handle_command(Instant::now(), command);
        let _ = reply.send(result);
    }

    /// The SIP messages of a call the console still has in memory.
    fn ladder(&mut self, id: CallId) -> Result<Reply, ConsoleError> {
        let call = match self
            .console
            .handle_command(Instant::now(), Command::GetCall(id))?
        {
            Reply::Call(call) => call,
            other => return Err(ConsoleError::BadRequest(format!("unexpected {other:?}"))),
        };
        let (messages, omitted) = self.trace.messages(&call.sip_call_id);
        Ok(Reply::Ladder(SipLadder {
            call_id: call.id,
            sip_call_id: call.sip_call_id,
            messages,
            omitted,
        }))
    }

    /// Sends everything the console queued and publishes its events.
    fn drain(&mut self) {
        while let Some(transmit) = self.console.poll_transmit() {
            self.send(transmit);
        }
        while let Some(command) = self.console.poll_media() {
            self.media.apply(command);
        }
        while let Some(event) = self.console.poll_event() {
            // Media figures and digits change nothing the history keeps: writing their
            // snapshots would cost an upsert per call and second for nothing.
            let stored = !matches!(
                event.body,
                EventBody::CallStats { .. } | EventBody::CallDtmf { .. }
            );
            if stored && let Some(call) = event.body.call() {
                self.writer.record(call.clone());
            }
            let _ = self.events.send(Arc::new(event));
        }
    }

    fn send(&mut self, transmit: Transmit) {
        let bytes = sip_message::to_bytes(&transmit.message);
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(to = %transmit.destination, transport = ?transmit.transport, "send {}", first_line(&bytes));
        }
        let transport = match transmit.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        self.trace.record(
            Utc::now(),
            TraceDirection::Sent,
            transport,
            transmit.destination,
            &bytes,
        );
        match transmit.transport {
            Transport::Udp => {
                let socket = self
                    .udp
                    .iter()
                    .find(|s| {
                        s.local_addr()
                            .is_ok_and(|a| a.is_ipv4() == transmit.destination.is_ipv4())
                    })
                    .or(self.udp.first());
                if let Some(socket) = socket
                    && let Err(error) = socket.try_send_to(&bytes, transmit.destination)
                {
                    tracing::debug!(%error, to = %transmit.destination, "udp send failed");
                }
            }
            Transport::Tcp => {
                let peer = transmit.destination;
                if let Some(conn) = self.tcp.get(&peer) {
                    if conn.try_send(bytes).is_err() {
                        tracing::debug!(%peer, "tcp connection gone or congested; message dropped");
                        self.tcp.remove(&peer);
                    }
                    return;
                }
                let (tx, rx) = mpsc::channel(1024);
                let _ = tx.try_send(bytes);
                self.tcp.insert(peer, tx);
                tokio::spawn(net::tcp_connect(peer, rx, self.net_tx.clone()));
            }
        }
    }
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// Registrar host names resolved once at start (the sans-IO core does no DNS).
async fn resolve_account_hosts(config: &RuntimeConfig) -> HashMap<String, IpAddr> {
    let mut hosts = HashMap::new();
    for account in &config.console.accounts {
        for host in [account.domain(), host_of(&account.registrar)] {
            if host.parse::<IpAddr>().is_ok() || hosts.contains_key(&host) {
                continue;
            }
            match tokio::net::lookup_host((host.as_str(), 5060)).await {
                Ok(mut addrs) => {
                    if let Some(addr) = addrs.next() {
                        hosts.insert(host.to_ascii_lowercase(), addr.ip());
                    }
                }
                Err(error) => tracing::warn!(%host, %error, "cannot resolve"),
            }
        }
    }
    hosts
}

fn host_of(uri: &str) -> String {
    let rest = uri.trim_start_matches("sips:").trim_start_matches("sip:");
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    let rest = rest.split([';', '?']).next().unwrap_or(rest);
    rest.rsplit_once(':').map_or(rest, |(h, _)| h).to_string()
}

fn first_line(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(bytes.len())
        .min(200);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A call's statistics: they change no deadline of the console.
fn is_statistics(event: &console_core::MediaEvent) -> bool {
    matches!(event, console_core::MediaEvent::Quality { .. })
}

/// What else is already queued on a channel (up to 256), handled in the same loop turn as the
/// first: under load, cheaper than a turn (timer check, console deadline) per message.
fn for_queued<T>(mut try_next: impl FnMut() -> Option<T>, mut handle: impl FnMut(T)) {
    for _ in 0..256 {
        match try_next() {
            Some(item) => handle(item),
            None => break,
        }
    }
}
