// What the controls do. Components call these; they go through the store (so failures become
// notices) and the backend interface (so the transport does not matter).

import { getContext, setContext } from 'svelte';
import type { AudioRole, Call, CallId, SipLadder } from '../bindings/console';
import { BackendError, type AttendantTone, type TransferRequest } from '../backend';
import { switchErrorText } from '../lib/audio';
import { partyName } from '../lib/format';
import { ladderErrorText } from '../lib/ladder';
import { type TransferTrack, transferPending } from './reducer';
import type { ConsoleStore } from './store.svelte';
import type { TransferDraft, UiState } from './ui.svelte';

export class Actions {
  private readonly dtmfQueue = new Map<CallId, Promise<boolean>>();

  constructor(
    readonly store: ConsoleStore,
    readonly ui: UiState,
  ) {}

  answer(id: CallId): Promise<unknown> {
    this.ui.selectedId = id;
    return this.store.run('Answer', (b) => b.answer(id));
  }

  reject(id: CallId): Promise<unknown> {
    return this.store.run('Reject', (b) => b.reject(id));
  }

  hangup(id: CallId): Promise<unknown> {
    return this.store.run('Hang up', (b) => b.hangup(id));
  }

  toggleHold(call: Call): Promise<unknown> {
    return call.state === 'held' && call.held_by === 'local'
      ? this.store.run('Resume', (b) => b.resume(call.id))
      : this.store.run('Hold', (b) => b.hold(call.id));
  }

  /** Supervisor listen-in on the anchored bridge `call` is a leg of. */
  toggleListen(call: Call): Promise<unknown> {
    return call.listening
      ? this.store.run('Stop listening', (b) => b.unlisten(call.id))
      : this.store.run('Listen in', (b) => b.listen(call.id));
  }

  toggleMute(call: Call): Promise<unknown> {
    return call.muted
      ? this.store.run('Unmute', (b) => b.unmute(call.id))
      : this.store.run('Mute', (b) => b.mute(call.id));
  }

  /**
   * Sends DTMF digits in a call. Digits go one request after another per call, so tones typed
   * quickly reach the far end in the order typed. Resolves to whether the console took them.
   */
  sendDtmf(id: CallId, digits: string): Promise<boolean> {
    const previous = this.dtmfQueue.get(id) ?? Promise.resolve(true);
    const sent = previous
      .then(() => this.store.run('DTMF', (b) => b.sendDtmf(id, digits)))
      .then((call) => call !== null);
    this.dtmfQueue.set(id, sent);
    void sent.then(() => {
      if (this.dtmfQueue.get(id) === sent) this.dtmfQueue.delete(id);
    });
    return sent;
  }

  /**
   * Switches the microphone, headset or ring device (`null`: the system default; for the ring
   * device, none — the headset rings). Resolves to `null` once switched, else why not in plain
   * words for the settings view. A device that is gone makes the list be read again.
   */
  /**
   * The dial tone in the attendant's headset while the dial pad waits for a number (`null`:
   * stop). A tone is a courtesy: a failure is not worth a notice.
   */
  attendantTone(tone: AttendantTone | null): void {
    void this.store.backend?.attendantTone(tone).catch(() => undefined);
  }

  async setAudioDevice(role: AudioRole, device: string | null): Promise<string | null> {
    const backend = this.store.backend;
    if (!backend) return 'Not connected to the console.';
    try {
      const audio = await backend.setAudioDevice(role, device);
      this.store.dispatch({ kind: 'audio', audio });
      return null;
    } catch (e) {
      if (BackendError.from(e).code === 'device_not_found') void this.store.listAudioDevices();
      return switchErrorText(e, this.store.state.audio);
    }
  }

  /** Opens the SIP ladder of a call (live, lingering or from the history). */
  openLadder(id: CallId): void {
    this.ui.dtmfCallId = null;
    this.ui.ladderCallId = id;
  }

  /**
   * Reads a call's SIP ladder. Resolves to the ladder, or to why not in plain words (a call the
   * console no longer holds: "The console no longer holds this call's SIP messages.").
   */
  async loadLadder(id: CallId): Promise<{ ladder: SipLadder } | { error: string }> {
    const backend = this.store.backend;
    if (!backend) return { error: 'Not connected to the console.' };
    try {
      return { ladder: await backend.ladder(id) };
    } catch (e) {
      const err = BackendError.from(e);
      return { error: ladderErrorText(err.code, err.message) };
    }
  }

  /** Opens the DTMF keypad for a call (it takes focus), selecting the call. */
  openKeypad(id: CallId): void {
    this.ui.selectedId = id;
    this.ui.dtmfCallId = id;
  }

  async dial(to: string): Promise<boolean> {
    const call = await this.store.run('Dial', (b) => b.dial(to));
    if (call) this.ui.selectedId = call.id;
    return call !== null;
  }

  /** Opens the transfer dialog for a call, if it can be transferred now. */
  openTransfer(draft: TransferDraft): void {
    const call = this.store.call(draft.callId);
    if (!call) return;
    if (!canTransfer(call)) {
      this.store.notify('info', `${partyName(call)} cannot be transferred while ${call.state}`);
      return;
    }
    this.ui.selectedId = call.id;
    this.ui.transferDraft = draft;
  }

  async transfer(id: CallId, request: TransferRequest): Promise<boolean> {
    const accepted = await this.store.run('Transfer', (b) => b.transfer(id, request));
    return accepted !== null;
  }

  /** Starts a transfer from the dialog: resolves to `null` on success, else why it failed. */
  async tryTransfer(id: CallId, request: TransferRequest): Promise<string | null> {
    const backend = this.store.backend;
    if (!backend) return 'not connected to the console';
    try {
      await backend.transfer(id, request);
      return null;
    } catch (e) {
      return BackendError.from(e).message;
    }
  }

  /** The one-click fallback after a failed cold transfer: same destination, anchored. */
  transferAnchoredInstead(id: CallId, failed: TransferTrack): Promise<boolean> {
    const t = failed.transfer;
    return this.transfer(id, {
      transfer_to: t.transfer_to,
      mode: 'anchored',
      play_dialtone: t.play_dialtone,
      caller_id: null,
      ringing_timeout_s: 30,
      fallback_to_anchored: false,
    });
  }

  /**
   * Gives up on a pending transfer (the caller is back), and clears the call's transfer
   * timelines from its row.
   */
  async backToCaller(id: CallId, track: TransferTrack): Promise<void> {
    if (transferPending(track.transfer)) {
      await this.store.run('Cancel transfer', (b) => b.cancelTransfer(id));
    }
    for (const t of this.store.state.transfers[id] ?? []) this.ui.dismiss(t.transfer.id);
  }
}

/** Whether the transfer dialog may open for this call (the server also checks: 409). */
export function canTransfer(call: Call): boolean {
  return (call.state === 'active' || call.state === 'held') && !transferPending(call.transfer);
}

const KEY = Symbol('switchboard-actions');

export function provideActions(actions: Actions): void {
  setContext(KEY, actions);
}

export function useActions(): Actions {
  const actions = getContext<Actions | undefined>(KEY);
  if (!actions) throw new Error('useActions() outside <App>');
  return actions;
}
