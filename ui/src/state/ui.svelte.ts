// Screen state that is not the console's: which view, which call is selected, which overlay
// is open, which transfer failures the attendant dismissed.

import type { CallId, TransferId } from '../bindings/console';
import type { Backend } from '../backend';

export type View = 'calls' | 'history' | 'supervisor' | 'settings';

export const VIEWS: readonly { id: View; label: string; key: string }[] = [
  { id: 'calls', label: 'Calls', key: '1' },
  { id: 'history', label: 'History', key: '2' },
  { id: 'supervisor', label: 'Supervisor', key: '3' },
  { id: 'settings', label: 'Settings', key: '4' },
];

/**
 * Whether the page's own ring sound starts on. The desktop app's console rings the ring device
 * itself while an inbound call waits, so a second ring from the page would only double it
 * there; a supervisor's browser has no other ring. Either way it stays a switch in Settings.
 */
export function defaultRingSound(kind: Backend['kind']): boolean {
  return kind !== 'tauri';
}

/** Options the transfer dialog can be opened with (e.g. "transfer anchored instead"). */
export interface TransferDraft {
  callId: CallId;
  destination?: string;
  mode?: 'cold' | 'anchored';
}

export class UiState {
  view: View = $state('calls');
  selectedId: CallId | null = $state(null);
  transferDraft: TransferDraft | null = $state(null);
  helpOpen = $state(false);
  /** The call whose SIP ladder is open (a modal; the other leg's ladder replaces it). */
  ladderCallId: CallId | null = $state(null);
  /** The call whose DTMF keypad is open (one at a time). */
  dtmfCallId: CallId | null = $state(null);
  /** Transfer failures the attendant closed with "Back to caller". */
  dismissed: ReadonlySet<TransferId> = $state.raw(new Set());
  /**
   * Play a ring sound in the page (Web Audio) for inbound calls. On by default in a browser;
   * off by default in the desktop app, where the console itself rings the ring device (or the
   * headset). See [`defaultRingSound`].
   */
  ringSound = $state(true);
  /** Bumped to ask the dial field to take focus. */
  dialFocusRequest = $state(0);

  constructor(options: { ringSound?: boolean } = {}) {
    this.ringSound = options.ringSound ?? true;
  }

  dismiss(id: TransferId): void {
    this.dismissed = new Set([...this.dismissed, id]);
  }

  /** Moves the selection by `delta` within `ids` (wrapping), or selects the first. */
  move(ids: readonly CallId[], delta: number): void {
    if (ids.length === 0) {
      this.selectedId = null;
      return;
    }
    const at = this.selectedId === null ? -1 : ids.indexOf(this.selectedId);
    const start = at < 0 ? (delta > 0 ? -1 : 0) : at;
    const next = (start + delta + ids.length) % ids.length;
    this.selectedId = ids[next] ?? null;
  }
}
