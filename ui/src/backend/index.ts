// The one interface the UI codes against. Two implementations: `http.ts` (fetch + a
// reconnecting WebSocket, for a browser talking to `switchboard serve`) and `tauri.ts` (IPC
// commands + events, inside the desktop shell). Components never call fetch or invoke directly.

import type {
  AccountStatus,
  AudioDevice,
  AudioRole,
  AudioStatus,
  Call,
  CallId,
  Contact,
  ErrorBody,
  Event,
  SipLadder,
  TransferMode,
} from '../bindings/console';

/** `POST /calls/{id}/transfer` body (see docs/api.md). */
export interface TransferRequest {
  transfer_to: string;
  mode: TransferMode;
  play_dialtone: boolean;
  /** Anchored only: the caller ID of the new leg; `null` lets the console choose. */
  caller_id: string | null;
  ringing_timeout_s: number;
  fallback_to_anchored: boolean;
}

/** The tones `attendantTone` plays. */
export type AttendantTone = 'dial' | 'ringback' | 'busy' | 'congestion' | 'call_waiting';

/** What the server says after accepting a transfer (202). */
export interface TransferAccepted {
  transfer_id: string;
}

/** `GET /audio/devices`: every device the sound server offers, and those in use. */
export interface AudioDevices {
  devices: AudioDevice[];
  active: AudioStatus;
}

/** `GET /health`. */
export interface Health {
  status: string;
  version: string;
}

/** The frame the server sends when this client fell behind: re-read `/calls`. */
export interface LaggedFrame {
  type: 'events.lagged';
  skipped: number;
}

/** Everything the event stream can deliver. */
export type ConsoleFrame = Event | LaggedFrame;

/** The state of the event stream, for the connection badge. */
export type ConnectionStatus =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'reconnecting'; attempt: number; retryInMs: number; reason: string }
  | { state: 'unauthorized' }
  | { state: 'closed' };

/**
 * Which controls the console behind this backend supports. A control whose flag is false is
 * shown disabled with a tooltip saying why; switching a feature off (or on) for a backend is a
 * one-line change here.
 */
export interface Capabilities {
  /** `POST /calls/{id}/hold` and `/resume`. */
  hold: boolean;
  /** `POST /calls/{id}/mute` and `/unmute`. */
  mute: boolean;
  /** Sending DTMF digits in a call (RFC 4733): `POST /calls/{id}/dtmf`. */
  dtmf: boolean;
  /** Consultation (attended) transfers: `POST /calls/{id}/consult` + `/transfer/complete`. */
  consult: boolean;
}

/** What each backend offers today. */
export const CAPABILITIES: Capabilities = {
  hold: true,
  mute: true,
  dtmf: true,
  consult: true,
};

/** Why a disabled control is disabled, for its tooltip (only shown when a flag is off). */
export const UNAVAILABLE_REASON: Record<keyof Capabilities, string> = {
  hold: 'Hold is not available from this console',
  mute: 'Mute is not available from this console',
  dtmf: 'Sending DTMF is not available from this console',
  consult: 'Consultation transfers are not available in this build',
};

/** The console's commands and event stream, whatever carries them. */
export interface Backend {
  /** Which transport this is, for the status bar. */
  readonly kind: 'http' | 'tauri';
  readonly capabilities: Capabilities;

  health(): Promise<Health>;
  listCalls(): Promise<Call[]>;
  getCall(id: CallId): Promise<Call>;
  /** Places an outbound call to a `sip:`/`sips:` URI, `tel:+E164` or digits. */
  dial(to: string): Promise<Call>;
  answer(id: CallId): Promise<Call>;
  reject(id: CallId): Promise<Call>;
  hangup(id: CallId): Promise<Call>;
  hold(id: CallId): Promise<Call>;
  resume(id: CallId): Promise<Call>;
  mute(id: CallId): Promise<Call>;
  unmute(id: CallId): Promise<Call>;
  /** Supervisor listen-in on an anchored bridge (`POST /calls/{id}/listen`, `/unlisten`). */
  listen(id: CallId): Promise<Call>;
  unlisten(id: CallId): Promise<Call>;
  /**
   * Sends DTMF digits (`0-9 * # A-D`, 1 to 64) in an established call as RFC 4733 events.
   * The console refuses others (400) and peers that did not negotiate telephone-event (409).
   */
  sendDtmf(id: CallId, digits: string): Promise<Call>;
  transfer(id: CallId, request: TransferRequest): Promise<TransferAccepted>;
  cancelTransfer(id: CallId): Promise<Call>;
  /** Holds the caller and calls `to` (attended transfer, first step). */
  consult(id: CallId, to: string): Promise<Call>;
  /** Completes an attended transfer once the target answered. */
  completeTransfer(id: CallId): Promise<Call>;
  /** Ended calls, newest first. */
  history(limit?: number): Promise<Call[]>;
  accounts(): Promise<AccountStatus[]>;
  /**
   * Every SIP message of a call's dialog, oldest first (`GET /calls/{id}/ladder`), for calls
   * the console still holds in memory (ended ones too, for a while); 404 `call_not_found`
   * otherwise.
   */
  ladder(id: CallId): Promise<SipLadder>;
  /** The config file's `[[contacts]]`, in file order (`GET /contacts`). */
  contacts(): Promise<Contact[]>;
  /** The attendant's sound devices in use (`GET /audio`). */
  audio(): Promise<AudioStatus>;
  /** The devices there are and those in use (`GET /audio/devices`). */
  audioDevices(): Promise<AudioDevices>;
  /**
   * Switches the microphone (`input`), headset (`output`) or ring device (`ring`), mid-call
   * too (`PUT /audio/devices/{role}`). `null` is the system default; for `ring`, no separate
   * ring device (the ring alert plays in the headset). 404 `device_not_found` when the device
   * is gone, 409 `audio_unavailable` when the console runs without sound devices.
   */
  setAudioDevice(role: AudioRole, device: string | null): Promise<AudioStatus>;
  /**
   * Plays a call-progress tone of the console's region in the attendant's headset (`dial`
   * while the dial pad waits for a number), or stops it (`null`): `PUT /audio/tone`.
   */
  attendantTone(tone: AttendantTone | null): Promise<AudioStatus>;

  /**
   * Streams the console's events to `onEvent` and the stream's state to `onStatus` until the
   * returned function is called. The stream reconnects by itself; after every (re)connection
   * and every `events.lagged` frame, `onResync` runs so the caller can re-read `/calls`.
   */
  subscribe(handlers: StreamHandlers): () => void;
}

/** Callbacks for [`Backend.subscribe`]. */
export interface StreamHandlers {
  onEvent(frame: ConsoleFrame): void;
  onStatus(status: ConnectionStatus): void;
  /** The stream (re)opened or lagged: events may have been missed; re-read the live state. */
  onResync(): void;
}

/** A failed command, as `{code, message}` like the server's error bodies. */
export class BackendError extends Error {
  readonly code: string;
  /** The HTTP status, when the failure came from the HTTP API. */
  readonly status: number | null;

  constructor(body: ErrorBody, status: number | null = null) {
    super(body.message);
    this.name = 'BackendError';
    this.code = body.code;
    this.status = status;
  }

  /** Wraps anything thrown into a `BackendError`. */
  static from(error: unknown): BackendError {
    if (error instanceof BackendError) return error;
    if (isErrorBody(error)) return new BackendError(error);
    const message = error instanceof Error ? error.message : String(error);
    return new BackendError({ code: 'transport', message });
  }
}

/** Whether a value looks like the server's `{code, message}` error body. */
export function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>).code === 'string' &&
    typeof (value as Record<string, unknown>).message === 'string'
  );
}

/** True inside the Tauri shell (it injects `__TAURI_INTERNALS__` before the page runs). */
export function inTauri(scope: object = globalThis): boolean {
  return '__TAURI_INTERNALS__' in scope;
}

/**
 * The backend for this page: Tauri IPC inside the desktop shell, else HTTP + WebSocket to the
 * server that served the page. Lazily imported so the browser build does not load Tauri code.
 */
export async function pickBackend(token: string): Promise<Backend> {
  if (inTauri()) {
    const { TauriBackend } = await import('./tauri');
    return new TauriBackend();
  }
  const { HttpBackend } = await import('./http');
  return new HttpBackend({ baseUrl: window.location.origin, token });
}
