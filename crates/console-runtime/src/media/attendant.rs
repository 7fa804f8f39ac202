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

use audio_io::{AudioConfig, AudioEngine, AudioEvent};
use console_core::CallId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

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
    pub(crate) fn start(config: AudioConfig) -> Self {
        let (mic_tx, mic) = watch::channel(MicFrame::default());
        let (speaker, speaker_rx) = mpsc::unbounded_channel();
        tokio::spawn(run(config, mic_tx, speaker_rx));
        Self { mic, speaker }
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

async fn run(
    config: AudioConfig,
    mic_tx: watch::Sender<MicFrame>,
    mut speaker_rx: mpsc::UnboundedReceiver<(CallId, Vec<i16>)>,
) {
    let choice = config.choice.clone();
    let mut engine = match tokio::task::spawn_blocking(move || AudioEngine::open(config)).await {
        Ok(Ok(engine)) => engine,
        Ok(Err(error)) => {
            tracing::warn!(%error, "audio: cannot open the sound devices; calls run headless");
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "audio: the device set-up failed; calls run headless");
            return;
        }
    };
    if engine.is_headless() {
        tracing::info!(%choice, "audio: no sound device; calls run headless");
        return;
    }
    tracing::info!(devices = ?engine.devices(), "audio: the attendant's headset is open");
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
        if latest.is_empty() {
            if playing {
                // No call plays to the attendant any more (bridged, held, ended): what the
                // device has not played yet is stale.
                engine.clear_playback();
                playing = false;
            }
        } else {
            playing = true;
            mix.fill(0);
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
                } => tracing::warn!(%role, %name, ?fell_back_to, "audio: a device was lost"),
                other => tracing::warn!(?other, "audio: device event"),
            }
        }
    }
}
