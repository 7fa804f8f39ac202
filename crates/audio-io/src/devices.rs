//! Device enumeration, lookup by name, and the choice of a stream configuration.

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{BufferSize, SampleFormat, StreamConfig, SupportedBufferSize, SupportedStreamConfig};

use crate::{AudioError, DeviceRole, ENGINE_RATE};

/// One sound device as the console shows it in its device picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable identifier, `host:device` (e.g. `pulseaudio:nullsink.monitor`, `alsa:default`).
    pub id: String,
    /// Human-readable name (e.g. "Monitor of Null Output").
    pub name: String,
    /// The device can record (its input configuration could be read).
    pub is_input: bool,
    /// The device can play (its output configuration could be read).
    pub is_output: bool,
    /// This is the system's default input device.
    pub is_default_input: bool,
    /// This is the system's default output device.
    pub is_default_output: bool,
    /// Common sample rates (8 kHz … 96 kHz) the device accepts, ascending.
    pub sample_rates: Vec<u32>,
    /// The device's own input configuration, when it records.
    pub default_input: Option<DeviceConfig>,
    /// The device's own output configuration, when it plays.
    pub default_output: Option<DeviceConfig>,
}

impl DeviceInfo {
    /// Default for input or for output.
    pub fn is_default(&self) -> bool {
        self.is_default_input || self.is_default_output
    }
}

/// A device's native stream format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Sample format as cpal names it (`i16`, `f32`, …).
    pub sample_format: String,
}

/// Lists the devices of the default audio host (PulseAudio when a server answers, else ALSA).
///
/// Devices whose configuration cannot be read in either direction are left out: on a machine
/// without a sound card ALSA still offers a "default" device whose config query fails, and that
/// is no device at all. An empty list is not an error.
pub fn list_devices() -> Result<Vec<DeviceInfo>, AudioError> {
    let host = cpal::default_host();
    let default_in = host.default_input_device();
    let default_out = host.default_output_device();
    let devices = host
        .devices()
        .map_err(|e| AudioError::Backend(format!("listing devices: {e}")))?;
    let mut out = Vec::new();
    for device in devices {
        let default_input = device.default_input_config().ok().map(describe);
        let default_output = device.default_output_config().ok().map(describe);
        if default_input.is_none() && default_output.is_none() {
            continue;
        }
        let (id, name) = names(&device);
        let mut sample_rates: Vec<u32> = COMMON_RATES
            .iter()
            .copied()
            .filter(|&rate| {
                let ins = device.supported_input_configs().into_iter().flatten();
                let outs = device.supported_output_configs().into_iter().flatten();
                ins.chain(outs).any(|r| r.contains_rate(rate))
            })
            .collect();
        sample_rates.dedup();
        out.push(DeviceInfo {
            is_input: default_input.is_some(),
            is_output: default_output.is_some(),
            is_default_input: default_input.is_some() && default_in.as_ref() == Some(&device),
            is_default_output: default_output.is_some() && default_out.as_ref() == Some(&device),
            id,
            name,
            sample_rates,
            default_input,
            default_output,
        });
    }
    Ok(out)
}

const COMMON_RATES: [u32; 8] = [
    8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000,
];

/// `(id, human name)` of a device; falls back to each other when the backend cannot say.
pub(crate) fn names(device: &cpal::Device) -> (String, String) {
    let id = device.id().map(|id| id.to_string()).ok();
    let name = device.description().map(|d| d.name().to_owned()).ok();
    match (id, name) {
        (Some(id), Some(name)) => (id, name),
        (Some(id), None) => (id.clone(), id),
        (None, Some(name)) => (name.clone(), name),
        (None, None) => (String::from("unknown"), String::from("unknown")),
    }
}

/// Whether a device can serve `role` (its configuration for that direction is readable).
pub(crate) fn serves(device: &cpal::Device, role: DeviceRole) -> bool {
    match role {
        DeviceRole::Input => device.default_input_config().is_ok(),
        DeviceRole::Output | DeviceRole::Ring => device.default_output_config().is_ok(),
    }
}

/// The system default device for `role`, if it is usable.
pub(crate) fn default_device(host: &cpal::Host, role: DeviceRole) -> Option<cpal::Device> {
    let device = match role {
        DeviceRole::Input => host.default_input_device(),
        DeviceRole::Output | DeviceRole::Ring => host.default_output_device(),
    }?;
    serves(&device, role).then_some(device)
}

/// Finds a device for `role` by exact id (`pulseaudio:nullsink`), by the id without its host
/// prefix (`nullsink`), or by its human name, in that order.
pub(crate) fn find_device(
    host: &cpal::Host,
    role: DeviceRole,
    wanted: &str,
) -> Result<cpal::Device, AudioError> {
    let devices: Vec<cpal::Device> = host
        .devices()
        .map_err(|e| AudioError::Backend(format!("listing devices: {e}")))?
        .filter(|d| serves(d, role))
        .collect();
    let named: Vec<(String, String)> = devices.iter().map(names).collect();
    let by_id = named.iter().position(|(id, _)| id == wanted);
    let by_short_id = || {
        named
            .iter()
            .position(|(id, _)| id.split_once(':').is_some_and(|(_, short)| short == wanted))
    };
    let by_name = || named.iter().position(|(_, name)| name == wanted);
    by_id
        .or_else(by_short_id)
        .or_else(by_name)
        .and_then(|i| devices.into_iter().nth(i))
        .ok_or_else(|| AudioError::DeviceNotFound {
            role,
            name: wanted.to_owned(),
        })
}

/// Sample formats the callbacks are compiled for, best first.
const FORMATS: [SampleFormat; 9] = [
    SampleFormat::I16,
    SampleFormat::F32,
    SampleFormat::I32,
    SampleFormat::I24,
    SampleFormat::F64,
    SampleFormat::U16,
    SampleFormat::I8,
    SampleFormat::U8,
    SampleFormat::U32,
];

/// Picks the stream configuration for `role`: 48 kHz in the simplest format and fewest channels
/// the device offers, with a chosen callback period when the device lets us choose; otherwise
/// the device's own default (the callbacks then resample).
///
/// The period: 10 ms for playback (half of what the sound server buffers for us, so a late
/// wake-up is covered). For capture, one engine frame (`frame_ms`, 20 ms by default): the
/// engine only ever consumes whole frames, so a shorter capture period lowers no latency, while
/// PulseAudio bounds a record stream's server-side buffer to one period (cpal sets its
/// `maxlength` to it) and drops what a late client has not read. Measured here with the null
/// sink: 10 ms capture periods lost samples (phase jumps in a recorded tone) several times a
/// second; one-frame periods rarely, and then only around stream starts and switches.
pub(crate) fn pick_config(
    device: &cpal::Device,
    role: DeviceRole,
    frame_ms: u32,
) -> Result<(StreamConfig, SampleFormat), String> {
    let ranges: Vec<cpal::SupportedStreamConfigRange> = match role {
        DeviceRole::Input => device
            .supported_input_configs()
            .map_err(|e| e.to_string())?
            .collect(),
        DeviceRole::Output | DeviceRole::Ring => device
            .supported_output_configs()
            .map_err(|e| e.to_string())?
            .collect(),
    };
    let rank = |f: SampleFormat| FORMATS.iter().position(|&g| g == f);
    let best = ranges
        .iter()
        .filter(|r| r.contains_rate(ENGINE_RATE) && r.channels() > 0)
        .filter_map(|r| rank(r.sample_format()).map(|k| (k, r.channels(), r)))
        .min_by_key(|&(k, ch, _)| (ch.min(3), k, ch))
        .and_then(|(_, _, r)| r.try_with_sample_rate(ENGINE_RATE));
    let chosen: SupportedStreamConfig = match best {
        Some(c) => c,
        None => {
            let c = match role {
                DeviceRole::Input => device.default_input_config(),
                DeviceRole::Output | DeviceRole::Ring => device.default_output_config(),
            }
            .map_err(|e| e.to_string())?;
            if rank(c.sample_format()).is_none() {
                return Err(format!(
                    "sample format {} is not supported",
                    c.sample_format()
                ));
            }
            c
        }
    };
    let rate = chosen.sample_rate();
    let period_ms = match role {
        DeviceRole::Input => frame_ms,
        DeviceRole::Output | DeviceRole::Ring => 10,
    };
    let want = (rate * period_ms / 1000).max(1);
    let buffer_size = match chosen.buffer_size() {
        SupportedBufferSize::Range { min, max } if (*min..=*max).contains(&want) => {
            BufferSize::Fixed(want)
        }
        _ => BufferSize::Default,
    };
    let mut config: StreamConfig = chosen.config();
    config.buffer_size = buffer_size;
    Ok((config, chosen.sample_format()))
}

/// The format of a device's default configuration, for [`DeviceInfo`].
fn describe(c: SupportedStreamConfig) -> DeviceConfig {
    DeviceConfig {
        sample_rate: c.sample_rate(),
        channels: c.channels(),
        sample_format: c.sample_format().to_string(),
    }
}
