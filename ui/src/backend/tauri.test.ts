// The desktop backend against Tauri's IPC mock: command names and arguments, error bodies,
// and `console-event` delivery.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionStatus, ConsoleFrame } from './index';

// The mock talks to `window.__TAURI_INTERNALS__`; the unit tests run in Node.
beforeAll(() => {
  (globalThis as { window?: unknown }).window ??= globalThis;
});

async function setup(handler: (cmd: string, args: unknown) => unknown) {
  const { mockIPC } = await import('@tauri-apps/api/mocks');
  mockIPC(handler, { shouldMockEvents: true });
  const { TauriBackend } = await import('./tauri');
  return new TauriBackend();
}

afterEach(async () => {
  const { clearMocks } = await import('@tauri-apps/api/mocks');
  clearMocks();
});

describe('TauriBackend', () => {
  it('is picked when the shell is present', async () => {
    await setup(() => null);
    const { inTauri } = await import('./index');
    expect(inTauri()).toBe(true);
  });

  it('invokes one snake_case command per method with the documented arguments', async () => {
    const seen: [string, unknown][] = [];
    const b = await setup((cmd, args) => {
      seen.push([cmd, args]);
      return cmd === 'transfer' ? { transfer_id: 't-1' } : [];
    });
    await b.listCalls();
    await b.answer('c-1');
    await b.cancelTransfer('c-1');
    await b.history(10);
    await b.sendDtmf('c-1', '12#');
    const request = {
      transfer_to: '1001',
      mode: 'anchored' as const,
      play_dialtone: true,
      caller_id: null,
      ringing_timeout_s: 20,
      fallback_to_anchored: false,
    };
    expect(await b.transfer('c-1', request)).toEqual({ transfer_id: 't-1' });
    expect(seen).toEqual([
      ['list_calls', {}],
      ['answer', { id: 'c-1' }],
      ['cancel_transfer', { id: 'c-1' }],
      ['history', { limit: 10 }],
      ['send_dtmf', { id: 'c-1', digits: '12#' }],
      ['transfer', { id: 'c-1', request }],
    ]);
  });

  it('reads and switches sound devices with audio, audio_devices and set_audio_device {role, device}', async () => {
    const status = { enabled: true, headless: false, input: null, output: 'alsa:hs', ring: null, alerting: false };
    const seen: [string, unknown][] = [];
    const b = await setup((cmd, args) => {
      seen.push([cmd, args]);
      return cmd === 'audio_devices' ? { devices: [], active: status } : status;
    });
    expect(await b.audio()).toEqual(status);
    expect(await b.audioDevices()).toEqual({ devices: [], active: status });
    expect(await b.setAudioDevice('output', 'alsa:hs')).toEqual(status);
    await b.setAudioDevice('ring', null);
    expect(seen).toEqual([
      ['audio', {}],
      ['audio_devices', {}],
      ['set_audio_device', { role: 'output', device: 'alsa:hs' }],
      ['set_audio_device', { role: 'ring', device: null }],
    ]);
  });

  it('plays and stops the attendant tone with attendant_tone {tone}', async () => {
    const status = { enabled: true, headless: false, input: null, output: null, ring: null, alerting: false };
    const seen: [string, unknown][] = [];
    const b = await setup((cmd, args) => {
      seen.push([cmd, args]);
      return status;
    });
    expect(await b.attendantTone('dial')).toEqual(status);
    await b.attendantTone(null);
    expect(seen).toEqual([
      ['attendant_tone', { tone: 'dial' }],
      ['attendant_tone', { tone: null }],
    ]);
  });

  it('reads the SIP ladder with ladder {id} and the contacts with contacts', async () => {
    const ladder = { call_id: 'c-1', sip_call_id: '1-1@h', messages: [], omitted: 2 };
    const contacts = [{ name: 'Sales', uri: 'sip:sales@pbx.example.com', note: null }];
    const seen: [string, unknown][] = [];
    const b = await setup((cmd, args) => {
      seen.push([cmd, args]);
      return cmd === 'contacts' ? contacts : ladder;
    });
    expect(await b.ladder('c-1')).toEqual(ladder);
    expect(await b.contacts()).toEqual(contacts);
    expect(seen).toEqual([
      ['ladder', { id: 'c-1' }],
      ['contacts', {}],
    ]);
  });

  it('turns a ladder the console no longer holds into a BackendError with the code', async () => {
    const b = await setup(() => {
      throw { code: 'call_not_found', message: 'no call with id c-9' };
    });
    await expect(b.ladder('c-9')).rejects.toMatchObject({ name: 'BackendError', code: 'call_not_found', status: null });
  });

  it('turns a refused device switch into a BackendError with the code', async () => {
    const b = await setup(() => {
      throw { code: 'device_not_found', message: 'no input device named "usb"' };
    });
    await expect(b.setAudioDevice('input', 'usb')).rejects.toMatchObject({
      name: 'BackendError',
      code: 'device_not_found',
      status: null,
    });
  });

  it('turns a rejected command into a BackendError with the code', async () => {
    const b = await setup(() => {
      throw { code: 'wrong_state', message: 'the call is not ringing' };
    });
    await expect(b.answer('c-1')).rejects.toMatchObject({
      name: 'BackendError',
      code: 'wrong_state',
      message: 'the call is not ringing',
    });
  });

  it('delivers console-event payloads and reports the stream open', async () => {
    const b = await setup(() => null);
    const frames: ConsoleFrame[] = [];
    const statuses: ConnectionStatus['state'][] = [];
    let resyncs = 0;
    const stop = b.subscribe({
      onEvent: (f) => frames.push(f),
      onStatus: (s) => statuses.push(s.state),
      onResync: () => (resyncs += 1),
    });
    const { emit } = await import('@tauri-apps/api/event');
    await expect.poll(() => statuses.at(-1)).toBe('open');
    expect(resyncs).toBe(1);
    await emit('console-event', { type: 'events.lagged', skipped: 2 });
    await expect.poll(() => frames.length).toBe(1);
    expect(frames[0]).toEqual({ type: 'events.lagged', skipped: 2 });
    expect(resyncs).toBe(2);
    stop();
    expect(statuses.at(-1)).toBe('closed');
  });
});
