// The reactive store: holds `ConsoleState` in a Svelte rune, feeds it from the backend's event
// stream (never by polling), and runs commands so their failures become notices.

import type { Call, CallId } from '../bindings/console';
import { type Backend, BackendError, type ConsoleFrame } from '../backend';
import { deviceLostText, listErrorText } from '../lib/audio';
import { type Action, type ConsoleState, initialState, reduce } from './reducer';

/** How long an ended call stays on the panel (greyed) before it leaves. */
export const LINGER_MS = 6000;

/** A message in the notice area: a failed command, a hint. */
export interface Notice {
  id: number;
  tone: 'error' | 'info';
  text: string;
}

export class ConsoleStore {
  /** The console as last seen; replaced (never mutated) on every action. */
  state: ConsoleState = $state.raw(initialState());
  /** Wall clock for live durations, ticking every 250 ms while connected. */
  now: number = $state(Date.now());
  notices: Notice[] = $state([]);
  backend: Backend | null = $state.raw(null);

  /** Called for each event after it is applied (desktop notifications, focus). */
  onFrame: ((frame: ConsoleFrame, state: ConsoleState) => void) | null = null;

  /** Further listeners (e.g. the SIP ladder re-reading its call), see [`subscribeFrames`]. */
  private readonly frameListeners = new Set<(frame: ConsoleFrame) => void>();

  private nextNotice = 1;

  dispatch(action: Action): void {
    this.state = reduce(this.state, action);
  }

  /** Subscribes to `backend`; returns the function that stops everything. */
  connect(backend: Backend): () => void {
    this.backend = backend;
    const unsubscribe = backend.subscribe({
      onEvent: (frame) => {
        // The device list before this event: it still names a device that was just lost.
        const devices = this.state.audioDevices;
        this.dispatch({ kind: 'event', frame, now: Date.now() });
        if (frame.type === 'audio.device_lost') {
          this.notify('error', deviceLostText(frame, devices));
          void this.listAudioDevices();
        }
        this.onFrame?.(frame, this.state);
        for (const listener of this.frameListeners) listener(frame);
      },
      onStatus: (status) => this.dispatch({ kind: 'connection', status }),
      onResync: () => void this.resync(),
    });
    const tick = setInterval(() => {
      this.now = Date.now();
      this.dispatch({ kind: 'prune', now: this.now, lingerMs: LINGER_MS });
    }, 250);
    return () => {
      clearInterval(tick);
      unsubscribe();
    };
  }

  /**
   * Calls `listener` with every event after it is applied, until the returned function is
   * called. For views that re-read something when their call changes (never by polling).
   */
  subscribeFrames(listener: (frame: ConsoleFrame) => void): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  /**
   * Re-reads the live calls, history, accounts, contacts and sound devices (after connecting
   * or lagging). The device list is read too when the console has devices (so a lost device's
   * notice can name it) or when it was listed before. Contacts that cannot be read (a console
   * without the route) leave the suggestions to the history, without a notice.
   */
  async resync(): Promise<void> {
    const backend = this.backend;
    if (!backend) return;
    const [calls, history, accounts, audio, contacts] = await Promise.allSettled([
      backend.listCalls(),
      backend.history(200),
      backend.accounts(),
      backend.audio(),
      Promise.resolve().then(() => backend.contacts()),
    ]);
    if (contacts.status === 'fulfilled') {
      this.dispatch({ kind: 'contacts', contacts: contacts.value });
    }
    if (audio.status === 'fulfilled') {
      this.dispatch({ kind: 'audio', audio: audio.value });
      const usable = audio.value.enabled && !audio.value.headless;
      if (usable || this.state.audioDevices !== null) void this.listAudioDevices();
    }
    if (calls.status === 'fulfilled') {
      this.dispatch({ kind: 'snapshot', calls: calls.value, now: Date.now() });
    }
    if (history.status === 'fulfilled') this.dispatch({ kind: 'history', calls: history.value });
    if (accounts.status === 'fulfilled') {
      this.dispatch({ kind: 'accounts', accounts: accounts.value });
    }
    const failed = [calls, history, accounts].find((r) => r.status === 'rejected');
    if (failed && failed.status === 'rejected') this.notify('error', describe(failed.reason));
  }

  /**
   * Reads the sound devices there are and those in use. Resolves to why it failed in plain
   * words (the settings view shows it beside the pickers), or `null`.
   */
  async listAudioDevices(): Promise<string | null> {
    const backend = this.backend;
    if (!backend) return 'Not connected to the console.';
    try {
      const { devices, active } = await backend.audioDevices();
      this.dispatch({ kind: 'audioDevices', devices, active });
      return null;
    } catch (e) {
      return listErrorText(e);
    }
  }

  /**
   * Runs a command; a call it returns is folded in at once (the event follows), a failure
   * becomes a notice. Resolves to the command's result, or `null` if it failed.
   */
  async run<T>(what: string, command: (backend: Backend) => Promise<T>): Promise<T | null> {
    const backend = this.backend;
    if (!backend) return null;
    try {
      const result = await command(backend);
      if (isCall(result)) this.dispatch({ kind: 'call', call: result, now: Date.now() });
      return result;
    } catch (e) {
      this.notify('error', `${what}: ${describe(e)}`);
      return null;
    }
  }

  notify(tone: Notice['tone'], text: string): void {
    const id = this.nextNotice++;
    this.notices = [...this.notices.slice(-3), { id, tone, text }];
    setTimeout(() => this.dismiss(id), tone === 'error' ? 8000 : 4000);
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  /** The call with this id, if it is on the panel. */
  call(id: CallId | null): Call | undefined {
    return id === null ? undefined : this.state.calls[id];
  }
}

function describe(e: unknown): string {
  const error = BackendError.from(e);
  return error.message || error.code;
}

function isCall(value: unknown): value is Call {
  return (
    typeof value === 'object' &&
    value !== null &&
    'id' in value &&
    'state' in value &&
    'remote_uri' in value
  );
}
