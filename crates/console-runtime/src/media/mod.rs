//! The media runtime: tokio tasks owning calls' RTP and RTCP sockets and a 20 ms clock,
//! driving the sans-IO [`stream::Stream`]. Each call starts in a task of its own; when the
//! console bridges two calls (anchored transfer), the second call's [`Leg`] moves into the
//! first one's task, so both legs share one clock and pass audio without channels or locks:
//! packets are relayed undecoded when both legs use the same codec ([`media_engine::RtpRelay`]),
//! and decoded, resampled and re-encoded otherwise. With no sound device (`--audio none`, or
//! none found) calls carry media headless on the task's own timer.
//!
//! The engine hands the console's [`MediaCommand`]s to [`MediaManager::apply`]; streams send
//! [`MediaEvent`]s (DTMF, quality) back on a channel the engine feeds to the console.

mod attendant;
#[cfg(target_os = "linux")]
mod hub;
mod inbox;
mod sources;
pub mod stream;
mod wav;

use console_core::{CallId, MediaCommand, MediaEvent};
use media_engine::RtpRelay;
use sources::SOURCES;
use std::collections::HashMap;
use std::future::Future as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stream::{Outgoing, Source, Stream, StreamParams};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Packet interval.
const TICK: Duration = Duration::from_millis(20);
/// The tick of a bridge whose legs relay packets and have nothing of their own to send: only
/// statistics and RTCP are due, so the task wakes for packets and four times a second (a
/// third fewer wake-ups per bridge than a 20 ms tick, measured in docs/benchmarks.md).
const RELAY_TICK: Duration = Duration::from_millis(250);

/// Settings of the media runtime.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// What calls hear from us when no microphone feeds them.
    pub source: Source,
    /// Tone region (`us`, `etsi`, `uk`).
    pub tone_region: String,
    /// Write what each call received to `<dir>/<call id>.wav` (16-bit mono, codec rate).
    pub record_dir: Option<PathBuf>,
    /// The attendant's sound devices (`--audio`, `--audio-input`, `--audio-output`,
    /// `--ring-device`). With `AudioChoice::None`, or when no device opens, calls run headless
    /// and send [`MediaSettings::source`].
    pub audio: audio_io::AudioConfig,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            source: Source::Silence,
            tone_region: "us".into(),
            record_dir: None,
            audio: audio_io::AudioConfig {
                choice: audio_io::AudioChoice::None,
                ..audio_io::AudioConfig::default()
            },
        }
    }
}

/// The per-call media tasks.
pub(crate) struct MediaManager {
    settings: MediaSettings,
    calls: HashMap<CallId, mpsc::UnboundedSender<StreamCommand>>,
    /// Calls whose legs share a task (both directions are recorded).
    together: HashMap<CallId, CallId>,
    events: mpsc::UnboundedSender<MediaEvent>,
    /// The headset task; `None` with `--audio none`.
    attendant: Option<attendant::Attendant>,
    /// Where relaying bridges go: one hub per core, each call's task given the next in
    /// turn (none where there is no hub, or none could start).
    hubs: Vec<std::sync::Arc<HubHandle>>,
    /// Calls opened so far (picks the hub).
    opened: usize,
}

#[cfg(target_os = "linux")]
type HubHandle = hub::Hub;
/// No relay hub off Linux: relaying bridges stay in their tasks.
#[cfg(not(target_os = "linux"))]
struct HubHandle;
#[cfg(not(target_os = "linux"))]
impl HubHandle {
    fn take(&self, legs: Vec<Leg>, _: Instant, _: &Events) -> Result<(), Vec<Leg>> {
        Err(legs)
    }
}

type Events = mpsc::UnboundedSender<MediaEvent>;

/// The common rate bridged legs exchange audio at (each leg resamples to its codec); also
/// the sound devices' rate.
const BRIDGE_RATE: u32 = 48_000;

enum StreamCommand {
    Configure(StreamParams),
    /// Take in the other leg of a bridge, which arrives on this channel once its task let it
    /// go; both legs are then bridged.
    Join(oneshot::Receiver<Box<Leg>>),
    /// Move this leg to the task of the leg it is bridged with.
    Leave(oneshot::Sender<Box<Leg>>),
    /// Mix this bridge's two legs into the attendant's speaker (supervisor listen-in).
    Listen(bool),
    Tone(Option<media_engine::ToneKind>),
    LocalTone(Option<media_engine::ToneKind>),
    Dtmf(String),
    Mute(bool),
}

impl MediaManager {
    /// Must run inside a tokio runtime (it starts the headset task).
    pub(crate) fn new(settings: MediaSettings, events: mpsc::UnboundedSender<MediaEvent>) -> Self {
        let attendant = (settings.audio.choice != audio_io::AudioChoice::None).then(|| {
            // Enabled, devices still opening: `GET /audio` says so until the headset reports.
            let _ = events.send(MediaEvent::AudioDevices(console_core::AudioStatus {
                enabled: true,
                ..console_core::AudioStatus::default()
            }));
            attendant::Attendant::start(
                settings.audio.clone(),
                settings.tone_region.clone(),
                events.clone(),
            )
        });
        #[cfg(target_os = "linux")]
        let hubs = {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..cores)
                .map_while(|_| {
                    hub::Hub::start(tokio::runtime::Handle::current())
                        .map_err(|error| {
                            tracing::warn!(%error, "media: cannot start a relay hub");
                        })
                        .ok()
                        .map(std::sync::Arc::new)
                })
                .collect()
        };
        #[cfg(not(target_os = "linux"))]
        let hubs = Vec::new();
        Self {
            settings,
            calls: HashMap::new(),
            together: HashMap::new(),
            events,
            attendant,
            hubs,
            opened: 0,
        }
    }

    /// Carries out one command from the console.
    pub(crate) fn apply(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Open { call, local } => self.open(call, local),
            MediaCommand::Configure {
                call,
                remote,
                codec,
                payload_type,
                dtmf_payload_type,
                direction,
            } => self.send(
                &call,
                StreamCommand::Configure(StreamParams {
                    remote,
                    codec,
                    payload_type,
                    dtmf_payload_type,
                    direction,
                }),
            ),
            MediaCommand::Tone { call, tone } => self.send(&call, StreamCommand::Tone(tone)),
            MediaCommand::LocalTone { call, tone } => {
                tracing::debug!(%call, ?tone, "media: local tone for the attendant");
                self.send(&call, StreamCommand::LocalTone(tone));
            }
            MediaCommand::Dtmf { call, digits } => self.send(&call, StreamCommand::Dtmf(digits)),
            MediaCommand::Mute { call, muted } => self.send(&call, StreamCommand::Mute(muted)),
            MediaCommand::Bridge { a, b } => self.bridge(a, b),
            MediaCommand::Listen { call, on } => self.send(&call, StreamCommand::Listen(on)),
            MediaCommand::RingAlert { on } => {
                if let Some(attendant) = &self.attendant {
                    attendant.control(attendant::Control::RingAlert(on));
                }
            }
            MediaCommand::AttendantTone { tone } => {
                if let Some(attendant) = &self.attendant {
                    attendant.control(attendant::Control::Tone(tone));
                }
            }
            MediaCommand::Close { call } => {
                // Dropping the sender ends the leg, which closes its sockets (and the task
                // when it has no other leg).
                self.calls.remove(&call);
                if let Some(other) = self.together.remove(&call) {
                    self.together.remove(&other);
                }
            }
            _ => {}
        }
    }

    /// Switches one of the attendant's sound devices; `reply` gets the new status once the
    /// device is open (or why it is not).
    pub(crate) fn set_audio_device(
        &self,
        role: console_core::AudioRole,
        device: Option<String>,
        reply: oneshot::Sender<Result<console_core::Reply, console_core::ConsoleError>>,
    ) {
        match &self.attendant {
            Some(attendant) => attendant.control(attendant::Control::Set {
                role,
                device,
                reply,
            }),
            None => {
                let _ = reply.send(Err(console_core::ConsoleError::AudioUnavailable(
                    "audio is disabled (--audio none)".into(),
                )));
            }
        }
    }

    fn bridge(&mut self, a: CallId, b: CallId) {
        if !self.calls.contains_key(&a) || !self.calls.contains_key(&b) || a == b {
            return;
        }
        if self.together.get(&a) == Some(&b) {
            // Already one task, bridged (early media first, then the answer).
            return;
        }
        let (tx, rx) = oneshot::channel();
        self.send(&b, StreamCommand::Leave(tx));
        self.send(&a, StreamCommand::Join(rx));
        self.together.insert(a.clone(), b.clone());
        self.together.insert(b, a);
    }

    fn send(&mut self, call: &CallId, command: StreamCommand) {
        if let Some(tx) = self.calls.get(call) {
            let _ = tx.send(command);
        }
    }

    fn open(&mut self, call: CallId, local: SocketAddr) {
        // Bind on the advertised address; an unspecified one would also work, but the SDP
        // names this one.
        let rtp = bind(local);
        let rtcp = bind(SocketAddr::new(local.ip(), local.port().wrapping_add(1)));
        let (rtp, rtcp) = match (rtp, rtcp) {
            (Ok(rtp), Ok(rtcp)) => (rtp, rtcp),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%call, %local, %error, "cannot bind the RTP/RTCP ports; the call has no media");
                return;
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let epoch_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let stream = Stream::new(
            call.clone(),
            self.settings.source.clone(),
            &self.settings.tone_region,
            epoch_unix,
        );
        let record_to = self
            .settings
            .record_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.wav", call.0)));
        let headset = self.attendant.as_ref().map(|a| Headset {
            port: a.port(call.clone()),
            rates: RateConverter::new(),
        });
        let leg = Leg {
            stream,
            rtp: LegSocket::Task(rtp),
            rtcp: LegSocket::Task(rtcp),
            commands: rx,
            start: Instant::now(),
            record_to,
            recorder: None,
            headset,
            bridged: false,
            relay: RtpRelay::new(),
            bridge_out: None,
            rates: RateConverter::new(),
            rtp_in: inbox::Inbox::new(),
            rtcp_buf: vec![0u8; 2048],
            bridge_mode_logged: None,
            listen: false,
        };
        let hub = (!self.hubs.is_empty())
            .then(|| std::sync::Arc::downgrade(&self.hubs[self.opened % self.hubs.len()]));
        self.opened = self.opened.wrapping_add(1);
        tokio::spawn(run(
            vec![leg],
            None,
            tokio::time::Instant::now() + TICK,
            self.events.clone(),
            hub.unwrap_or_default(),
        ));
        self.calls.insert(call, tx);
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// A leg's socket: registered with tokio while a task runs the leg, a plain non-blocking
/// socket while the relay hub does (see [`hub`]).
enum LegSocket {
    Task(UdpSocket),
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Hub(std::net::UdpSocket),
    /// Lost moving between the two (logged); the leg has no media on it any more.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Lost,
}

impl LegSocket {
    fn try_send_to(&self, bytes: &[u8], to: SocketAddr) -> std::io::Result<usize> {
        match self {
            Self::Task(socket) => socket.try_send_to(bytes, to),
            Self::Hub(socket) => socket.send_to(bytes, to),
            Self::Lost => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// The socket, if a task runs it.
    fn task(&self) -> Option<&UdpSocket> {
        match self {
            Self::Task(socket) => Some(socket),
            _ => None,
        }
    }
}

/// One call's media: its stream, sockets, commands and what it is attached to. Owned by the
/// task that runs it; moves between tasks when bridged, and to the relay hub and back.
struct Leg {
    stream: Stream,
    rtp: LegSocket,
    rtcp: LegSocket,
    commands: mpsc::UnboundedReceiver<StreamCommand>,
    /// `now = 0` of this leg's stream.
    start: Instant,
    record_to: Option<PathBuf>,
    recorder: Option<wav::WavWriter>,
    headset: Option<Headset>,
    /// Bridged with the other leg of its task.
    bridged: bool,
    /// Rewrites the other leg's packets into this leg's stream (same-codec bridge).
    relay: RtpRelay,
    /// What this leg played in the last tick, at its codec's rate, for the other leg
    /// (transcoding bridge).
    bridge_out: Option<Vec<i16>>,
    /// Between this leg's codec rate and [`BRIDGE_RATE`] (transcoding bridge).
    rates: RateConverter,
    /// RTP datagrams received, handed out one per wake-up.
    rtp_in: inbox::Inbox,
    rtcp_buf: Vec<u8>,
    /// The bridge mode last logged (relaying or not), to log each change once.
    bridge_mode_logged: Option<bool>,
    /// A supervisor listens in: the bridge is decoded (not relayed) and both legs are mixed
    /// into the speaker.
    listen: bool,
}

impl Leg {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn configure(&mut self, params: StreamParams) {
        self.stream.configure(self.now(), params);
        if self.recorder.is_none()
            && let Some(path) = &self.record_to
        {
            self.recorder = wav::WavWriter::create(path, self.stream.pcm_rate())
                .map_err(|e| tracing::warn!(path = %path.display(), error = %e, "cannot record"))
                .ok();
        }
    }

    fn finish(self) {
        if let Some(recorder) = self.recorder
            && let Err(error) = recorder.finish()
        {
            tracing::warn!(%error, "cannot finish the recording");
        }
    }
}

/// What woke a task up.
enum Wake {
    Command(usize, Option<StreamCommand>),
    /// RTP on leg `i`: the inbox slot and the sender.
    Rtp(usize, std::io::Result<(usize, SocketAddr)>),
    Rtcp(usize, std::io::Result<(usize, SocketAddr)>),
    Joined(Result<Box<Leg>, oneshot::error::RecvError>),
    Tick,
}

/// Runs one leg, and a second one once it joins for a bridge, until no leg is left or the
/// relay hub takes the bridge. `first` is a wake-up that already happened (the hub hands a
/// bridge back with the command that made it do so).
async fn run(
    mut legs: Vec<Leg>,
    mut first: Option<Wake>,
    mut next_tick: tokio::time::Instant,
    events: Events,
    hub: std::sync::Weak<HubHandle>,
) {
    let mut joining: Option<oneshot::Receiver<Box<Leg>>> = None;
    let mut turn = 0usize;
    let sleep = tokio::time::sleep_until(next_tick);
    tokio::pin!(sleep);
    let mut out: Vec<Outgoing> = Vec::new();
    let mut reports: Vec<MediaEvent> = Vec::new();
    let mut relay_buf: Vec<u8> = Vec::with_capacity(2048);
    let mut sources = sources::Sources::new();
    while !legs.is_empty() {
        // One hand-written poll rather than `select!` over fresh futures: each packet wakes
        // the task once, and polling the sockets directly keeps their wakers in place instead
        // of registering and dropping a waiter per socket per wake-up (measured: the relay's
        // hot path). The starting source turns each time, so no source can starve the others.
        turn = turn.wrapping_add(1);
        let wake = match first.take() {
            Some(wake) => wake,
            None => next_wake(&mut sources, turn, &mut legs, &mut joining, sleep.as_mut()).await,
        };
        let ticked = matches!(wake, Wake::Tick);
        match wake {
            Wake::Command(i, None) => {
                // The console closed this call: the other leg's sources move to index 0.
                legs.remove(i).finish();
                sources.put_back(sources::ALL);
                for leg in &mut legs {
                    leg.bridged = false;
                }
                update_relaying(&mut legs);
            }
            Wake::Command(i, Some(command)) => match command {
                StreamCommand::Configure(params) => {
                    legs[i].configure(params);
                    update_relaying(&mut legs);
                }
                StreamCommand::Join(rx) => {
                    joining = Some(rx);
                    sources.mark(JOINING);
                }
                StreamCommand::Leave(tx) => {
                    let leg = legs.remove(i);
                    sources.put_back(sources::ALL);
                    for leg in &mut legs {
                        leg.bridged = false;
                    }
                    if let Err(mut leg) = tx.send(Box::new(leg)) {
                        // The other leg is gone: carry on alone.
                        leg.bridged = false;
                        legs.insert(i, *leg);
                    }
                    update_relaying(&mut legs);
                }
                StreamCommand::Listen(on) => {
                    for leg in &mut legs {
                        leg.listen = on;
                    }
                    update_relaying(&mut legs);
                }
                StreamCommand::Tone(tone) => legs[i].stream.set_tone(tone),
                StreamCommand::LocalTone(tone) => legs[i].stream.set_local_tone(tone),
                StreamCommand::Dtmf(digits) => legs[i].stream.send_dtmf(&digits),
                StreamCommand::Mute(muted) => legs[i].stream.set_muted(muted),
            },
            Wake::Joined(joined) => {
                joining = None;
                sources.put_back(sources::ALL);
                if let Ok(mut leg) = joined
                    && legs.len() == 1
                {
                    leg.bridged = true;
                    legs[0].bridged = true;
                    legs.push(*leg);
                    update_relaying(&mut legs);
                }
            }
            Wake::Rtp(i, Ok((slot, from))) => {
                let datagram = Datagram::Inbox(slot);
                relay_or_buffer(&mut legs, i, datagram, from, &mut relay_buf, &mut reports);
            }
            Wake::Rtcp(i, Ok((len, _))) => {
                let leg = &mut legs[i];
                let now = leg.now();
                leg.stream.on_rtcp(now, &leg.rtcp_buf[..len]);
            }
            Wake::Rtp(..) | Wake::Rtcp(..) => {}
            Wake::Tick => tick(&mut legs, &mut out, &mut reports),
        }
        // The next tick: in 20 ms, or later for an idle relaying bridge; sooner again as
        // soon as a leg has frames to send (a DTMF command, the bridge undone).
        let now = tokio::time::Instant::now();
        let period = tick_period(&legs);
        let due = if ticked {
            // As MissedTickBehavior::Delay: a late tick does not make up for lost time.
            (next_tick + period).max(now + period / 2)
        } else {
            next_tick.min(now + period)
        };
        if due != next_tick {
            next_tick = due;
            sleep.as_mut().reset(next_tick);
            sources.mark(TICK_SOURCE);
        }
        for report in reports.drain(..) {
            let _ = events.send(report);
        }
        // A bridge that only relays goes to the hub until something changes.
        if joining.is_none()
            && hub_can_run(&legs)
            && let Some(hub) = hub.upgrade()
        {
            match hub.take(std::mem::take(&mut legs), next_tick.into_std(), &events) {
                Ok(()) => return,
                Err(back) => {
                    legs = back;
                    sources.put_back(sources::ALL);
                }
            }
        }
    }
}

/// How often a task's (or the hub's) legs tick: every 20 ms, or every [`RELAY_TICK`] when
/// none has frames of its own to send.
fn tick_period(legs: &[Leg]) -> Duration {
    if legs.iter().all(|l| !l.stream.needs_frame_ticks()) {
        RELAY_TICK
    } else {
        TICK
    }
}

/// The next thing that woke the task: only the sources whose wakers fired (see `sources`),
/// so a packet on one leg polls that leg's socket alone. The starting source turns with
/// `turn`, so no source can starve the others.
async fn next_wake(
    sources: &mut sources::Sources,
    turn: usize,
    legs: &mut [Leg],
    joining: &mut Option<oneshot::Receiver<Box<Leg>>>,
    mut sleep: std::pin::Pin<&mut tokio::time::Sleep>,
) -> Wake {
    std::future::poll_fn(|cx| {
        sources.set_task(cx.waker());
        let ready = sources.take();
        let mut pending = 0u8;
        for k in 0..SOURCES {
            let source = (turn + k) % SOURCES;
            if ready & sources::bit(source) == 0 {
                continue;
            }
            let mut source_cx = std::task::Context::from_waker(sources.waker(source, cx.waker()));
            if let Poll::Ready(wake) =
                poll_source(&mut source_cx, source, legs, joining, sleep.as_mut())
            {
                // This source may have more, and those not polled yet wait for the next
                // round: all that fired, less those found pending.
                sources.put_back(ready & !pending);
                return Poll::Ready(wake);
            }
            pending |= sources::bit(source);
        }
        Poll::Pending
    })
    .await
}

/// Whether the relay hub can run these legs: a bridge of two legs relaying packets, with
/// nothing of their own to send each 20 ms (no DTMF going out), both sockets in hand.
fn hub_can_run(legs: &[Leg]) -> bool {
    matches!(legs, [a, b] if a.bridged && b.bridged)
        && legs.iter().all(|leg| {
            leg.stream.relaying()
                && !leg.listen
                && !leg.stream.needs_frame_ticks()
                && leg.rtp.task().is_some()
                && leg.rtcp.task().is_some()
        })
}

/// What a task waits on: per leg its commands, RTP and RTCP (0..=5), then a joining leg and
/// the tick.
const JOINING: usize = 6;
const TICK_SOURCE: usize = 7;

/// Polls one source of [`SOURCES`]; a source that does not exist (no second leg, no leg
/// joining) is never ready.
fn poll_source(
    cx: &mut std::task::Context<'_>,
    source: usize,
    legs: &mut [Leg],
    joining: &mut Option<oneshot::Receiver<Box<Leg>>>,
    sleep: std::pin::Pin<&mut tokio::time::Sleep>,
) -> Poll<Wake> {
    match source {
        0..=5 => {
            let i = source / 3;
            let Some(leg) = legs.get_mut(i) else {
                return Poll::Pending;
            };
            match source % 3 {
                0 => leg.commands.poll_recv(cx).map(|c| Wake::Command(i, c)),
                1 => match leg.rtp.task() {
                    Some(rtp) => leg.rtp_in.poll_next(cx, rtp).map(|r| Wake::Rtp(i, r)),
                    None => Poll::Pending,
                },
                _ => match leg.rtcp.task() {
                    Some(rtcp) => {
                        poll_datagram(cx, rtcp, &mut leg.rtcp_buf).map(|r| Wake::Rtcp(i, r))
                    }
                    None => Poll::Pending,
                },
            }
        }
        JOINING => match joining.as_mut() {
            Some(rx) => std::pin::Pin::new(rx).poll(cx).map(Wake::Joined),
            None => Poll::Pending,
        },
        _ => sleep.poll(cx).map(|()| Wake::Tick),
    }
}

/// One datagram into `buf`: its length and sender.
fn poll_datagram(
    cx: &mut std::task::Context<'_>,
    socket: &UdpSocket,
    buf: &mut [u8],
) -> Poll<std::io::Result<(usize, SocketAddr)>> {
    let mut read = tokio::io::ReadBuf::new(buf);
    socket
        .poll_recv_from(cx, &mut read)
        .map(|r| r.map(|from| (read.filled().len(), from)))
}

/// Relay (same codec) when both legs of a bridge speak the same codec; decode otherwise.
fn update_relaying(legs: &mut [Leg]) {
    let same = match legs {
        [a, b] => {
            a.bridged
                && b.bridged
                && !a.listen
                && !b.listen
                && a.stream.codec_kind().is_some()
                && a.stream.codec_kind() == b.stream.codec_kind()
        }
        _ => false,
    };
    if let [a, b] = legs
        && a.bridged
        && b.bridged
        && a.bridge_mode_logged != Some(same)
    {
        a.bridge_mode_logged = Some(same);
        let codecs = (a.stream.codec_kind(), b.stream.codec_kind());
        if same {
            tracing::info!(a = %a.stream.call(), b = %b.stream.call(), ?codecs, "bridge: relaying RTP (same codec)");
        } else {
            tracing::info!(a = %a.stream.call(), b = %b.stream.call(), ?codecs, "bridge: transcoding");
        }
    }
    for leg in legs.iter_mut() {
        leg.stream.set_relaying(same);
        if !same {
            leg.relay.reset();
        }
    }
    // Transcoding: each leg sends what the other received and plays what the other sends,
    // so nothing above the narrower codec's band either way (an Opus leg bridged with PCMU
    // runs at 8 kHz, narrowband).
    match legs {
        [a, b] if a.bridged && b.bridged && !same => {
            let band = |leg: &Leg| leg.stream.codec_kind().map(|c| c.clock_rate() / 2);
            let (Some(band_a), Some(band_b)) = (band(a), band(b)) else {
                return;
            };
            let band = band_a.min(band_b);
            a.stream.limit_bandwidth(Some(band));
            b.stream.limit_bandwidth(Some(band));
        }
        _ => {
            for leg in legs.iter_mut() {
                leg.stream.limit_bandwidth(None);
            }
        }
    }
}

/// Where a received RTP datagram is: in the leg's own inbox (a task reads per leg), or
/// elsewhere (the relay hub reads every leg into one inbox).
enum Datagram<'a> {
    Inbox(usize),
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Bytes(&'a [u8]),
}

/// An RTP datagram arrived on leg `i`: into its jitter buffer, or (relaying) straight out on
/// the other leg.
fn relay_or_buffer(
    legs: &mut [Leg],
    i: usize,
    datagram: Datagram<'_>,
    from: SocketAddr,
    relay_buf: &mut Vec<u8>,
    reports: &mut Vec<MediaEvent>,
) {
    let (a, b) = match (i, legs) {
        (0, [a, b]) => (a, Some(b)),
        (1, [b, a]) => (a, Some(b)),
        (_, [a]) => (a, None),
        _ => return,
    };
    // One clock reading for both legs.
    let at = Instant::now();
    let now = at.saturating_duration_since(a.start);
    let bytes = match datagram {
        Datagram::Inbox(slot) => a.rtp_in.bytes(slot),
        Datagram::Bytes(bytes) => bytes,
    };
    let Some(packet) = a.stream.on_rtp(now, from, bytes, reports) else {
        return;
    };
    if let Some(b) = b {
        let now = at.saturating_duration_since(b.start);
        if let Some(to) = b.stream.relay_in(now, &mut b.relay, &packet, relay_buf) {
            let _ = b.rtp.try_send_to(relay_buf, to);
        }
    }
}

/// The 20 ms tick of every leg of a task.
fn tick(legs: &mut [Leg], out: &mut Vec<Outgoing>, reports: &mut Vec<MediaEvent>) {
    // A transcoding bridge: each leg sends what the other played in the previous tick,
    // resampled through BRIDGE_RATE only when the two codecs' rates differ.
    if let [a, b] = legs
        && a.bridged
        && b.bridged
    {
        let (ra, rb) = (a.stream.pcm_rate(), b.stream.pcm_rate());
        // A frame played before a leg's PCM rate changed is dropped, not mis-read.
        let whole =
            |frame: Option<Vec<i16>>, rate: u32| frame.filter(|f| f.len() == (rate / 50) as usize);
        let (from_b, from_a) = (
            whole(b.bridge_out.take(), rb),
            whole(a.bridge_out.take(), ra),
        );
        let (to_a, to_b) = if ra == rb {
            (from_b, from_a)
        } else {
            (
                from_b
                    .and_then(|f| b.rates.up_to_bridge(&f, rb))
                    .and_then(|w| a.rates.down_to_codec(w, ra)),
                from_a
                    .and_then(|f| a.rates.up_to_bridge(&f, ra))
                    .and_then(|w| b.rates.down_to_codec(w, rb)),
            )
        };
        // Silence when the other leg played nothing: never the attendant's audio.
        a.stream.set_bridged(Some(to_a.unwrap_or_default()));
        b.stream.set_bridged(Some(to_b.unwrap_or_default()));
    }
    for leg in legs.iter_mut() {
        let now = leg.now();
        let rate = leg.stream.pcm_rate();
        if !leg.bridged {
            leg.stream.set_bridged(None);
            if let Some(headset) = leg.headset.as_mut() {
                leg.stream.set_mic(headset.take_mic(rate));
            }
        }
        let before = leg.stream.next_sequence();
        leg.stream.tick(now, out, reports);
        if leg.bridged {
            if leg.stream.next_sequence() != before {
                // Our own packet (a DTMF event, or audio before the relay began): relayed
                // packets continue after it.
                leg.relay.reset();
            }
            let played = leg.stream.played();
            leg.bridge_out = (!played.is_empty()).then(|| played.to_vec());
        } else if let Some(headset) = leg.headset.as_mut() {
            headset.give_speaker(leg.stream.played(), rate);
        }
        for packet in out.drain(..) {
            let socket = if packet.rtcp { &leg.rtcp } else { &leg.rtp };
            let _ = socket.try_send_to(&packet.bytes, packet.to);
        }
        if let Some(recorder) = leg.recorder.as_mut()
            && !leg.stream.played().is_empty()
        {
            let _ = recorder.write_frame(leg.stream.played(), rate);
        }
    }
    // Listen-in: both legs, mixed, to the speaker (through the first leg's headset port).
    if let [a, b] = legs
        && a.bridged
        && a.listen
        && let Some(headset) = a.headset.as_mut()
    {
        let rate_a = a.stream.pcm_rate();
        let rate_b = b.stream.pcm_rate();
        let wide_a = a.rates.up_to_bridge(a.stream.played(), rate_a);
        let wide_b = b.rates.up_to_bridge(b.stream.played(), rate_b);
        let mixed = match (wide_a, wide_b) {
            (Some(x), Some(y)) => x
                .iter()
                .zip(&y)
                .map(|(p, q)| p.saturating_add(*q))
                .collect(),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => return,
        };
        headset.port.speak(mixed);
    }
}

/// Converts 20 ms frames between a codec's rate and [`BRIDGE_RATE`] (which is also the sound
/// devices' rate, `audio_io::ENGINE_RATE`), following the codec when a re-INVITE changes it.
struct RateConverter {
    rate: u32,
    up: Option<media_engine::resample::Resampler>,
    down: Option<media_engine::resample::Resampler>,
}

impl RateConverter {
    fn new() -> Self {
        Self {
            rate: 0,
            up: None,
            down: None,
        }
    }

    fn set_rate(&mut self, rate: u32) {
        if self.rate == rate {
            return;
        }
        self.rate = rate;
        let make = |from, to| {
            (from != to)
                .then(|| media_engine::resample::Resampler::new(from, to, 20).ok())
                .flatten()
        };
        self.up = make(rate, BRIDGE_RATE);
        self.down = make(BRIDGE_RATE, rate);
    }

    /// A [`BRIDGE_RATE`] frame at the codec's `rate` (`None` if it is not one 20 ms frame).
    fn down_to_codec(&mut self, frame: Vec<i16>, rate: u32) -> Option<Vec<i16>> {
        self.set_rate(rate);
        match self.down.as_mut() {
            Some(resampler) => {
                let mut out = Vec::new();
                resampler.process(&frame, &mut out).ok().map(|()| out)
            }
            None => Some(frame),
        }
    }

    /// A codec-rate frame at [`BRIDGE_RATE`] (`None` if empty or not one 20 ms frame).
    fn up_to_bridge(&mut self, played: &[i16], rate: u32) -> Option<Vec<i16>> {
        self.set_rate(rate);
        if played.is_empty() {
            return None;
        }
        match self.up.as_mut() {
            Some(resampler) => {
                let mut out = Vec::new();
                resampler.process(played, &mut out).ok().map(|()| out)
            }
            None => Some(played.to_vec()),
        }
    }
}

/// A call's connection to the attendant's headset (see [`attendant`]).
struct Headset {
    port: attendant::CallPort,
    rates: RateConverter,
}

impl Headset {
    /// The newest microphone frame at the codec's `rate`, if one arrived since the last tick.
    fn take_mic(&mut self, rate: u32) -> Option<Vec<i16>> {
        let frame = self.port.latest_mic()?;
        self.rates.down_to_codec(frame.to_vec(), rate)
    }

    /// Sends what the call played this tick to the speaker mix.
    fn give_speaker(&mut self, played: &[i16], rate: u32) {
        if let Some(frame) = self.rates.up_to_bridge(played, rate) {
            self.port.speak(frame);
        }
    }
}

/// The sound devices there are, for a device picker (blocking: call off the async tasks).
pub(crate) fn list_audio_devices() -> Result<console_core::Reply, console_core::ConsoleError> {
    let devices = audio_io::list_devices().map_err(attendant::console_error)?;
    Ok(console_core::Reply::AudioDevices(
        devices
            .into_iter()
            .map(|d| console_core::AudioDevice {
                id: d.id,
                name: d.name,
                is_input: d.is_input,
                is_output: d.is_output,
                is_default_input: d.is_default_input,
                is_default_output: d.is_default_output,
            })
            .collect(),
    ))
}

/// The relay hub (Linux only) with real sockets.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use media_engine::CodecKind;
    use media_engine::sdp::Direction;
    use std::net::UdpSocket as StdSocket;

    /// A local address whose port and the next one (RTCP) are free.
    fn free_pair() -> SocketAddr {
        loop {
            let probe = StdSocket::bind("127.0.0.1:0").expect("bind");
            let rtp = probe.local_addr().expect("addr");
            if rtp.port().is_multiple_of(2)
                && StdSocket::bind(("127.0.0.1", rtp.port() + 1)).is_ok()
            {
                return rtp;
            }
        }
    }

    fn rtp(ssrc: u32, seq: u16, payload_type: u8, payload: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x80, payload_type];
        packet.extend_from_slice(&seq.to_be_bytes());
        packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        packet.extend_from_slice(&ssrc.to_be_bytes());
        packet.extend_from_slice(payload);
        packet
    }

    /// The next RTP packet `peer` receives with this payload type (and payload, if given;
    /// a leg's own packets, silence before the bridge, are not the ones relayed).
    async fn receive(
        peer: &UdpSocket,
        payload_type: u8,
        payload: Option<&[u8]>,
        within: Duration,
    ) -> Option<Vec<u8>> {
        let mut buf = [0u8; 2048];
        let wait = async {
            loop {
                let (len, _) = peer.recv_from(&mut buf).await.expect("recv");
                let packet = &buf[..len];
                if len >= 12
                    && packet[1] & 0x7f == payload_type
                    && payload.is_none_or(|p| packet[12..] == *p)
                {
                    return packet.to_vec();
                }
            }
        };
        tokio::time::timeout(within, wait).await.ok()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_relaying_bridge_runs_in_the_hub_and_comes_back_for_a_command() {
        let (events, _events_rx) = mpsc::unbounded_channel();
        let mut media = MediaManager::new(MediaSettings::default(), events);
        let peer_a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let peer_b = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let (a, b) = (CallId("a".into()), CallId("b".into()));
        let (local_a, local_b) = (free_pair(), free_pair());
        for (call, local, peer) in [(&a, local_a, &peer_a), (&b, local_b, &peer_b)] {
            media.apply(MediaCommand::Open {
                call: call.clone(),
                local,
            });
            media.apply(MediaCommand::Configure {
                call: call.clone(),
                remote: peer.local_addr().expect("addr"),
                codec: CodecKind::Pcmu,
                payload_type: 0,
                dtmf_payload_type: Some(101),
                direction: Direction::SendRecv,
            });
        }
        media.apply(MediaCommand::Bridge {
            a: a.clone(),
            b: b.clone(),
        });
        assert!(!media.hubs.is_empty(), "hubs run on Linux");
        let in_hubs = |media: &MediaManager| media.hubs.iter().map(|h| h.bridges()).sum::<usize>();

        // A's packets reach B, as B's stream (its SSRC), payload untouched, once the bridge
        // is up (until then A's task takes them in itself).
        let mut seq = 0u16;
        let relayed = loop {
            seq += 1;
            assert!(seq < 200, "no packet relayed from A to B");
            let payload = [seq as u8; 160];
            peer_a
                .send_to(&rtp(0xA, seq, 0, &payload), local_a)
                .await
                .expect("send");
            let wait = Duration::from_millis(50);
            if let Some(packet) = receive(&peer_b, 0, Some(&payload), wait).await {
                break packet;
            }
        };
        assert_ne!(relayed[8..12], 0xAu32.to_be_bytes(), "B's own SSRC");
        assert_eq!(in_hubs(&media), 1, "the relaying bridge is in a hub");
        let ten_s = Duration::from_secs(10);
        for seq in seq + 1..seq + 20 {
            let payload = [seq as u8; 160];
            peer_a
                .send_to(&rtp(0xA, seq, 0, &payload), local_a)
                .await
                .expect("send");
            let packet = receive(&peer_b, 0, Some(&payload), ten_s).await;
            assert!(packet.is_some(), "packet {seq} relayed by the hub");
        }

        // A command for one leg brings the bridge back to a task, which carries it out...
        media.apply(MediaCommand::Dtmf {
            call: b.clone(),
            digits: "5".into(),
        });
        let event = receive(&peer_b, 101, None, ten_s)
            .await
            .expect("a DTMF event");
        // (The hub never sends packets of its own: this is the task's.)
        assert_eq!(event[12], 5, "the DTMF event for digit 5");
        // ...and relaying goes on, the other way too.
        peer_b
            .send_to(&rtp(0xB, 1, 0, &[9u8; 160]), local_b)
            .await
            .expect("send");
        let back = receive(&peer_a, 0, Some(&[9u8; 160]), ten_s).await;
        assert!(back.is_some(), "B's packet relayed to A");
    }
}
