//! Sound devices for Switchboard: the only crate that talks to cpal.
//!
//! # Shape
//!
//! ```text
//!  mic device ──cpal callback──▶ [mic ring] ──read_mic()──────▶ media side
//!  media side ──write_speaker()─▶ [speaker ring] ──cpal callback──▶ headset
//!  media side ──write_ring()────▶ [ring-alert ring] ──cpal callback──▶ ring device
//!                                       (or mixed into the headset when no ring device is set)
//! ```
//!
//! Every ring holds **i16 mono samples at 48 kHz** ([`ENGINE_RATE`]), whatever the device does.
//! The cpal callbacks convert the sample format, downmix/upmix channels and, when a device cannot
//! run at 48 kHz, resample linearly — all with fixed-size state, no allocation, no blocking
//! (see `rt.rs` and ADR 0007). The media side (not real-time) reads and writes whole frames.
//!
//! Streams live on a device thread owned by the [`AudioEngine`]. Switching a device
//! ([`AudioEngine::set_input`] …) rebuilds one stream while the rings — and therefore the call —
//! carry on. When a stream reports that its device is gone, the device thread falls back to the
//! system default and queues [`AudioEvent::DeviceLost`]; read it with
//! [`AudioEngine::poll_event`].
//!
//! # Run loop (media side)
//!
//! Every frame tick (e.g. 20 ms, on the media task's own clock):
//! 1. `engine.read_mic_frame(&mut frame)` while it returns `true` (send each frame),
//! 2. `engine.write_speaker(&decoded)` for each decoded frame,
//! 3. `while let Some(ev) = engine.poll_event() { … }`,
//! 4. now and then `engine.stats()` for the level meters.
//!
//! With `--audio none`, or with no usable device, [`AudioEngine::open`] still succeeds:
//! [`AudioEngine::is_headless`] is `true`, the mic yields nothing and speaker frames are
//! discarded, so media keeps flowing on the caller's clock.

mod choice;
mod devices;
mod engine;
mod rt;

pub use choice::AudioChoice;
pub use devices::{DeviceConfig, DeviceInfo, list_devices};
pub use engine::{ActiveDevices, AudioConfig, AudioEngine};

/// The sample rate of every ring between the devices and the media side, in Hz.
///
/// 48 kHz because Opus and nearly every headset run natively at it (no resampling on the common
/// path), and G.711's 8 kHz is an exact 1/6 of it for the media side's resampler.
pub const ENGINE_RATE: u32 = 48_000;

/// Samples per millisecond at [`ENGINE_RATE`] (mono).
pub const SAMPLES_PER_MS: usize = (ENGINE_RATE / 1000) as usize;

/// The level reported for silence (and anything quieter), in dBFS.
pub const SILENCE_DBFS: f32 = -96.0;

/// The part a device plays in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceRole {
    /// The microphone.
    Input,
    /// The headset or speaker that plays the call.
    Output,
    /// The separate device that plays the ring alert for inbound calls.
    Ring,
}

impl std::fmt::Display for DeviceRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceRole::Input => "input",
            DeviceRole::Output => "output",
            DeviceRole::Ring => "ring",
        })
    }
}

/// Something the device side wants the application to know; read with
/// [`AudioEngine::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioEvent {
    /// A device disappeared (or a configured one was not there at start-up).
    DeviceLost {
        /// Which stream lost its device.
        role: DeviceRole,
        /// The id of the device that was lost (or the name that was asked for at start-up).
        name: String,
        /// The id of the device now used instead (the system default; for the ring role the
        /// output device the ring alert is mixed into), or `None` when no device could be
        /// opened: that role then runs without a device.
        fell_back_to: Option<String>,
    },
}

/// Counters and level meters; see [`AudioEngine::stats`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AudioStats {
    /// Gaps in playback: times the speaker (or ring) callback ran out of samples after audio had
    /// been flowing and played silence instead. A ring that stays empty counts once.
    pub underruns: u64,
    /// Capture callbacks that found the mic ring full (the media side is not reading) and dropped
    /// samples.
    pub overruns: u64,
    /// Calls to `write_speaker`/`write_ring` that could not store the whole frame (the device
    /// consumes slower than the media side produces).
    pub playback_overflows: u64,
    /// Errors reported by streams that did not stop them (e.g. xruns inside the backend).
    pub stream_errors: u64,
    /// Peak mic level since the previous `stats()` call, in dBFS ([`SILENCE_DBFS`] at most quiet).
    pub input_level_dbfs: f32,
    /// Peak speaker level since the previous `stats()` call, in dBFS.
    pub output_level_dbfs: f32,
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// The caller passed an invalid value (an `--audio` string, a frame length).
    #[error("invalid audio setting: {0}")]
    InvalidConfig(String),
    /// No device of that name supports the role.
    #[error("no {role} device named {name:?}")]
    DeviceNotFound {
        /// The role the device was wanted for.
        role: DeviceRole,
        /// The requested name.
        name: String,
    },
    /// The device exists but could not be opened for the role.
    #[error("{role} device {name:?} cannot be used: {reason}")]
    DeviceUnusable {
        /// The role the device was wanted for.
        role: DeviceRole,
        /// The device's name.
        name: String,
        /// What the audio backend said.
        reason: String,
    },
    /// The audio backend failed (enumeration, host start-up).
    #[error("audio backend: {0}")]
    Backend(String),
    /// The engine was opened with [`AudioChoice::None`]; it has no device thread to switch.
    #[error("audio is disabled (--audio none)")]
    Disabled,
    /// The device thread is gone (it panicked); the engine is headless from now on.
    #[error("the audio device thread stopped")]
    EngineStopped,
}
