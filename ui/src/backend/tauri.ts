// The desktop backend: Tauri IPC. The shell (`src-tauri/`) exposes one command per method,
// named in snake_case (`list_calls`, `cancel_transfer`, `ladder`, `contacts`, ...), with the same arguments and
// replies as the HTTP routes, and emits every console event as the Tauri event `console-event`.
// Command errors arrive as `{code, message}` like the HTTP API's error bodies.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
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
} from './index';

/** The Tauri event that carries each console event. */
export const CONSOLE_EVENT = 'console-event';

/** Command names, one per backend method. */
export const COMMANDS = {
  health: 'health',
  listCalls: 'list_calls',
  getCall: 'get_call',
  dial: 'dial',
  answer: 'answer',
  reject: 'reject',
  hangup: 'hangup',
  hold: 'hold',
  resume: 'resume',
  mute: 'mute',
  unmute: 'unmute',
  listen: 'listen',
  unlisten: 'unlisten',
  sendDtmf: 'send_dtmf',
  transfer: 'transfer',
  cancelTransfer: 'cancel_transfer',
  consult: 'consult',
  completeTransfer: 'complete_transfer',
  history: 'history',
  accounts: 'accounts',
  ladder: 'ladder',
  contacts: 'contacts',
  audio: 'audio',
  audioDevices: 'audio_devices',
  setAudioDevice: 'set_audio_device',
  attendantTone: 'attendant_tone',
} as const satisfies Partial<Record<keyof Backend, string>>;

export class TauriBackend implements Backend {
  readonly kind = 'tauri' as const;
  readonly capabilities = CAPABILITIES;

  health(): Promise<Health> {
    return call<Health>(COMMANDS.health);
  }
  listCalls(): Promise<Call[]> {
    return call<Call[]>(COMMANDS.listCalls);
  }
  getCall(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.getCall, { id });
  }
  dial(to: string): Promise<Call> {
    return call<Call>(COMMANDS.dial, { to });
  }
  answer(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.answer, { id });
  }
  reject(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.reject, { id });
  }
  hangup(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.hangup, { id });
  }
  hold(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.hold, { id });
  }
  resume(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.resume, { id });
  }
  mute(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.mute, { id });
  }
  unmute(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.unmute, { id });
  }

  listen(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.listen, { id });
  }

  unlisten(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.unlisten, { id });
  }
  sendDtmf(id: CallId, digits: string): Promise<Call> {
    return call<Call>(COMMANDS.sendDtmf, { id, digits });
  }
  transfer(id: CallId, request: TransferRequest): Promise<TransferAccepted> {
    return call<TransferAccepted>(COMMANDS.transfer, { id, request });
  }
  cancelTransfer(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.cancelTransfer, { id });
  }
  consult(id: CallId, to: string): Promise<Call> {
    return call<Call>(COMMANDS.consult, { id, to });
  }
  completeTransfer(id: CallId): Promise<Call> {
    return call<Call>(COMMANDS.completeTransfer, { id });
  }
  history(limit = 200): Promise<Call[]> {
    return call<Call[]>(COMMANDS.history, { limit });
  }
  accounts(): Promise<AccountStatus[]> {
    return call<AccountStatus[]>(COMMANDS.accounts);
  }
  ladder(id: CallId): Promise<SipLadder> {
    return call<SipLadder>(COMMANDS.ladder, { id });
  }
  contacts(): Promise<Contact[]> {
    return call<Contact[]>(COMMANDS.contacts);
  }
  audio(): Promise<AudioStatus> {
    return call<AudioStatus>(COMMANDS.audio);
  }
  audioDevices(): Promise<AudioDevices> {
    return call<AudioDevices>(COMMANDS.audioDevices);
  }
  setAudioDevice(role: AudioRole, device: string | null): Promise<AudioStatus> {
    return call<AudioStatus>(COMMANDS.setAudioDevice, { role, device });
  }

  attendantTone(tone: AttendantTone | null): Promise<AudioStatus> {
    return call<AudioStatus>(COMMANDS.attendantTone, { tone });
  }

  subscribe(handlers: StreamHandlers): () => void {
    let unlisten: UnlistenFn | null = null;
    let stopped = false;
    handlers.onStatus({ state: 'connecting' });
    listen<ConsoleFrame>(CONSOLE_EVENT, (event) => {
      if (event.payload.type === 'events.lagged') handlers.onResync();
      handlers.onEvent(event.payload);
    })
      .then((fn) => {
        if (stopped) {
          fn();
          return;
        }
        unlisten = fn;
        handlers.onStatus({ state: 'open' });
        handlers.onResync();
      })
      .catch((e: unknown) => {
        handlers.onStatus({
          state: 'reconnecting',
          attempt: 1,
          retryInMs: 0,
          reason: BackendError.from(e).message,
        });
      });
    return () => {
      stopped = true;
      unlisten?.();
      handlers.onStatus({ state: 'closed' });
    };
  }
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw BackendError.from(e);
  }
}
