//! The attendant's headset. One task owns the sound devices ([`audio_io::AudioEngine`]) and
//! every 20 ms hands the newest microphone frame to the calls that are with the attendant, and
//! plays the mix of what those calls played. A call in an anchored bridge is not with the
//! attendant (its task stops using its port while bridged); a call we hold plays silence
//! because its RTP stops.
//!
//! Frames on both sides are 20 ms of i16 mono at 48 kHz ([`audio_io::ENGINE_RATE`]); each call
//! converts to and from its codec's rate. The call tasks and this task run on their own 20 ms
//! timers: a call takes the newest microphone frame it has not seen yet, and this task mixes
//! the newest frame of each call. With no device (`--audio none`, or no sound card) the task
//! ends at once and calls fall back to the configured source (silence or a test tone).
//!
//! The task also switches devices when the attendant asks ([`Control::Set`], on a blocking
//! thread while the calls carry on), reports what is in use and what was lost to the console
//! ([`MediaEvent::AudioDevices`], [`MediaEvent::AudioDeviceLost`]), and plays the ring alert
//! (the region's ringing cadence) on the ring device — or in the headset when there is none —
//! while an inbound call waits.

use audio_io::{AudioConfig, AudioEngine, AudioError, AudioEvent, DeviceRole};
use console_core::{AudioRole, AudioStatus, CallId, ConsoleError, MediaEvent, Reply};
use media_engine::tones::TonePlan;
use media_engine::{ToneGenerator, ToneKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// How long a device switch may take before the attendant is told it failed.
const SWITCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Microphone frames queued beyond this many are dropped (oldest first) to bound latency.
const MAX_MIC_BACKLOG_FRAMES: usize = 2;

/// The newest microphone frame; `seq` 0 means none yet.
#[derive(Clone, Default)]
struct MicFrame {
    seq: u64,
    samples: Arc<[i16]>,
}

/// The running headset task, as the media manager sees it.
pub(crate) struct Attendant {
    mic: watch::Receiver<MicFrame>,
    speaker: mpsc::UnboundedSender<(CallId, Vec<i16>)>,
    control: mpsc::UnboundedSender<Control>,
}

/// What the media manager asks of the headset task.
pub(crate) enum Control {
    /// Switch one device; the reply carries the new status or why not.
    Set {
        role: AudioRole,
        device: Option<String>,
        reply: oneshot::Sender<Result<Reply, ConsoleError>>,
    },
    /// Sound the ring alert, or stop it.
    RingAlert(bool),
    /// Play a tone in the headset (the dial pad's dial tone), or stop it.
    Tone(Option<ToneKind>),
}

/// One call's connection to the headset.
pub(crate) struct CallPort {
    call: CallId,
    mic: watch::Receiver<MicFrame>,
    seen: u64,
    speaker: mpsc::UnboundedSender<(CallId, Vec<i16>)>,
}

impl Attendant {
    /// Opens the devices `config` names (on a blocking thread) and starts the headset task.
    /// Must run inside a tokio runtime.
    pub(crate) fn start(
        config: AudioConfig,
        tone_region: String,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Self {
        let (mic_tx, mic) = watch::channel(MicFrame::default());
        let (speaker, speaker_rx) = mpsc::unbounded_channel();
        let (control, control_rx) = mpsc::unbounded_channel();
        let ring = media_engine::tones::tone_plan(&tone_region, ToneKind::Ringback)
            .or_else(|_| media_engine::tones::tone_plan("us", ToneKind::Ringback))
            .ok();
        let region = if media_engine::tones::tone_plan(&tone_region, ToneKind::Dial).is_ok() {
            tone_region
        } else {
            "us".to_owned()
        };
        tokio::spawn(run(
            config,
            Channels {
                mic_tx,
                speaker_rx,
                control_rx,
                events,
            },
            ring,
            region,
        ));
        Self {
            mic,
            speaker,
            control,
        }
    }

    /// Passes a request on to the headset task. When the task has ended (no device could be
    /// opened), a switch is answered at once: there is nothing to switch.
    pub(crate) fn control(&self, control: Control) {
        if let Err(mpsc::error::SendError(Control::Set { reply, .. })) = self.control.send(control)
        {
            let _ = reply.send(Err(ConsoleError::AudioUnavailable(
                "no sound device could be opened: the console runs headless".into(),
            )));
        }
    }

    /// A port for a new call.
    pub(crate) fn port(&self, call: CallId) -> CallPort {
        CallPort {
            call,
            mic: self.mic.clone(),
            seen: 0,
            speaker: self.speaker.clone(),
        }
    }
}

impl CallPort {
    /// The newest microphone frame this call has not taken yet.
    pub(crate) fn latest_mic(&mut self) -> Option<Arc<[i16]>> {
        let frame = self.mic.borrow();
        if frame.seq == 0 || frame.seq == self.seen {
            return None;
        }
        self.seen = frame.seq;
        Some(frame.samples.clone())
    }

    /// What this call played this tick, for the speaker mix.
    pub(crate) fn speak(&self, frame: Vec<i16>) {
        // The headset task is gone when there is no device: nothing to play.
        let _ = self.speaker.send((self.call.clone(), frame));
    }
}

/// The headset task's ends of its channels.
struct Channels {
    mic_tx: watch::Sender<MicFrame>,
    speaker_rx: mpsc::UnboundedReceiver<(CallId, Vec<i16>)>,
    control_rx: mpsc::UnboundedReceiver<Control>,
    events: mpsc::UnboundedSender<MediaEvent>,
}

fn headless_status() -> AudioStatus {
    AudioStatus {
        enabled: true,
        headless: true,
        ..AudioStatus::default()
    }
}

fn status_of(engine: &AudioEngine, alerting: bool) -> AudioStatus {
    let devices = engine.devices();
    AudioStatus {
        enabled: true,
        headless: engine.is_headless(),
        input: devices.input,
        output: devices.output,
        ring: devices.ring,
        alerting,
    }
}

fn role_of(role: DeviceRole) -> AudioRole {
    match role {
        DeviceRole::Input => AudioRole::Input,
        DeviceRole::Output => AudioRole::Output,
        DeviceRole::Ring => AudioRole::Ring,
    }
}

/// The console's error for a failed switch.
pub(crate) fn console_error(error: AudioError) -> ConsoleError {
    match error {
        AudioError::DeviceNotFound { role, name } => ConsoleError::DeviceNotFound {
            role: role_of(role).as_str(),
            device: name,
        },
        other => ConsoleError::AudioUnavailable(other.to_string()),
    }
}

/// Switches one device on a blocking thread (opening a stream can take a while) and gives the
/// engine back; `None` when the blocking thread died with it.
async fn switch(
    mut engine: AudioEngine,
    role: AudioRole,
    device: Option<String>,
) -> Option<(AudioEngine, Result<(), AudioError>)> {
    let work = tokio::task::spawn_blocking(move || {
        let name = device.as_deref();
        let result = match role {
            AudioRole::Input => engine.set_input(name),
            AudioRole::Output => engine.set_output(name),
            AudioRole::Ring => engine.set_ring(name),
        };
        (engine, result)
    });
    match tokio::time::timeout(SWITCH_TIMEOUT, work).await {
        Ok(Ok(done)) => Some(done),
        Ok(Err(error)) => {
            tracing::error!(%error, "audio: the device switch failed; calls run headless");
            None
        }
        Err(_) => {
            tracing::error!("audio: the device switch hung; calls run headless");
            None
        }
    }
}

async fn run(
    config: AudioConfig,
    channels: Channels,
    ring_plan: Option<&'static TonePlan>,
    region: String,
) {
    let Channels {
        mic_tx,
        mut speaker_rx,
        mut control_rx,
        events,
    } = channels;
    let choice = config.choice.clone();
    let opened = match tokio::task::spawn_blocking(move || AudioEngine::open(config)).await {
        Ok(Ok(engine)) => Some(engine),
        Ok(Err(error)) => {
            tracing::warn!(%error, "audio: cannot open the sound devices; calls run headless");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "audio: the device set-up failed; calls run headless");
            None
        }
    };
    let Some(mut engine) = opened.filter(|e| !e.is_headless()) else {
        tracing::info!(%choice, "audio: no sound device; calls run headless");
        let _ = events.send(MediaEvent::AudioDevices(headless_status()));
        return;
    };
    tracing::info!(devices = ?engine.devices(), "audio: the attendant's headset is open");
    let mut alerting = false;
    // The ring alert while it sounds, from the start of the region's cadence.
    let mut ring: Option<ToneGenerator> = None;
    // A tone for the attendant alone (the dial pad's dial tone), mixed into the headset.
    let mut tone: Option<ToneGenerator> = None;
    let _ = events.send(MediaEvent::AudioDevices(status_of(&engine, alerting)));
    let samples = engine.frame_samples();
    let mut frame = vec![0i16; samples];
    let mut mix = vec![0i16; samples];
    let mut latest: HashMap<CallId, Vec<i16>> = HashMap::new();
    let mut seq = 0u64;
    let mut playing = false;
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        // Microphone: one frame a tick; a backlog beyond a few frames is dropped.
        while engine.mic_available() > samples * MAX_MIC_BACKLOG_FRAMES {
            engine.read_mic_frame(&mut frame);
        }
        if engine.read_mic_frame(&mut frame) {
            seq += 1;
            mic_tx.send_replace(MicFrame {
                seq,
                samples: frame.as_slice().into(),
            });
        }
        // Speaker: the newest frame of each call, summed.
        loop {
            match speaker_rx.try_recv() {
                Ok((call, played)) => {
                    latest.insert(call, played);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                // The media manager is gone: the console is shutting down.
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        // Requests: device switches (the calls wait a moment, they do not drop) and the ring.
        while let Ok(control) = control_rx.try_recv() {
            match control {
                Control::Tone(kind) => {
                    tone = kind.and_then(|k| {
                        media_engine::tones::tone_plan(&region, k)
                            .ok()
                            .map(|plan| ToneGenerator::new(plan, audio_io::ENGINE_RATE))
                    });
                }
                Control::RingAlert(on) => {
                    alerting = on;
                    ring = match (on, ring.take()) {
                        (false, Some(_)) => {
                            engine.clear_ring();
                            None
                        }
                        (false, None) => None,
                        (true, Some(sounding)) => Some(sounding),
                        (true, None) => {
                            ring_plan.map(|plan| ToneGenerator::new(plan, audio_io::ENGINE_RATE))
                        }
                    };
                }
                Control::Set {
                    role,
                    device,
                    reply,
                } => {
                    let Some((back, result)) = switch(engine, role, device.clone()).await else {
                        let _ = reply.send(Err(ConsoleError::AudioUnavailable(
                            "the sound device thread stopped".into(),
                        )));
                        let _ = events.send(MediaEvent::AudioDevices(headless_status()));
                        return;
                    };
                    engine = back;
                    let status = status_of(&engine, alerting);
                    match result {
                        Ok(()) => {
                            tracing::info!(role = role.as_str(), ?device, devices = ?engine.devices(),
                                "audio: switched");
                            let _ = events.send(MediaEvent::AudioDevices(status.clone()));
                            let _ = reply.send(Ok(Reply::Audio(status)));
                        }
                        Err(error) => {
                            tracing::warn!(%error, "audio: cannot switch the device");
                            let _ = reply.send(Err(console_error(error)));
                        }
                    }
                }
            }
        }
        if let Some(ring) = ring.as_mut() {
            ring.fill(&mut frame);
            engine.write_ring(&frame);
        }
        if latest.is_empty() && tone.is_none() {
            if playing {
                // No call plays to the attendant any more (bridged, held, ended): what the
                // device has not played yet is stale.
                engine.clear_playback();
                playing = false;
            }
        } else {
            playing = true;
            mix.fill(0);
            if let Some(tone) = tone.as_mut() {
                tone.fill(&mut mix);
            }
            for played in latest.values() {
                for (out, s) in mix.iter_mut().zip(played) {
                    *out = out.saturating_add(*s);
                }
            }
            engine.write_speaker(&mix);
            latest.clear();
        }
        while let Some(event) = engine.poll_event() {
            match event {
                AudioEvent::DeviceLost {
                    role,
                    name,
                    fell_back_to,
                } => {
                    tracing::warn!(%role, %name, ?fell_back_to, "audio: a device was lost");
                    let _ = events.send(MediaEvent::AudioDeviceLost {
                        role: role_of(role),
                        device: name,
                        fell_back_to,
                    });
                }
                other => tracing::warn!(?other, "audio: device event"),
            }
        }
    }
}
