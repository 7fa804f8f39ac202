// The browser backend: `fetch` for commands, a reconnecting WebSocket for events.

import type {
  AccountStatus,
  AudioRole,
  AudioStatus,
  Call,
  CallId,
  Contact,
  SipLadder,
} from '../bindings/console';
import {
  type AttendantTone,
  type AudioDevices,
  type Backend,
  BackendError,
  CAPABILITIES,
  type ConsoleFrame,
  type Health,
  type StreamHandlers,
  type TransferAccepted,
  type TransferRequest,
  isErrorBody,
} from './index';

/** Options for [`HttpBackend`]. */
export interface HttpBackendOptions {
  /** The server's origin, e.g. `http://127.0.0.1:7070` (the page's own origin in production). */
  baseUrl: string;
  token: string;
  /** Injected in tests. */
  fetch?: typeof fetch;
  /** Injected in tests. */
  WebSocket?: WebSocketFactory;
}

/** The part of the `WebSocket` constructor the backend uses. */
export type WebSocketFactory = new (url: string) => WebSocket;

/** Reconnection delays: 0.5 s doubling to 10 s, with ±20 % jitter so clients do not stampede. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(10_000, 500 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

const API = '/api/v1';

export class HttpBackend implements Backend {
  readonly kind = 'http' as const;
  readonly capabilities = CAPABILITIES;
  private readonly base: string;
  private readonly token: string;
  private readonly fetchImpl: typeof fetch;
  private readonly WebSocketImpl: WebSocketFactory;

  constructor(options: HttpBackendOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
  }

  health(): Promise<Health> {
    return this.request<Health>('GET', '/health');
  }
  listCalls(): Promise<Call[]> {
    return this.request<Call[]>('GET', '/calls');
  }
  getCall(id: CallId): Promise<Call> {
    return this.request<Call>('GET', `/calls/${encodeURIComponent(id)}`);
  }
  dial(to: string): Promise<Call> {
    return this.request<Call>('POST', '/calls', { to });
  }
  answer(id: CallId): Promise<Call> {
    return this.callAction(id, 'answer');
  }
  reject(id: CallId): Promise<Call> {
    return this.callAction(id, 'reject');
  }
  hangup(id: CallId): Promise<Call> {
    return this.callAction(id, 'hangup');
  }
  hold(id: CallId): Promise<Call> {
    return this.callAction(id, 'hold');
  }
  resume(id: CallId): Promise<Call> {
    return this.callAction(id, 'resume');
  }
  mute(id: CallId): Promise<Call> {
    return this.callAction(id, 'mute');
  }
  unmute(id: CallId): Promise<Call> {
    return this.callAction(id, 'unmute');
  }

  listen(id: CallId): Promise<Call> {
    return this.callAction(id, 'listen');
  }

  unlisten(id: CallId): Promise<Call> {
    return this.callAction(id, 'unlisten');
  }
  sendDtmf(id: CallId, digits: string): Promise<Call> {
    return this.request<Call>('POST', `/calls/${encodeURIComponent(id)}/dtmf`, { digits });
  }
  transfer(id: CallId, request: TransferRequest): Promise<TransferAccepted> {
    return this.request<TransferAccepted>(
      'POST',
      `/calls/${encodeURIComponent(id)}/transfer`,
      request,
    );
  }
  cancelTransfer(id: CallId): Promise<Call> {
    return this.callAction(id, 'transfer/cancel');
  }
  consult(id: CallId, to: string): Promise<Call> {
    return this.request<Call>('POST', `/calls/${encodeURIComponent(id)}/consult`, { to });
  }
  completeTransfer(id: CallId): Promise<Call> {
    return this.callAction(id, 'transfer/complete');
  }
  history(limit = 200): Promise<Call[]> {
    return this.request<Call[]>('GET', `/history?limit=${limit}`);
  }
  accounts(): Promise<AccountStatus[]> {
    return this.request<AccountStatus[]>('GET', '/accounts');
  }
  ladder(id: CallId): Promise<SipLadder> {
    return this.request<SipLadder>('GET', `/calls/${encodeURIComponent(id)}/ladder`);
  }
  contacts(): Promise<Contact[]> {
    return this.request<Contact[]>('GET', '/contacts');
  }
  audio(): Promise<AudioStatus> {
    return this.request<AudioStatus>('GET', '/audio');
  }
  audioDevices(): Promise<AudioDevices> {
    return this.request<AudioDevices>('GET', '/audio/devices');
  }
  setAudioDevice(role: AudioRole, device: string | null): Promise<AudioStatus> {
    return this.request<AudioStatus>('PUT', `/audio/devices/${encodeURIComponent(role)}`, { device });
  }

  attendantTone(tone: AttendantTone | null): Promise<AudioStatus> {
    return this.request<AudioStatus>('PUT', '/audio/tone', { tone });
  }

  subscribe(handlers: StreamHandlers): () => void {
    const stream = new EventStream(this, handlers);
    stream.open();
    return () => stream.stop();
  }

  /** The WebSocket URL, with the token in the query (browsers cannot set headers on it). */
  eventsUrl(): string {
    const url = new URL(`${this.base}${API}/events`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', this.token);
    return url.toString();
  }

  /** @internal for [`EventStream`] */
  createSocket(): WebSocket {
    return new this.WebSocketImpl(this.eventsUrl());
  }

  private callAction(id: CallId, action: string): Promise<Call> {
    return this.request<Call>('POST', `/calls/${encodeURIComponent(id)}/${action}`);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.base}${API}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch (e) {
      throw new BackendError({
        code: 'unreachable',
        message: `cannot reach the console: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!response.ok) {
      if (isErrorBody(parsed)) throw new BackendError(parsed, response.status);
      throw new BackendError(
        { code: `http_${response.status}`, message: text || response.statusText },
        response.status,
      );
    }
    return parsed as T;
  }
}

/** One subscription: a WebSocket that reopens with backoff until stopped. */
class EventStream {
  private socket: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private stopped = false;

  constructor(
    private readonly backend: HttpBackend,
    private readonly handlers: StreamHandlers,
  ) {}

  open(): void {
    if (this.stopped) return;
    this.handlers.onStatus(
      this.attempt === 0
        ? { state: 'connecting' }
        : { state: 'reconnecting', attempt: this.attempt, retryInMs: 0, reason: 'reconnecting' },
    );
    let socket: WebSocket;
    try {
      socket = this.backend.createSocket();
    } catch (e) {
      this.retry(e instanceof Error ? e.message : String(e));
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.handlers.onStatus({ state: 'open' });
      // Events between the last read and this subscription are lost: re-read the state.
      this.handlers.onResync();
    };
    socket.onmessage = (message: MessageEvent) => {
      if (typeof message.data !== 'string') return;
      let frame: ConsoleFrame;
      try {
        frame = JSON.parse(message.data) as ConsoleFrame;
      } catch {
        return;
      }
      if (frame.type === 'events.lagged') this.handlers.onResync();
      this.handlers.onEvent(frame);
    };
    socket.onclose = (close: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      const reason = close.reason || (close.code === 1006 ? 'connection lost' : `closed (${close.code})`);
      void this.afterClose(reason);
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, 'bye');
    this.handlers.onStatus({ state: 'closed' });
  }

  /** A closed socket does not say why the upgrade failed: ask the API whether the token is bad. */
  private async afterClose(reason: string): Promise<void> {
    if (this.stopped) return;
    try {
      await this.backend.health();
    } catch (e) {
      if (e instanceof BackendError && e.status === 401) {
        this.handlers.onStatus({ state: 'unauthorized' });
        return;
      }
    }
    this.retry(reason);
  }

  private retry(reason: string): void {
    if (this.stopped) return;
    this.attempt += 1;
    const delay = backoffMs(this.attempt);
    this.handlers.onStatus({ state: 'reconnecting', attempt: this.attempt, retryInMs: delay, reason });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, delay);
  }
}
