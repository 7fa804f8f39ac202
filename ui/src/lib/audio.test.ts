import { describe, expect, it } from 'vitest';
import { BackendError } from '../backend';
import { makeAudio, makeDevice } from '../state/fixtures';
import {
  type DeviceLost,
  audioUnavailableReason,
  deviceLostText,
  deviceName,
  devicesFor,
  inUse,
  isDefaultFor,
  listErrorText,
  switchErrorText,
} from './audio';

const mic = makeDevice('alsa:mic', 'Desk Mic', 'input', { is_default_input: true });
const headset = makeDevice('alsa:usb', 'USB Headset', 'both');
const speakers = makeDevice('alsa:spk', 'Speakers', 'output', { is_default_output: true });
const devices = [mic, headset, speakers];

function lost(overrides: Partial<DeviceLost>): DeviceLost {
  return {
    type: 'audio.device_lost',
    role: 'output',
    device: 'alsa:usb',
    fell_back_to: 'alsa:spk',
    audio: makeAudio(),
    ...overrides,
  };
}

describe('devices per role', () => {
  it('microphones for input, playing devices for the headset and the ring device', () => {
    expect(devicesFor(devices, 'input').map((d) => d.id)).toEqual(['alsa:mic', 'alsa:usb']);
    expect(devicesFor(devices, 'output').map((d) => d.id)).toEqual(['alsa:usb', 'alsa:spk']);
    expect(devicesFor(devices, 'ring').map((d) => d.id)).toEqual(['alsa:usb', 'alsa:spk']);
  });

  it('the system default per role', () => {
    expect(isDefaultFor(mic, 'input')).toBe(true);
    expect(isDefaultFor(speakers, 'input')).toBe(false);
    expect(isDefaultFor(speakers, 'output')).toBe(true);
    expect(isDefaultFor(speakers, 'ring')).toBe(true);
  });

  it('names a device from the list, else from its id without the host', () => {
    expect(deviceName('alsa:usb', devices)).toBe('USB Headset');
    expect(deviceName('pulseaudio:nullsink', devices)).toBe('nullsink');
    expect(deviceName('pulseaudio:nullsink', null)).toBe('nullsink');
    expect(deviceName('plain', null)).toBe('plain');
    expect(deviceName('odd:', null)).toBe('odd:');
  });

  it('tells devices of the same name apart by their ids', () => {
    const twins = [makeDevice('pulse:nullsink', 'Null Output', 'output'), makeDevice('pulse:bell', 'Null Output', 'output')];
    expect(deviceName('pulse:bell', twins)).toBe('Null Output (bell)');
    expect(deviceName('pulse:nullsink', twins)).toBe('Null Output (nullsink)');
    // A microphone of the same name does not count for the headset.
    const headset = [makeDevice('p:out', 'Jabra', 'output'), makeDevice('p:in', 'Jabra', 'input')];
    expect(inUse(makeAudio({ output: 'p:out' }), 'output', headset)).toBe('Jabra');
    expect(deviceLostText(lost({ role: 'ring', device: 'pulse:bell', fell_back_to: 'pulse:nullsink' }), twins)).toBe(
      "Ring device 'Null Output (bell)' was disconnected — now using 'Null Output (nullsink)'",
    );
  });

  it('says what is in use, the headset ringing when there is no ring device', () => {
    const status = makeAudio({ input: 'alsa:mic', output: null, ring: null });
    expect(inUse(status, 'input', devices)).toBe('Desk Mic');
    expect(inUse(status, 'output', devices)).toBe('none open');
    expect(inUse(status, 'ring', devices)).toMatch(/^the headset/);
  });
});

describe('why the pickers are off', () => {
  it('--audio none, headless, or not at all', () => {
    expect(audioUnavailableReason(null)).toBeNull();
    expect(audioUnavailableReason(makeAudio())).toBeNull();
    expect(audioUnavailableReason(makeAudio({ enabled: false }))).toMatch(
      /^This console runs without sound devices/,
    );
    expect(audioUnavailableReason(makeAudio({ headless: true }))).toMatch(
      /^No sound device could be opened/,
    );
  });
});

describe('failed switches in plain words', () => {
  it('404 device_not_found: the device is gone', () => {
    const e = new BackendError({ code: 'device_not_found', message: 'no output device named "x"' }, 404);
    expect(switchErrorText(e, makeAudio())).toMatch(/^That device is gone/);
    // From the desktop app: no HTTP status, the same code.
    expect(switchErrorText({ code: 'device_not_found', message: 'x' }, makeAudio())).toMatch(/^That device is gone/);
  });

  it('409 audio_unavailable: no sound devices, or this one would not open', () => {
    const e = new BackendError({ code: 'audio_unavailable', message: 'audio is disabled (--audio none)' }, 409);
    expect(switchErrorText(e, makeAudio({ enabled: false }))).toBe('This console runs without sound devices.');
    expect(switchErrorText(e, makeAudio({ headless: true }))).toBe('This console runs without sound devices.');
    expect(switchErrorText(e, null)).toBe('This console runs without sound devices.');
    const busy = new BackendError({ code: 'audio_unavailable', message: 'device busy' }, 409);
    expect(switchErrorText(busy, makeAudio())).toBe('That device could not be opened: device busy.');
  });

  it('anything else: unreachable, an old console, the server message', () => {
    expect(switchErrorText(new BackendError({ code: 'unreachable', message: 'x' }), null)).toMatch(/cannot be reached/);
    expect(switchErrorText(new BackendError({ code: 'not_found', message: 'no such resource' }, 404), null)).toMatch(/too old/);
    expect(switchErrorText(new BackendError({ code: 'bad_request', message: 'bad request: role' }, 400), null)).toBe('bad request: role');
    expect(listErrorText(new BackendError({ code: 'audio_unavailable', message: 'x' }, 409))).toMatch(/cannot be listed/);
    expect(listErrorText(new Error('boom'))).toBe('boom');
  });
});

describe('a lost device', () => {
  it('names the device and the fallback', () => {
    expect(deviceLostText(lost({}), devices)).toBe("Headset 'USB Headset' was disconnected — now using 'Speakers'");
    expect(deviceLostText(lost({ role: 'input', device: 'alsa:usb', fell_back_to: 'alsa:mic' }), devices)).toBe(
      "Microphone 'USB Headset' was disconnected — now using 'Desk Mic'",
    );
  });

  it('says when nothing is left, and that the headset rings when the ring device went', () => {
    expect(deviceLostText(lost({ fell_back_to: null }), devices)).toBe(
      "Headset 'USB Headset' was disconnected — no headset available",
    );
    expect(deviceLostText(lost({ role: 'input', fell_back_to: null }), devices)).toBe(
      "Microphone 'USB Headset' was disconnected — no microphone available",
    );
    expect(deviceLostText(lost({ role: 'ring', device: 'alsa:bell', fell_back_to: null }), null)).toBe(
      "Ring device 'bell' was disconnected — the ring alert plays in the headset",
    );
  });
});
