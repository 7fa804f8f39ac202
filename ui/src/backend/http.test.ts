import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConnectionStatus, ConsoleFrame } from './index';
import { BackendError } from './index';
import { HttpBackend, backoffMs } from './http';

/** A stand-in for the browser's WebSocket that the test drives by hand. */
class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: unknown }) => void) | null = null;
  onclose: ((c: { code: number; reason: string }) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close() {
    this.closed = true;
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('HttpBackend commands', () => {
  it('sends the bearer token and JSON, and returns the parsed reply', async () => {
    const fetch = vi.fn(async () => json(202, { transfer_id: 't-1' }));
    const b = new HttpBackend({ baseUrl: 'http://127.0.0.1:7070/', token: 'tok', fetch });
    const reply = await b.transfer('c-1', {
      transfer_to: 'tel:+15105550100',
      mode: 'cold',
      play_dialtone: false,
      caller_id: null,
      ringing_timeout_s: 30,
      fallback_to_anchored: false,
    });
    expect(reply).toEqual({ transfer_id: 't-1' });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('http://127.0.0.1:7070/api/v1/calls/c-1/transfer');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok');
    expect(JSON.parse(String(init.body))).toMatchObject({ transfer_to: 'tel:+15105550100', mode: 'cold' });
  });

  it('turns {code, message} error bodies into BackendError with the status', async () => {
    const fetch = vi.fn(async () => json(409, { code: 'wrong_state', message: 'not established' }));
    const b = new HttpBackend({ baseUrl: 'http://h', token: 't', fetch });
    const err = await b.answer('c-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ code: 'wrong_state', status: 409, message: 'not established' });
  });

  it('sends DTMF digits to /calls/{id}/dtmf and returns the call', async () => {
    const fetch = vi.fn(async () => json(200, { id: 'c/1', state: 'active' }));
    const b = new HttpBackend({ baseUrl: 'http://h', token: 't', fetch });
    expect(await b.sendDtmf('c/1', '12#')).toEqual({ id: 'c/1', state: 'active' });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('http://h/api/v1/calls/c%2F1/dtmf');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(init.body))).toEqual({ digits: '12#' });
  });

  it('listens in and stops through /listen and /unlisten', async () => {
    const fetch = vi.fn(async () => json(200, { id: 'c-1', listening: true }));
    const b = new HttpBackend({ baseUrl: 'http://h', token: 't', fetch });
    expect(await b.listen('c-1')).toEqual({ id: 'c-1', listening: true });
    await b.unlisten('c-1');
    const urls = fetch.mock.calls.map((c) => (c as unknown as [string, RequestInit])[0]);
    expect(urls).toEqual(['http://h/api/v1/calls/c-1/listen', 'http://h/api/v1/calls/c-1/unlisten']);
  });

  it('reads a call\'s SIP ladder from GET /calls/{id}/ladder and the contacts from GET /contacts', async () => {
    const ladder = { call_id: 'c/1', sip_call_id: '1-1@h', messages: [], omitted: 0 };
    const contacts = [{ name: 'Sales', uri: 'sip:sales@pbx.example.com', note: '2nd floor' }];
    const fetch = vi.fn(async (url: string) => json(200, url.endsWith('/contacts') ? contacts : ladder));
    const b = new HttpBackend({ baseUrl: 'http://h', token: 't', fetch: fetch as unknown as typeof globalThis.fetch });
    expect(await b.ladder('c/1')).toEqual(ladder);
    expect(await b.contacts()).toEqual(contacts);
    const calls = fetch.mock.calls as unknown as [string, RequestInit][];
    expect(calls.map(([url, init]) => `${init.method} ${url}`)).toEqual([
      'GET http://h/api/v1/calls/c%2F1/ladder',
      'GET http://h/api/v1/contacts',
    ]);
    expect(calls.every(([, init]) => (init.headers as Record<string, string>).Authorization === 'Bearer t')).toBe(true);
  });

  it('passes a ladder the console no longer holds (404 call_not_found) on as BackendError', async () => {
    const gone = vi.fn(async () => json(404, { code: 'call_not_found', message: 'no call with id c-9' }));
    await expect(new HttpBackend({ baseUrl: 'http://h', token: 't', fetch: gone }).ladder('c-9')).rejects.toMatchObject({
      name: 'BackendError',
      code: 'call_not_found',
      status: 404,
    });
  });

  it('passes the console refusing DTMF on as BackendError', async () => {
    const bad = vi.fn(async () =>
      json(400, { code: 'bad_request', message: 'bad request: digits must be 1 to 64 of 0-9 * # A-D' }),
    );
    await expect(new HttpBackend({ baseUrl: 'http://h', token: 't', fetch: bad }).sendDtmf('c-1', 'x')).rejects.toMatchObject({
      name: 'BackendError',
      code: 'bad_request',
      status: 400,
    });
    const noEvents = vi.fn(async () =>
      json(409, { code: 'wrong_state', message: 'the peer did not negotiate telephone-event' }),
    );
    await expect(new HttpBackend({ baseUrl: 'http://h', token: 't', fetch: noEvents }).sendDtmf('c-1', '5')).rejects.toMatchObject({
      code: 'wrong_state',
      status: 409,
    });
  });

  it('reads the sound devices through GET /audio and /audio/devices', async () => {
    const status = { enabled: true, headless: false, input: 'alsa:mic', output: 'alsa:hs', ring: null, alerting: false };
    const listing = {
      devices: [
        { id: 'alsa:mic', name: 'Mic', is_input: true, is_output: false, is_default_input: true, is_default_output: false },
      ],
      active: status,
    };
    const fetch = vi.fn(async (url: string) => json(200, url.endsWith('/devices') ? listing : status));
    const b = new HttpBackend({ baseUrl: 'http://h', token: 't', fetch: fetch as unknown as typeof globalThis.fetch });
    expect(await b.audio()).toEqual(status);
    expect(await b.audioDevices()).toEqual(listing);
    const calls = fetch.mock.calls as unknown as [string, RequestInit][];
    expect(calls.map(([url, init]) => `${init.method} ${url}`)).toEqual([
      'GET http://h/api/v1/audio',
      'GET http://h/api/v1/audio/devices',
    ]);
    expect(calls.every(([, init]) => init.body === null)).toBe(true);
  });

  it('switches a device with PUT /audio/devices/{role} and {device}, null for the default', async () => {
    const status = { enabled: true, headless: false, input: null, output: 'alsa:hs', ring: null, alerting: false };
    const fetch = vi.fn(async () => json(200, status));
    const b = new HttpBackend({ baseUrl: 'http://h', token: 't', fetch });
    expect(await b.setAudioDevice('output', 'alsa:hs')).toEqual(status);
    await b.setAudioDevice('ring', null);
    const calls = fetch.mock.calls as unknown as [string, RequestInit][];
    expect(calls.map(([url, init]) => `${init.method} ${url}`)).toEqual([
      'PUT http://h/api/v1/audio/devices/output',
      'PUT http://h/api/v1/audio/devices/ring',
    ]);
    expect(calls.map(([, init]) => JSON.parse(String(init.body)))).toEqual([{ device: 'alsa:hs' }, { device: null }]);
    expect((calls[0]?.[1].headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('plays and stops the attendant tone with PUT /audio/tone {tone}', async () => {
    const status = { enabled: true, headless: false, input: null, output: 'alsa:hs', ring: null, alerting: false };
    const fetch = vi.fn(async () => json(200, status));
    const b = new HttpBackend({ baseUrl: 'http://h', token: 't', fetch });
    expect(await b.attendantTone('dial')).toEqual(status);
    await b.attendantTone(null);
    const calls = fetch.mock.calls as unknown as [string, RequestInit][];
    expect(calls.map(([url, init]) => `${init.method} ${url}`)).toEqual([
      'PUT http://h/api/v1/audio/tone',
      'PUT http://h/api/v1/audio/tone',
    ]);
    expect(calls.map(([, init]) => JSON.parse(String(init.body)))).toEqual([{ tone: 'dial' }, { tone: null }]);
  });

  it('passes a gone device (404) and a console without sound (409) on as BackendError', async () => {
    const gone = vi.fn(async () => json(404, { code: 'device_not_found', message: 'no output device named "x"' }));
    await expect(
      new HttpBackend({ baseUrl: 'http://h', token: 't', fetch: gone }).setAudioDevice('output', 'x'),
    ).rejects.toMatchObject({ name: 'BackendError', code: 'device_not_found', status: 404 });
    const none = vi.fn(async () => json(409, { code: 'audio_unavailable', message: 'audio is off (--audio none)' }));
    await expect(
      new HttpBackend({ baseUrl: 'http://h', token: 't', fetch: none }).setAudioDevice('input', null),
    ).rejects.toMatchObject({ code: 'audio_unavailable', status: 409 });
  });

  it('reports an unreachable server as such', async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    });
    const b = new HttpBackend({ baseUrl: 'http://h', token: 't', fetch });
    await expect(b.listCalls()).rejects.toMatchObject({ code: 'unreachable' });
  });

  it('escapes call ids in paths and puts the token in the WebSocket URL', () => {
    const b = new HttpBackend({ baseUrl: 'https://console.example:8443', token: 'a b', fetch: vi.fn() });
    expect(b.eventsUrl()).toBe('wss://console.example:8443/api/v1/events?token=a+b');
  });
});

describe('HttpBackend event stream', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => vi.useRealTimers());

  function subscribe(fetch = vi.fn(async () => json(200, { status: 'ok', version: '0' }))) {
    const b = new HttpBackend({
      baseUrl: 'http://h',
      token: 't',
      fetch,
      WebSocket: FakeSocket as unknown as new (url: string) => WebSocket,
    });
    const frames: ConsoleFrame[] = [];
    const statuses: ConnectionStatus['state'][] = [];
    let resyncs = 0;
    const stop = b.subscribe({
      onEvent: (f) => frames.push(f),
      onStatus: (s) => statuses.push(s.state),
      onResync: () => (resyncs += 1),
    });
    return { frames, statuses, resyncs: () => resyncs, stop };
  }

  it('delivers frames, resyncs on open and on lag', () => {
    const s = subscribe();
    const socket = FakeSocket.all[0];
    socket?.onopen?.();
    expect(s.statuses).toEqual(['connecting', 'open']);
    expect(s.resyncs()).toBe(1);
    socket?.onmessage?.({ data: JSON.stringify({ type: 'events.lagged', skipped: 3 }) });
    socket?.onmessage?.({ data: 'not json' });
    expect(s.frames).toEqual([{ type: 'events.lagged', skipped: 3 }]);
    expect(s.resyncs()).toBe(2);
  });

  it('reconnects with backoff after a drop, and resyncs again', async () => {
    const s = subscribe();
    FakeSocket.all[0]?.onopen?.();
    FakeSocket.all[0]?.onclose?.({ code: 1006, reason: '' });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.statuses.at(-1)).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1]?.onopen?.();
    expect(s.statuses.at(-1)).toBe('open');
    expect(s.resyncs()).toBe(2);
  });

  it('stops retrying when the token is refused', async () => {
    const fetch = vi.fn(async () => json(401, { code: 'unauthorized', message: 'no' }));
    const s = subscribe(fetch);
    FakeSocket.all[0]?.onclose?.({ code: 1006, reason: '' });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(s.statuses.at(-1)).toBe('unauthorized');
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('stop() closes the socket and cancels a pending retry', async () => {
    const s = subscribe();
    FakeSocket.all[0]?.onclose?.({ code: 1006, reason: '' });
    await vi.advanceTimersByTimeAsync(0);
    s.stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(s.statuses.at(-1)).toBe('closed');
  });

  it('backoff doubles from 0.5 s to a 10 s cap, with jitter', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 10].map((a) => backoffMs(a, mid))).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
    expect(backoffMs(1, () => 0)).toBe(400);
    expect(backoffMs(1, () => 1)).toBe(600);
  });
});
