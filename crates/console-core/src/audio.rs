//! The attendant's sound devices as the console models them: which microphone, headset and ring
//! device are in use ([`AudioStatus`]), switching them mid-call, a device that disappears, and
//! the ring alert that sounds while an inbound call waits.
//!
//! The devices themselves belong to the runtime (`audio-io` over cpal). Listing and switching
//! need the device thread, so the runtime answers [`crate::Command::ListAudioDevices`] and
//! [`crate::Command::SetAudioDevice`] itself and reports the outcome here as a
//! [`MediaEvent::AudioDevices`](crate::MediaEvent::AudioDevices); the console keeps the status,
//! serves [`crate::Command::GetAudio`] and emits `audio.devices` / `audio.device_lost`.

use crate::console::Console;
use crate::event::EventBody;
use crate::media::MediaCommand;
use crate::model::{CallState, Direction};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use ts_rs::TS;

/// The part a sound device plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum AudioRole {
    /// The microphone.
    Input,
    /// The headset or speaker that plays calls.
    Output,
    /// A separate device that plays the ring alert (else it is mixed into the output).
    Ring,
}

impl AudioRole {
    /// `input`, `output` or `ring`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
            Self::Ring => "ring",
        }
    }
}

impl std::str::FromStr for AudioRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "input" => Ok(Self::Input),
            "output" => Ok(Self::Output),
            "ring" => Ok(Self::Ring),
            other => Err(format!(
                "unknown audio role {other:?} (input, output or ring)"
            )),
        }
    }
}

/// The attendant's headset as it is now (`GET /audio`, the `audio.*` events).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AudioStatus {
    /// False with `--audio none`: calls never touch a sound device.
    pub enabled: bool,
    /// No device could be opened (no sound card or server): calls run on their own clock.
    pub headless: bool,
    /// The microphone's id (`host:device`), or `null` when none is open.
    pub input: Option<String>,
    /// The headset's id, or `null`.
    pub output: Option<String>,
    /// The separate ring device's id; `null` mixes the ring alert into the headset.
    pub ring: Option<String>,
    /// The ring alert is sounding: an inbound call waits to be answered.
    pub alerting: bool,
}

/// One sound device, for a device picker (`GET /audio/devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AudioDevice {
    /// Stable id, `host:device` (e.g. `pulseaudio:nullsink`): what to switch to.
    pub id: String,
    /// The name people read ("Monitor of Null Output").
    pub name: String,
    /// It can record (a microphone).
    pub is_input: bool,
    /// It can play (a headset, speaker or ring device).
    pub is_output: bool,
    /// The system's default input.
    pub is_default_input: bool,
    /// The system's default output.
    pub is_default_output: bool,
}

/// A call-progress tone by its API name: `dial`, `ringback`, `busy`, `congestion`,
/// `call_waiting`.
///
/// # Errors
/// Any other name, as a `bad_request`.
pub fn tone_from_name(name: &str) -> Result<media_engine::ToneKind, crate::ConsoleError> {
    use media_engine::ToneKind;
    match name {
        "dial" => Ok(ToneKind::Dial),
        "ringback" => Ok(ToneKind::Ringback),
        "busy" => Ok(ToneKind::Busy),
        "congestion" => Ok(ToneKind::Congestion),
        "call_waiting" => Ok(ToneKind::CallWaiting),
        other => Err(crate::ConsoleError::BadRequest(format!(
            "unknown tone {other:?} (dial, ringback, busy, congestion or call_waiting)"
        ))),
    }
}

impl Console {
    /// The headset's status (`Command::GetAudio`).
    pub fn audio_status(&self) -> AudioStatus {
        self.audio.clone()
    }

    /// Starts or stops a tone in the attendant's headset (`Command::AttendantTone`).
    pub(crate) fn attendant_tone(&mut self, tone: Option<media_engine::ToneKind>) -> AudioStatus {
        self.media_out
            .push_back(MediaCommand::AttendantTone { tone });
        self.audio.clone()
    }

    /// The runtime opened, switched or lost a device: the new status.
    pub(crate) fn audio_changed(&mut self, now: Instant, mut status: AudioStatus) {
        status.alerting = self.audio.alerting;
        if status == self.audio {
            return;
        }
        self.audio = status.clone();
        self.emit(now, None, EventBody::AudioDevices { audio: status });
    }

    /// A device went away; the runtime fell back to `fell_back_to` (or to none).
    pub(crate) fn audio_device_lost(
        &mut self,
        now: Instant,
        role: AudioRole,
        device: String,
        fell_back_to: Option<String>,
    ) {
        match role {
            AudioRole::Input => self.audio.input.clone_from(&fell_back_to),
            AudioRole::Output => self.audio.output.clone_from(&fell_back_to),
            AudioRole::Ring => self.audio.ring.clone_from(&fell_back_to),
        }
        let audio = self.audio.clone();
        self.emit(
            now,
            None,
            EventBody::AudioDeviceLost {
                role,
                device,
                fell_back_to,
                audio,
            },
        );
    }

    /// Starts or stops the ring alert when the set of inbound calls waiting to be answered
    /// becomes non-empty or empty. Runs before the runtime drains media commands, so a call
    /// that is answered automatically within the same input never rings.
    pub(crate) fn update_ring_alert(&mut self) {
        let alerting = self.calls.values().any(|e| {
            e.call.direction == Direction::Inbound
                && e.call.state == CallState::Ringing
                && e.consult_for.is_none()
        });
        if alerting != self.audio.alerting {
            self.audio.alerting = alerting;
            self.media_out
                .push_back(MediaCommand::RingAlert { on: alerting });
        }
    }
}
