// Formatting for the panels: durations, parties, states, reasons.

import type { Call, CallState, EndReason, TransferState } from '../bindings/console';

/** `0:07`, `12:34`, `1:02:03` from milliseconds (negative counts as zero). */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Milliseconds since an RFC 3339 time, or 0 if it does not parse. */
export function since(iso: string | null, now: number): number {
  if (!iso) return 0;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : Math.max(0, now - t);
}

/**
 * The duration to show for a call: talk time once answered, else time ringing/dialling; frozen
 * at `ended_at` for ended calls.
 */
export function callDuration(call: Call, now: number): number {
  const end = call.ended_at ? Date.parse(call.ended_at) : now;
  const from = call.answered_at ?? call.started_at;
  const start = Date.parse(from);
  if (Number.isNaN(start) || Number.isNaN(end)) return 0;
  return Math.max(0, end - start);
}

/** The user part and host of a SIP URI without scheme and parameters, e.g. `ada@10.0.0.1`. */
export function shortUri(uri: string): string {
  const noScheme = uri.replace(/^(sips?|tel):/i, '');
  return noScheme.split(/[;?>]/)[0] ?? noScheme;
}

/** The party's name: the display name, else the URI's user part, else the URI. */
export function partyName(call: Pick<Call, 'remote_display' | 'remote_uri'>): string {
  const display = call.remote_display?.trim();
  if (display) return display;
  const short = shortUri(call.remote_uri);
  const user = short.split('@')[0];
  return user || short || call.remote_uri;
}

export const STATE_LABEL: Record<CallState, string> = {
  ringing: 'Ringing',
  dialing: 'Dialling',
  early: 'Ringing out',
  active: 'Active',
  held: 'On hold',
  transferring: 'Transferring',
  ended: 'Ended',
};

export const END_REASON_LABEL: Record<EndReason, string> = {
  local_hangup: 'Hung up here',
  remote_hangup: 'Caller hung up',
  rejected: 'Rejected',
  cancelled: 'Cancelled',
  failed: 'Failed',
  timeout: 'No answer',
  transferred: 'Transferred',
  interrupted: 'Interrupted',
  shutdown: 'Console shut down',
};

export const TRANSFER_STATE_LABEL: Record<TransferState, string> = {
  triggered: 'Triggered',
  initiated: 'Initiated',
  answered: 'Answered',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** Local time `14:03:27` for an RFC 3339 time. */
export function clockTime(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString(undefined, { hour12: false });
}

/** Local date + time for the history table. */
export function dateTime(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${d.toLocaleTimeString(undefined, { hour12: false })}`;
}

/** Plain words for a SIP status when the console did not give a reason. */
export function sipStatusWords(status: number | null): string {
  if (status === null) return 'no final answer';
  const words: Record<number, string> = {
    403: 'the far end refused the transfer',
    404: 'the destination does not exist',
    405: 'the far end does not support transfers',
    408: 'nobody answered in time',
    480: 'the destination is unavailable',
    486: 'the destination is busy',
    487: 'the transfer was cancelled',
    488: 'the far end cannot handle the media offered',
    501: 'the far end does not support transfers',
    503: 'the far end is unavailable',
    600: 'the destination is busy everywhere',
    603: 'the far end declined the transfer',
  };
  const w = words[status];
  if (w) return `${w} (${status})`;
  if (status >= 500) return `the far end failed (${status})`;
  if (status >= 400) return `the far end rejected the transfer (${status})`;
  return `SIP ${status}`;
}
