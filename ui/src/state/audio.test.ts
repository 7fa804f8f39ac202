// The sound devices in the store and the actions, against a stand-in backend: resync reads
// them, a lost device becomes a notice naming it (and the list is read again), a switch takes
// the console's reply or says why not; and the page's ring sound defaults per backend.
import { afterEach, describe, expect, it } from 'vitest';
import { type Backend, BackendError, type StreamHandlers } from '../backend';
import type { AudioDevice, AudioRole, AudioStatus } from '../bindings/console';
import { Actions } from './actions';
import { ev, makeAudio, makeDevice } from './fixtures';
import { ConsoleStore } from './store.svelte';
import { UiState, defaultRingSound } from './ui.svelte';

const devices: AudioDevice[] = [
  makeDevice('pulseaudio:mic', 'Desk Mic', 'input', { is_default_input: true }),
  makeDevice('pulseaudio:headset', 'USB Headset', 'output'),
  makeDevice('pulseaudio:speakers', 'Speakers', 'output', { is_default_output: true }),
];

/** A backend with the calls empty and the sound devices as the test sets them. */
function audioBackend(initial: AudioStatus = makeAudio()) {
  const state = { audio: initial, devices: [...devices] };
  const log: string[] = [];
  let handlers: StreamHandlers | null = null;
  let switchError: unknown = null;
  const backend = {
    kind: 'http',
    listCalls: async () => [],
    history: async () => [],
    accounts: async () => [],
    audio: async () => {
      log.push('audio');
      return state.audio;
    },
    audioDevices: async () => {
      log.push('audioDevices');
      return { devices: state.devices, active: state.audio };
    },
    setAudioDevice: async (role: AudioRole, device: string | null) => {
      log.push(`set ${role} ${device}`);
      if (switchError) throw switchError;
      state.audio = { ...state.audio, [role]: device };
      return state.audio;
    },
    subscribe(h: StreamHandlers) {
      handlers = h;
      return () => undefined;
    },
  } as unknown as Backend;
  return {
    backend,
    state,
    log,
    handlers: () => handlers as unknown as StreamHandlers,
    failSwitch: (e: unknown) => (switchError = e),
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function setup(initial?: AudioStatus) {
  const b = audioBackend(initial);
  const store = new ConsoleStore();
  const stop = store.connect(b.backend);
  const actions = new Actions(store, new UiState());
  return { ...b, store, actions, stop };
}

let stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops) s();
  stops = [];
});

describe('sound devices in the store', () => {
  it('resync reads the status, and the list when the console has devices', async () => {
    const t = setup();
    stops.push(t.stop);
    await t.store.resync();
    await flush();
    expect(t.log).toEqual(['audio', 'audioDevices']);
    expect(t.store.state.audio).toEqual(makeAudio());
    expect(t.store.state.audioDevices).toHaveLength(3);
  });

  it('with --audio none, resync reads the status only', async () => {
    const t = setup(makeAudio({ enabled: false, input: null, output: null }));
    stops.push(t.stop);
    await t.store.resync();
    await flush();
    expect(t.log).toEqual(['audio']);
    expect(t.store.state.audio?.enabled).toBe(false);
    expect(t.store.state.audioDevices).toBeNull();
  });

  it('takes audio.devices events', async () => {
    const t = setup();
    stops.push(t.stop);
    t.handlers().onEvent(ev('audio.devices', { audio: makeAudio({ ring: 'pulseaudio:speakers' }) }));
    expect(t.store.state.audio?.ring).toBe('pulseaudio:speakers');
    expect(t.store.notices).toEqual([]);
  });

  it('a lost device becomes a notice naming it and the fallback, and the list is read again', async () => {
    const t = setup();
    stops.push(t.stop);
    await t.store.resync();
    await flush();
    t.log.length = 0;
    t.state.devices = t.state.devices.filter((d) => d.id !== 'pulseaudio:headset');
    t.state.audio = makeAudio({ output: 'pulseaudio:speakers' });
    t.handlers().onEvent(
      ev('audio.device_lost', {
        role: 'output',
        device: 'pulseaudio:headset',
        fell_back_to: 'pulseaudio:speakers',
        audio: t.state.audio,
      }),
    );
    expect(t.store.state.audio?.output).toBe('pulseaudio:speakers');
    expect(t.store.notices.map((n) => [n.tone, n.text])).toEqual([
      ['error', "Headset 'USB Headset' was disconnected — now using 'Speakers'"],
    ]);
    await flush();
    expect(t.log).toEqual(['audioDevices']);
    expect(t.store.state.audioDevices?.map((d) => d.id)).toEqual(['pulseaudio:mic', 'pulseaudio:speakers']);
  });

  it('a lost device with nothing to fall back to says so', () => {
    const t = setup();
    stops.push(t.stop);
    t.handlers().onEvent(
      ev('audio.device_lost', {
        role: 'input',
        device: 'pulseaudio:usb-mic',
        fell_back_to: null,
        audio: makeAudio({ input: null }),
      }),
    );
    expect(t.store.notices[0]?.text).toBe("Microphone 'usb-mic' was disconnected — no microphone available");
  });

  it('a failed listing resolves to why, in words', async () => {
    const t = setup();
    stops.push(t.stop);
    (t.backend as unknown as { audioDevices: () => Promise<never> }).audioDevices = async () => {
      throw new BackendError({ code: 'audio_unavailable', message: 'no sound server' }, 409);
    };
    expect(await t.store.listAudioDevices()).toMatch(/cannot be listed/);
    expect(t.store.state.audioDevices).toBeNull();
  });
});

describe('Actions.setAudioDevice', () => {
  it('switches and takes the reply at once', async () => {
    const t = setup();
    stops.push(t.stop);
    expect(await t.actions.setAudioDevice('ring', 'pulseaudio:speakers')).toBeNull();
    expect(t.log).toContain('set ring pulseaudio:speakers');
    expect(t.store.state.audio?.ring).toBe('pulseaudio:speakers');
    expect(await t.actions.setAudioDevice('ring', null)).toBeNull();
    expect(t.store.state.audio?.ring).toBeNull();
  });

  it('a gone device: says so and reads the list again; no notice (the view shows it)', async () => {
    const t = setup();
    stops.push(t.stop);
    t.failSwitch(new BackendError({ code: 'device_not_found', message: 'no output device named "x"' }, 404));
    const why = await t.actions.setAudioDevice('output', 'x');
    expect(why).toMatch(/^That device is gone/);
    await flush();
    expect(t.log).toEqual(['set output x', 'audioDevices']);
    expect(t.store.notices).toEqual([]);
  });

  it('a console without sound devices: says so', async () => {
    const t = setup(makeAudio({ enabled: false }));
    stops.push(t.stop);
    await t.store.resync();
    t.failSwitch(new BackendError({ code: 'audio_unavailable', message: 'audio is disabled (--audio none)' }, 409));
    expect(await t.actions.setAudioDevice('input', null)).toBe('This console runs without sound devices.');
  });
});

describe("the page's ring sound", () => {
  it('is off by default in the desktop app (the console rings the ring device), on in a browser', () => {
    expect(defaultRingSound('tauri')).toBe(false);
    expect(defaultRingSound('http')).toBe(true);
    expect(new UiState({ ringSound: defaultRingSound('tauri') }).ringSound).toBe(false);
    expect(new UiState().ringSound).toBe(true);
  });

  it('stays a choice', () => {
    const ui = new UiState({ ringSound: false });
    ui.ringSound = true;
    expect(ui.ringSound).toBe(true);
  });
});
