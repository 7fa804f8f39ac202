//! The media runtime: one tokio task per call owning its RTP and RTCP sockets and a 20 ms
//! clock, driving the sans-IO [`stream::Stream`]. With no sound device (`--audio none`, or
//! none found) the clock is the task's own timer, so calls carry media headless.
//!
//! The engine hands the console's [`MediaCommand`]s to [`MediaManager::apply`]; streams send
//! [`MediaEvent`]s (DTMF, quality) back on a channel the engine feeds to the console.

mod attendant;
pub mod stream;
mod wav;

use console_core::{CallId, MediaCommand, MediaEvent};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stream::{Outgoing, Source, Stream, StreamParams};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Packet interval.
const TICK: Duration = Duration::from_millis(20);

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
    events: mpsc::UnboundedSender<MediaEvent>,
    /// The headset task; `None` with `--audio none`.
    attendant: Option<attendant::Attendant>,
}

/// One direction of a bridge: frames at [`BRIDGE_RATE`] from the partner leg.
struct BridgePort {
    to_partner: mpsc::UnboundedSender<Vec<i16>>,
    from_partner: mpsc::UnboundedReceiver<Vec<i16>>,
}

/// The common rate bridged legs exchange audio at (each leg resamples to its codec).
const BRIDGE_RATE: u32 = 48_000;

enum StreamCommand {
    Configure(StreamParams),
    Bridge(Option<BridgePort>),
    Tone(Option<media_engine::ToneKind>),
    Dtmf(String),
    Mute(bool),
}

impl MediaManager {
    /// Must run inside a tokio runtime (it starts the headset task).
    pub(crate) fn new(settings: MediaSettings, events: mpsc::UnboundedSender<MediaEvent>) -> Self {
        let attendant = (settings.audio.choice != audio_io::AudioChoice::None)
            .then(|| attendant::Attendant::start(settings.audio.clone()));
        Self {
            settings,
            calls: HashMap::new(),
            events,
            attendant,
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
            MediaCommand::Dtmf { call, digits } => self.send(&call, StreamCommand::Dtmf(digits)),
            MediaCommand::Mute { call, muted } => self.send(&call, StreamCommand::Mute(muted)),
            MediaCommand::Bridge { a, b } => {
                let (a_tx, b_rx) = mpsc::unbounded_channel();
                let (b_tx, a_rx) = mpsc::unbounded_channel();
                self.send(
                    &a,
                    StreamCommand::Bridge(Some(BridgePort {
                        to_partner: a_tx,
                        from_partner: a_rx,
                    })),
                );
                self.send(
                    &b,
                    StreamCommand::Bridge(Some(BridgePort {
                        to_partner: b_tx,
                        from_partner: b_rx,
                    })),
                );
            }
            MediaCommand::Unbridge { call } => self.send(&call, StreamCommand::Bridge(None)),
            MediaCommand::Close { call } => {
                // Dropping the sender ends the task, which closes the sockets.
                self.calls.remove(&call);
            }
            _ => {}
        }
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
        let recorder = self
            .settings
            .record_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.wav", call.0)));
        let headset = self.attendant.as_ref().map(|a| Headset {
            port: a.port(call.clone()),
            rates: RateConverter::new(),
        });
        let sockets = Sockets { rtp, rtcp };
        tokio::spawn(run(
            stream,
            sockets,
            rx,
            self.events.clone(),
            recorder,
            headset,
        ));
        self.calls.insert(call, tx);
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// A call's RTP and RTCP sockets.
struct Sockets {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

async fn run(
    mut stream: Stream,
    Sockets { rtp, rtcp }: Sockets,
    mut commands: mpsc::UnboundedReceiver<StreamCommand>,
    events: mpsc::UnboundedSender<MediaEvent>,
    record_to: Option<PathBuf>,
    mut headset: Option<Headset>,
) {
    let start = Instant::now();
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rtp_buf = vec![0u8; 2048];
    let mut rtcp_buf = vec![0u8; 2048];
    let mut out: Vec<Outgoing> = Vec::new();
    let mut reports: Vec<MediaEvent> = Vec::new();
    let mut recorder: Option<wav::WavWriter> = None;
    let mut bridge: Option<Bridge> = None;
    loop {
        tokio::select! {
            command = commands.recv() => {
                let now = start.elapsed();
                match command {
                    None => break,
                    Some(StreamCommand::Configure(params)) => {
                        stream.configure(now, params);
                        if recorder.is_none()
                            && let Some(path) = &record_to {
                                recorder = wav::WavWriter::create(path, stream.clock_rate())
                                    .map_err(|e| tracing::warn!(path = %path.display(), error = %e, "cannot record"))
                                    .ok();
                            }
                    }
                    Some(StreamCommand::Bridge(port)) => {
                        bridge = port.map(Bridge::new);
                        if bridge.is_none() {
                            stream.set_bridged(None);
                        }
                    }
                    Some(StreamCommand::Tone(tone)) => stream.set_tone(tone),
                    Some(StreamCommand::Dtmf(digits)) => stream.send_dtmf(&digits),
                    Some(StreamCommand::Mute(muted)) => stream.set_muted(muted),
                }
            }
            received = rtp.recv_from(&mut rtp_buf) => {
                if let Ok((len, from)) = received {
                    stream.on_rtp(start.elapsed(), from, &rtp_buf[..len], &mut reports);
                }
            }
            received = rtcp.recv_from(&mut rtcp_buf) => {
                if let Ok((len, _)) = received {
                    stream.on_rtcp(start.elapsed(), &rtcp_buf[..len]);
                }
            }
            _ = interval.tick() => {
                let rate = stream.clock_rate();
                if let Some(bridge) = bridge.as_mut() {
                    // Bridged: the partner's audio, or silence when no frame came this tick —
                    // never the attendant's microphone or source.
                    let frame = bridge.take_input(rate).unwrap_or_default();
                    stream.set_bridged(Some(frame));
                } else if let Some(headset) = headset.as_mut() {
                    stream.set_mic(headset.take_mic(rate));
                }
                stream.tick(start.elapsed(), &mut out, &mut reports);
                if let Some(bridge) = bridge.as_mut() {
                    bridge.give_output(stream.played(), rate);
                } else if let Some(headset) = headset.as_mut() {
                    headset.give_speaker(stream.played(), rate);
                }
                for packet in out.drain(..) {
                    let socket = if packet.rtcp { &rtcp } else { &rtp };
                    let _ = socket.try_send_to(&packet.bytes, packet.to);
                }
                if let Some(recorder) = recorder.as_mut()
                    && !stream.played().is_empty() {
                        let _ = recorder.write(stream.played());
                    }
            }
        }
        for report in reports.drain(..) {
            let _ = events.send(report);
        }
    }
    if let Some(recorder) = recorder
        && let Err(error) = recorder.finish()
    {
        tracing::warn!(%error, "cannot finish the recording");
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

/// A stream's end of a bridge.
struct Bridge {
    port: BridgePort,
    rates: RateConverter,
    last: Option<Vec<i16>>,
}

impl Bridge {
    fn new(port: BridgePort) -> Self {
        Self {
            port,
            rates: RateConverter::new(),
            last: None,
        }
    }

    /// The partner's newest frame at `rate` (frames queue up if ticks drift; keep the last).
    fn take_input(&mut self, rate: u32) -> Option<Vec<i16>> {
        while let Ok(frame) = self.port.from_partner.try_recv() {
            self.last = Some(frame);
        }
        let frame = self.last.take()?;
        self.rates.down_to_codec(frame, rate)
    }

    /// Hands this leg's decoded frame to the partner.
    fn give_output(&mut self, played: &[i16], rate: u32) {
        if let Some(frame) = self.rates.up_to_bridge(played, rate) {
            let _ = self.port.to_partner.send(frame);
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
