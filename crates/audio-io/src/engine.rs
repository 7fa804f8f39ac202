//! [`AudioEngine`]: the media side's handle, and the device thread that owns the cpal streams.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{ErrorKind, SampleFormat, StreamConfig};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::devices::{default_device, find_device, names, pick_config};
use crate::rt::{Capture, Playback, Shared, Source};
use crate::{AudioChoice, AudioError, AudioEvent, AudioStats, DeviceRole, SAMPLES_PER_MS};

/// How many frames each ring holds (10 × 20 ms = 200 ms by default).
const RING_FRAMES: usize = 10;
/// How long `open`/`set_*` wait for the device thread to open a stream.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Passed to cpal: how long a backend may take to build a stream.
const BUILD_TIMEOUT: Duration = Duration::from_secs(3);
/// A role that loses its device again this soon after a fallback gives up (no retry storm).
const FAULT_STORM: Duration = Duration::from_secs(5);
/// A stream whose data callback has not run for this long is treated as lost. Needed because
/// some backends never report a dead stream (cpal 0.18.2's PulseAudio host ignores the server's
/// "stream killed" message; a wedged USB device just stops calling back).
const STALL: Duration = Duration::from_secs(3);
/// How often the device thread checks for stalled streams.
const WATCHDOG_TICK: Duration = Duration::from_millis(250);
/// How often the device thread checks that the devices in use are still there. Needed because
/// a sound server may move a stream whose device went away to another device on its own
/// (PulseAudio 14+ does, for a removed sink): the stream never stalls and cpal says nothing,
/// yet the attendant's headset is gone.
const PRESENCE_TICK: Duration = Duration::from_secs(2);

/// How to open the [`AudioEngine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioConfig {
    /// `--audio`: none, the system defaults, or one named device for input and output.
    pub choice: AudioChoice,
    /// Microphone name overriding `choice` (ignored with [`AudioChoice::None`]).
    pub input: Option<String>,
    /// Headset/speaker name overriding `choice` (ignored with [`AudioChoice::None`]).
    pub output: Option<String>,
    /// A separate device for the ring alert; `None` mixes the ring alert into the output.
    pub ring: Option<String>,
    /// Frame length of the media side in milliseconds (5..=100; 20 for G.711 and Opus).
    pub frame_ms: u32,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            choice: AudioChoice::Default,
            input: None,
            output: None,
            ring: None,
            frame_ms: 20,
        }
    }
}

/// Ids (`host:device`, as in [`crate::DeviceInfo::id`]) of the devices in use; `None` where a
/// role has no device. Ids, not descriptions: two PulseAudio null sinks are both "Null Output".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveDevices {
    /// The microphone.
    pub input: Option<String>,
    /// The headset or speaker.
    pub output: Option<String>,
    /// The separate ring device (`None`: the ring alert is mixed into the output).
    pub ring: Option<String>,
}

/// Sound devices behind lock-free rings of i16 mono samples at 48 kHz.
///
/// Not real-time itself: call its methods from the media task. See the crate docs for the
/// run loop. Dropping the engine tells the device thread to stop all streams (without waiting).
pub struct AudioEngine {
    shared: Arc<Shared>,
    mic: HeapCons<i16>,
    speaker: HeapProd<i16>,
    ring_alert: HeapProd<i16>,
    frame_samples: usize,
    events: Receiver<AudioEvent>,
    active: Arc<Mutex<ActiveDevices>>,
    device_thread: Option<DeviceThread>,
}

struct DeviceThread {
    commands: Sender<Command>,
    join: Option<JoinHandle<()>>,
}

impl AudioEngine {
    /// Opens the devices `config` asks for.
    ///
    /// Never fails for lack of devices: with [`AudioChoice::None`], or when no device can be
    /// opened, the engine is headless ([`AudioEngine::is_headless`]). A named device that is
    /// missing at start-up is replaced by the system default and reported as
    /// [`AudioEvent::DeviceLost`]. Fails only on an invalid `frame_ms` or when the device thread
    /// cannot be started.
    pub fn open(config: AudioConfig) -> Result<AudioEngine, AudioError> {
        if !(5..=100).contains(&config.frame_ms) {
            return Err(AudioError::InvalidConfig(format!(
                "frame_ms must be 5..=100, not {}",
                config.frame_ms
            )));
        }
        let frame_samples = SAMPLES_PER_MS * config.frame_ms as usize;
        let capacity = frame_samples * RING_FRAMES;
        let (mic_p, mic_c) = HeapRb::<i16>::new(capacity).split();
        let (spk_p, spk_c) = HeapRb::<i16>::new(capacity).split();
        let (ring_p, ring_c) = HeapRb::<i16>::new(capacity).split();
        let shared = Arc::new(Shared::new(mic_p, spk_c, ring_c));
        let (events_tx, events) = mpsc::channel();
        let active = Arc::new(Mutex::new(ActiveDevices::default()));
        let mut engine = AudioEngine {
            shared: shared.clone(),
            mic: mic_c,
            speaker: spk_p,
            ring_alert: ring_p,
            frame_samples,
            events,
            active: active.clone(),
            device_thread: None,
        };
        let (input, output) = match &config.choice {
            AudioChoice::None => {
                tracing::info!("audio: none (headless)");
                return Ok(engine);
            }
            AudioChoice::Default => (config.input.clone(), config.output.clone()),
            AudioChoice::Named(name) => (
                config.input.clone().or_else(|| Some(name.clone())),
                config.output.clone().or_else(|| Some(name.clone())),
            ),
        };

        let (tx, rx) = mpsc::channel();
        let state = DeviceState {
            shared,
            commands: tx.clone(),
            events: events_tx,
            active,
            next_generation: 1,
            frame_ms: config.frame_ms,
            slots: [None, None, None],
            last_fault: [None, None, None],
            last_presence_check: Instant::now(),
            presence_host: None,
        };
        let join = std::thread::Builder::new()
            .name("audio-devices".to_owned())
            .spawn(move || state.run(rx))
            .map_err(|e| AudioError::Backend(format!("starting the device thread: {e}")))?;
        engine.device_thread = Some(DeviceThread {
            commands: tx,
            join: Some(join),
        });
        for (role, name) in [
            (DeviceRole::Output, output),
            (DeviceRole::Input, input),
            (DeviceRole::Ring, config.ring.clone()),
        ] {
            if role == DeviceRole::Ring && name.is_none() {
                continue;
            }
            if let Err(e) = engine.request(role, name, true) {
                tracing::warn!(%role, error = %e, "audio: no device");
            }
        }
        tracing::info!(devices = ?engine.devices(), headless = engine.is_headless(), "audio: open");
        Ok(engine)
    }

    /// `true` when neither a microphone nor a speaker is open: run media on your own clock.
    pub fn is_headless(&self) -> bool {
        !self.shared.input_active.load(Ordering::Acquire)
            && !self.shared.output_active.load(Ordering::Acquire)
    }

    /// Samples in one media frame (48 per millisecond: 960 for 20 ms).
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Ids of the devices in use.
    pub fn devices(&self) -> ActiveDevices {
        self.active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Mic samples waiting in the ring.
    pub fn mic_available(&self) -> usize {
        self.mic.occupied_len()
    }

    /// Moves up to `out.len()` mic samples (i16 mono 48 kHz) into `out`; returns how many.
    /// Returns 0 when headless or when the mic has nothing new.
    pub fn read_mic(&mut self, out: &mut [i16]) -> usize {
        self.mic.pop_slice(out)
    }

    /// Fills `out` completely and returns `true` when a whole frame's worth (`out.len()`
    /// samples) is waiting; otherwise leaves the ring alone and returns `false`.
    /// Call in a loop each tick to drain every complete frame.
    pub fn read_mic_frame(&mut self, out: &mut [i16]) -> bool {
        if self.mic.occupied_len() < out.len() {
            return false;
        }
        self.mic.pop_slice(out) == out.len()
    }

    /// Queues samples (i16 mono 48 kHz) for the headset; returns how many were stored.
    ///
    /// With no output device the samples are discarded and all are reported stored (no
    /// back-pressure when headless). When the ring is full the rest is dropped and counted in
    /// [`AudioStats::playback_overflows`].
    pub fn write_speaker(&mut self, frame: &[i16]) -> usize {
        if !self.shared.output_active.load(Ordering::Acquire) {
            return frame.len();
        }
        let n = self.speaker.push_slice(frame);
        if n < frame.len() {
            self.shared
                .meters
                .playback_overflows
                .fetch_add(1, Ordering::Relaxed);
        }
        n
    }

    /// Queues ring-alert samples (i16 mono 48 kHz) for the ring device, or for mixing into the
    /// output when no ring device is set. Same return and overflow rules as
    /// [`AudioEngine::write_speaker`].
    pub fn write_ring(&mut self, frame: &[i16]) -> usize {
        let played = self.shared.ring_separate.load(Ordering::Acquire)
            || self.shared.output_active.load(Ordering::Acquire);
        if !played {
            return frame.len();
        }
        let n = self.ring_alert.push_slice(frame);
        if n < frame.len() {
            self.shared
                .meters
                .playback_overflows
                .fetch_add(1, Ordering::Relaxed);
        }
        n
    }

    /// Drops queued speaker and ring-alert samples (e.g. on hold, or when a ring alert stops).
    pub fn clear_playback(&mut self) {
        // Only the consumer may pop; the callbacks drain on their own. Emptying here means
        // taking the consumer ends briefly (not real-time side, so waiting is fine).
        for ring in [&self.shared.speaker, &self.shared.ring_alert] {
            ring.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }

    /// Drops queued ring-alert samples only: the ring alert stops at once, calls play on.
    pub fn clear_ring(&mut self) {
        self.shared
            .ring_alert
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Counters since open, and peak levels since the previous call (for the UI's meters).
    pub fn stats(&self) -> AudioStats {
        self.shared.meters.snapshot()
    }

    /// The next event from the device side, if any. Call every tick.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<AudioEvent> {
        self.events.try_recv().ok()
    }

    /// Switches the microphone (`None`: the system default) while the call goes on.
    ///
    /// On error the previous device keeps running.
    pub fn set_input(&mut self, name: Option<&str>) -> Result<(), AudioError> {
        self.request(DeviceRole::Input, name.map(str::to_owned), false)
    }

    /// Switches the headset/speaker (`None`: the system default) while the call goes on.
    ///
    /// On error the previous device keeps running.
    pub fn set_output(&mut self, name: Option<&str>) -> Result<(), AudioError> {
        self.request(DeviceRole::Output, name.map(str::to_owned), false)
    }

    /// Sets the separate ring device; `None` closes it and mixes the ring alert into the output.
    ///
    /// On error the previous device keeps running.
    pub fn set_ring(&mut self, name: Option<&str>) -> Result<(), AudioError> {
        self.request(DeviceRole::Ring, name.map(str::to_owned), false)
    }

    /// Asks the device thread to (re)open `role` and waits for the answer.
    fn request(
        &mut self,
        role: DeviceRole,
        name: Option<String>,
        lenient: bool,
    ) -> Result<(), AudioError> {
        let thread = self.device_thread.as_ref().ok_or(AudioError::Disabled)?;
        let (reply, answer) = mpsc::sync_channel(1);
        thread
            .commands
            .send(Command::Set {
                role,
                name,
                lenient,
                reply,
            })
            .map_err(|_| AudioError::EngineStopped)?;
        match answer.recv_timeout(OPEN_TIMEOUT) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(AudioError::Backend(format!(
                "opening the {role} device timed out"
            ))),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(AudioError::EngineStopped),
        }
    }
}

impl Drop for AudioEngine {
    fn drop(&mut self) {
        if let Some(mut t) = self.device_thread.take() {
            let _ = t.commands.send(Command::Shutdown);
            // Not joined: dropping a cpal stream whose server-side stream was killed has been
            // seen to hang (PulseAudio host, cpal 0.18.2), and quitting the console must not.
            // The thread stops its streams and exits on its own.
            drop(t.join.take());
        }
    }
}

impl std::fmt::Debug for AudioEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioEngine")
            .field("devices", &self.devices())
            .field("headless", &self.is_headless())
            .field("frame_samples", &self.frame_samples)
            .finish_non_exhaustive()
    }
}

/// Work for the device thread.
enum Command {
    /// Open `name` (or the default) for `role` and replace the current stream.
    /// `lenient`: a missing named device falls back to the default (start-up).
    Set {
        role: DeviceRole,
        name: Option<String>,
        lenient: bool,
        reply: SyncSender<Result<(), AudioError>>,
    },
    /// A stream's error callback reported that its device is gone.
    Fault {
        role: DeviceRole,
        generation: u64,
        message: String,
    },
    Shutdown,
}

/// A running stream.
struct Slot {
    name: String,
    generation: u64,
    /// The role's callback count when last seen moving, and when.
    progress: (u64, Instant),
    /// A presence check has listed this device: only then does its absence mean it went away
    /// (some backends never list the device they opened as "default").
    listed: bool,
    /// Dropping it stops the stream.
    _stream: cpal::Stream,
}

/// Owned by the device thread: cpal streams never leave it, so they need not be `Send`.
struct DeviceState {
    shared: Arc<Shared>,
    /// For the streams' error callbacks.
    commands: Sender<Command>,
    events: Sender<AudioEvent>,
    active: Arc<Mutex<ActiveDevices>>,
    next_generation: u64,
    /// The engine's frame length; capture streams deliver one frame per callback.
    frame_ms: u32,
    slots: [Option<Slot>; 3],
    last_fault: [Option<Instant>; 3],
    last_presence_check: Instant,
    /// The host the presence checks list devices with, kept between checks: a new one each
    /// time would be a new sound-server connection every two seconds.
    presence_host: Option<cpal::Host>,
}

fn index(role: DeviceRole) -> usize {
    match role {
        DeviceRole::Input => 0,
        DeviceRole::Output => 1,
        DeviceRole::Ring => 2,
    }
}

impl DeviceState {
    fn run(mut self, commands: Receiver<Command>) {
        loop {
            let cmd = match commands.recv_timeout(WATCHDOG_TICK) {
                Ok(cmd) => cmd,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.watchdog();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            match cmd {
                Command::Set {
                    role,
                    name,
                    lenient,
                    reply,
                } => {
                    let result = self.set(role, name, lenient);
                    let _ = reply.send(result);
                }
                Command::Fault {
                    role,
                    generation,
                    message,
                } => self.fault(role, generation, &message),
                Command::Shutdown => break,
            }
        }
        // Streams stop here, on the thread that built them.
        self.slots = [None, None, None];
        self.publish();
    }

    fn set(
        &mut self,
        role: DeviceRole,
        name: Option<String>,
        lenient: bool,
    ) -> Result<(), AudioError> {
        if role == DeviceRole::Ring && name.is_none() {
            self.install(role, None);
            return Ok(());
        }
        match self.open(role, name.as_deref()) {
            Ok(slot) => {
                self.install(role, Some(slot));
                Ok(())
            }
            Err(e @ AudioError::DeviceNotFound { .. }) if lenient => {
                let wanted = name.unwrap_or_default();
                let fallback = self.open(role, None).ok();
                let fell_back_to = fallback.as_ref().map(|s| s.name.clone());
                tracing::warn!(%role, device = %wanted, ?fell_back_to, "audio: {e}");
                self.install(role, fallback);
                let _ = self.events.send(AudioEvent::DeviceLost {
                    role,
                    name: wanted,
                    fell_back_to,
                });
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Treats streams whose callbacks stopped as lost.
    fn watchdog(&mut self) {
        let now = Instant::now();
        let mut stalled = Vec::new();
        for role in [DeviceRole::Input, DeviceRole::Output, DeviceRole::Ring] {
            let i = index(role);
            let count = self.shared.callbacks[i].load(Ordering::Relaxed);
            if let Some(slot) = self.slots[i].as_mut() {
                if count != slot.progress.0 {
                    slot.progress = (count, now);
                } else if now.duration_since(slot.progress.1) >= STALL {
                    stalled.push((role, slot.generation));
                }
            }
        }
        for (role, generation) in stalled {
            self.fault(role, generation, "the stream stopped calling back");
        }
        if now.duration_since(self.last_presence_check) >= PRESENCE_TICK {
            self.last_presence_check = now;
            self.check_presence();
        }
    }

    /// Treats a device that was listed before and is listed no more as lost.
    fn check_presence(&mut self) {
        let host = self.presence_host.get_or_insert_with(cpal::default_host);
        let Ok(devices) = cpal::traits::HostTrait::devices(host) else {
            // The server may be restarting: connect afresh next time (the stall watchdog
            // covers a dead stream meanwhile).
            self.presence_host = None;
            return;
        };
        let present: std::collections::HashSet<String> = devices.map(|d| names(&d).0).collect();
        let mut gone = Vec::new();
        for role in [DeviceRole::Input, DeviceRole::Output, DeviceRole::Ring] {
            if let Some(slot) = self.slots[index(role)].as_mut() {
                match (present.contains(&slot.name), slot.listed) {
                    (true, _) => slot.listed = true,
                    (false, true) => gone.push((role, slot.generation)),
                    (false, false) => {}
                }
            }
        }
        for (role, generation) in gone {
            self.fault(role, generation, "the device was removed");
        }
    }

    fn fault(&mut self, role: DeviceRole, generation: u64, message: &str) {
        let i = index(role);
        let current = self.slots[i].as_ref().map(|s| s.generation);
        if current != Some(generation) {
            return; // a stream we already replaced
        }
        let lost = self.slots[i].take().map(|s| s.name).unwrap_or_default();
        self.install(role, None);
        let storm = self.last_fault[i].is_some_and(|t| t.elapsed() < FAULT_STORM);
        self.last_fault[i] = Some(Instant::now());
        let fell_back_to = if role == DeviceRole::Ring {
            // The ring alert goes back to being mixed into the output.
            self.slots[index(DeviceRole::Output)]
                .as_ref()
                .map(|s| s.name.clone())
        } else if storm {
            tracing::warn!(%role, "audio: device lost twice in a row; running without one");
            None
        } else {
            match self.open(role, None) {
                Ok(slot) => {
                    let name = slot.name.clone();
                    self.install(role, Some(slot));
                    Some(name)
                }
                Err(e) => {
                    tracing::warn!(%role, error = %e, "audio: no fallback device");
                    None
                }
            }
        };
        tracing::warn!(%role, device = %lost, %message, ?fell_back_to, "audio: device lost");
        let _ = self.events.send(AudioEvent::DeviceLost {
            role,
            name: lost,
            fell_back_to,
        });
    }

    /// Replaces the stream of `role` (the new one is already playing, so the switch is
    /// seamless apart from at most one skipped callback) and publishes the new state.
    fn install(&mut self, role: DeviceRole, slot: Option<Slot>) {
        let present = slot.is_some();
        let old = std::mem::replace(&mut self.slots[index(role)], slot);
        drop(old);
        let flag = match role {
            DeviceRole::Input => &self.shared.input_active,
            DeviceRole::Output => &self.shared.output_active,
            DeviceRole::Ring => &self.shared.ring_separate,
        };
        flag.store(present, Ordering::Release);
        self.publish();
    }

    fn publish(&self) {
        let name = |role| {
            self.slots[index(role)]
                .as_ref()
                .map(|s: &Slot| s.name.clone())
        };
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        *active = ActiveDevices {
            input: name(DeviceRole::Input),
            output: name(DeviceRole::Output),
            ring: name(DeviceRole::Ring),
        };
    }

    fn open(&mut self, role: DeviceRole, name: Option<&str>) -> Result<Slot, AudioError> {
        // A fresh host (for PulseAudio: a new client connection) per stream. Measured here with
        // cpal 0.18.2: a second playback stream on the same PulseAudio client fails with
        // "Invalid argument", which would break switching outputs. It also means that after a
        // fault we never reuse a client that may be the thing that died.
        let host = cpal::default_host();
        let device = match name {
            Some(n) => find_device(&host, role, n)?,
            None => default_device(&host, role).ok_or_else(|| AudioError::DeviceNotFound {
                role,
                name: "default".to_owned(),
            })?,
        };
        let (device_name, _) = names(&device);
        let unusable = |reason: String| AudioError::DeviceUnusable {
            role,
            name: device_name.clone(),
            reason,
        };
        let (config, format) = pick_config(&device, role, self.frame_ms).map_err(unusable)?;
        let generation = self.next_generation;
        self.next_generation += 1;
        let stream = self
            .build(&device, role, config, format, generation)
            .map_err(|e| unusable(format!("building the stream: {e}")))?;
        stream
            .play()
            .map_err(|e| unusable(format!("starting the stream: {e}")))?;
        tracing::info!(%role, device = %device_name, rate = config.sample_rate,
            channels = config.channels, %format, "audio: stream started");
        Ok(Slot {
            name: device_name,
            generation,
            progress: (
                self.shared.callbacks[index(role)].load(Ordering::Relaxed),
                Instant::now(),
            ),
            // A device found by name was just listed; the default may not be.
            listed: name.is_some(),
            _stream: stream,
        })
    }

    fn build(
        &self,
        device: &cpal::Device,
        role: DeviceRole,
        config: StreamConfig,
        format: SampleFormat,
        generation: u64,
    ) -> Result<cpal::Stream, cpal::Error> {
        let shared = self.shared.clone();
        let commands = self.commands.clone();
        let on_error = move |e: cpal::Error| match e.kind() {
            ErrorKind::DeviceNotAvailable
            | ErrorKind::StreamInvalidated
            | ErrorKind::HostUnavailable => {
                // Not the data callback: error callbacks may allocate.
                let _ = commands.send(Command::Fault {
                    role,
                    generation,
                    message: e.to_string(),
                });
            }
            _ => {
                shared.meters.stream_errors.fetch_add(1, Ordering::Relaxed);
            }
        };
        let rate = config.sample_rate;
        let channels = config.channels;
        macro_rules! with_format {
            ($($variant:ident => $ty:ty),* $(,)?) => {
                match format {
                    $(SampleFormat::$variant => match role {
                        DeviceRole::Input => {
                            let mut cap = Capture::new(self.shared.clone(), channels, rate);
                            device.build_input_stream::<$ty, _, _>(
                                config,
                                move |data, _| cap.process(data),
                                on_error,
                                Some(BUILD_TIMEOUT),
                            )
                        }
                        DeviceRole::Output | DeviceRole::Ring => {
                            let source = if role == DeviceRole::Ring {
                                Source::RingAlert
                            } else {
                                Source::Speaker
                            };
                            let mut play = Playback::new(self.shared.clone(), source, channels, rate);
                            device.build_output_stream::<$ty, _, _>(
                                config,
                                move |data, _| play.process(data),
                                on_error,
                                Some(BUILD_TIMEOUT),
                            )
                        }
                    },)*
                    other => Err(cpal::Error::with_message(
                        ErrorKind::UnsupportedConfig,
                        format!("sample format {other} is not supported"),
                    )),
                }
            };
        }
        with_format!(
            I16 => i16,
            F32 => f32,
            I32 => i32,
            I24 => cpal::I24,
            F64 => f64,
            U16 => u16,
            I8 => i8,
            U8 => u8,
            U32 => u32,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_is_headless_and_harmless() {
        let mut engine = AudioEngine::open(AudioConfig {
            choice: AudioChoice::None,
            ..AudioConfig::default()
        })
        .expect("open");
        assert!(engine.is_headless());
        assert_eq!(engine.frame_samples(), 960);
        assert_eq!(engine.devices(), ActiveDevices::default());
        let mut frame = [0i16; 960];
        assert!(!engine.read_mic_frame(&mut frame));
        assert_eq!(engine.read_mic(&mut frame), 0);
        // Discarded without back-pressure, as many times as the caller likes.
        for _ in 0..100 {
            assert_eq!(engine.write_speaker(&frame), 960);
            assert_eq!(engine.write_ring(&frame), 960);
        }
        assert!(matches!(
            engine.set_input(Some("anything")),
            Err(AudioError::Disabled)
        ));
        assert_eq!(engine.poll_event(), None);
        let stats = engine.stats();
        assert_eq!(
            stats.underruns + stats.overruns + stats.playback_overflows,
            0
        );
    }

    #[test]
    fn frame_ms_is_validated() {
        for bad in [0, 4, 101] {
            let r = AudioEngine::open(AudioConfig {
                choice: AudioChoice::None,
                frame_ms: bad,
                ..AudioConfig::default()
            });
            assert!(matches!(r, Err(AudioError::InvalidConfig(_))), "{bad}");
        }
        let ok = AudioEngine::open(AudioConfig {
            choice: AudioChoice::None,
            frame_ms: 10,
            ..AudioConfig::default()
        });
        assert_eq!(ok.map(|e| e.frame_samples()).ok(), Some(480));
    }

    /// Whatever this machine has (nothing, ALSA's unclocked null, PulseAudio), `Default` opens.
    #[test]
    fn default_choice_opens_whatever_exists() {
        let engine = AudioEngine::open(AudioConfig::default()).expect("open never fails here");
        let devices = engine.devices();
        assert_eq!(
            engine.is_headless(),
            devices.input.is_none() && devices.output.is_none()
        );
    }

    #[test]
    fn missing_named_device_is_an_error_when_switching() {
        let mut engine = AudioEngine::open(AudioConfig::default()).expect("open");
        let before = engine.devices();
        let r = engine.set_output(Some("no such device 7f3a"));
        assert!(
            matches!(
                r,
                Err(AudioError::DeviceNotFound {
                    role: DeviceRole::Output,
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!(engine.devices(), before, "the old device keeps running");
    }

    #[test]
    fn missing_named_device_at_open_falls_back_and_says_so() {
        let mut engine = AudioEngine::open(AudioConfig {
            choice: AudioChoice::Named("no such device 7f3a".to_owned()),
            ..AudioConfig::default()
        })
        .expect("open is lenient");
        let mut lost = Vec::new();
        while let Some(AudioEvent::DeviceLost { role, name, .. }) = engine.poll_event() {
            assert_eq!(name, "no such device 7f3a");
            lost.push(role);
        }
        lost.sort_by_key(|r| index(*r));
        assert_eq!(lost, [DeviceRole::Input, DeviceRole::Output]);
    }
}
