// The SIP ladder of a call, for troubleshooting: lanes (this console and each address it
// talked to), one row per message with its arrow, label, tone and time since the first
// message, what a NOTIFY's sipfrag body reports, and the words a screen reader says.
// Pure functions; `SipLadder.svelte` draws them.

import type { Call, CallId, SipLadder, SipTraceEntry } from '../bindings/console';
import type { ConsoleFrame } from '../backend';

/** A vertical line of the diagram: this console, or one remote address. */
export interface Lane {
  /** `console`, or the remote `ip:port`. */
  id: string;
  label: string;
}

/**
 * How a row is coloured: a success (2xx), a failure (≥ 400), a provisional response (1xx), or
 * neutral (a request, a redirect). A NOTIFY takes the tone of the status its sipfrag reports.
 */
export type LadderTone = 'ok' | 'fail' | 'provisional' | 'neutral';

/** The status line a NOTIFY's `message/sipfrag` body carries (RFC 3515). */
export interface Sipfrag {
  status: number;
  reason: string;
  /** The line as sent: `SIP/2.0 486 Busy Here`. */
  line: string;
}

/** One message of the ladder, ready to draw. */
export interface LadderRow {
  /** Position in the ladder (stable key). */
  index: number;
  entry: SipTraceEntry;
  /** The remote's lane (1 and up; lane 0 is this console). */
  lane: number;
  /** `INVITE`, or `180 INVITE` for a response. */
  label: string;
  /** The response's reason phrase (`Ringing`), else a NOTIFY's sipfrag line, else `null`. */
  detail: string | null;
  sipfrag: Sipfrag | null;
  tone: LadderTone;
  /** Milliseconds since the ladder's first message. */
  offsetMs: number;
  /** `+120 ms` (`+12.345 s` from 10 s on). */
  offsetText: string;
  /** "received 180 Ringing for INVITE at +120 ms", for screen readers. */
  spoken: string;
}

/** A ladder ready to draw. */
export interface LadderView {
  lanes: Lane[];
  rows: LadderRow[];
  omitted: number;
}

/**
 * Milliseconds since the epoch for an RFC 3339 time, keeping the fraction below a millisecond
 * (the console writes nanoseconds, which not every engine's `Date.parse` takes). `NaN` if it
 * does not parse.
 */
export function parseInstant(iso: string): number {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(iso.trim());
  if (!m) return Date.parse(iso);
  const whole = Date.parse(`${m[1]}${m[3] ?? 'Z'}`);
  const fraction = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return whole + fraction;
}

/** `+120 ms` below 10 s, `+12.345 s` from there (a long call's later messages stay readable). */
export function formatOffset(ms: number): string {
  const v = Math.max(0, ms);
  if (v < 10_000) return `+${Math.round(v)} ms`;
  return `+${(v / 1000).toFixed(3)} s`;
}

/**
 * The `host:port` a SIP URI points at (`sip:ada@10.0.0.2:5070;transport=udp` →
 * `10.0.0.2:5070`; the default port 5060, 5061 for `sips:`), or `null` for other URIs.
 */
export function uriHostPort(uri: string): string | null {
  const m = /^(sips?):(?:[^@]*@)?(\[[^\]]+\]|[^:;?>]+)(?::(\d+))?/i.exec(uri.trim().replace(/^<|>$/g, ''));
  if (!m || !m[1] || !m[2]) return null;
  const port = m[3] ?? (m[1].toLowerCase() === 'sips' ? '5061' : '5060');
  return `${m[2].toLowerCase()}:${port}`;
}

/** Who is behind an address, when the ladder can tell (the call's own peer). */
export interface KnownPeer {
  name: string;
  uri: string;
}

/**
 * This console, then each remote address in the order it first appears. A lane at the call's
 * peer's address is named after it too ("Ada Caller · 10.0.0.2:5070").
 */
export function ladderLanes(messages: readonly SipTraceEntry[], peer: KnownPeer | null = null): Lane[] {
  const lanes: Lane[] = [{ id: 'console', label: 'This console' }];
  const peerAddress = peer ? uriHostPort(peer.uri) : null;
  for (const m of messages) {
    if (lanes.some((l) => l.id === m.remote)) continue;
    const named = peer && peerAddress === m.remote.toLowerCase();
    lanes.push({ id: m.remote, label: named ? `${peer.name} · ${m.remote}` : m.remote });
  }
  return lanes;
}

/** The method for a request, `status method` for a response (`180 INVITE`). */
export function messageLabel(entry: Pick<SipTraceEntry, 'method' | 'status'>): string {
  return entry.status === null ? entry.method : `${entry.status} ${entry.method}`;
}

/** A response's reason phrase from its start line (`SIP/2.0 180 Ringing` → `Ringing`). */
export function reasonPhrase(entry: Pick<SipTraceEntry, 'status' | 'summary'>): string | null {
  if (entry.status === null) return null;
  const m = /^SIP\/2\.0\s+\d{3}\s*(.*)$/i.exec(entry.summary.trim());
  const reason = m?.[1]?.trim();
  return reason ? reason : null;
}

/**
 * The status line inside a NOTIFY's sipfrag body (`SIP/2.0 486 Busy Here`), or `null` for
 * any other message. Looks at the body (after the blank line), whatever the Content-Type says,
 * since that is what the transferee reports about the transfer target.
 */
export function sipfragOf(entry: Pick<SipTraceEntry, 'method' | 'status' | 'message'>): Sipfrag | null {
  if (entry.status !== null || entry.method.toUpperCase() !== 'NOTIFY') return null;
  const split = /\r?\n\r?\n/.exec(entry.message);
  if (!split) return null;
  const body = entry.message.slice(split.index + split[0].length);
  const m = /^\s*(SIP\/2\.0\s+(\d{3})(?:[ \t]+([^\r\n]*))?)/i.exec(body);
  if (!m || !m[1] || !m[2]) return null;
  return { status: Number(m[2]), reason: (m[3] ?? '').trim(), line: m[1].trim() };
}

/** A response's tone by its status; a request's by its sipfrag, if it carries one. */
export function messageTone(status: number | null, sipfrag: Sipfrag | null = null): LadderTone {
  const s = status ?? sipfrag?.status ?? null;
  if (s === null) return 'neutral';
  if (s >= 400) return 'fail';
  if (s >= 300) return 'neutral';
  if (s >= 200) return 'ok';
  return 'provisional';
}

/**
 * What a screen reader says for a row: "received 180 Ringing for INVITE at +120 ms",
 * "sent REFER at +2609 ms", "received NOTIFY reporting 486 Busy Here at +2611 ms". With more
 * than one remote lane, the address too ("from 10.0.0.2:5060").
 */
export function spokenMessage(
  entry: Pick<SipTraceEntry, 'direction' | 'method' | 'status' | 'summary' | 'remote'>,
  offsetText: string,
  sipfrag: Sipfrag | null,
  withRemote: boolean,
): string {
  const parts: string[] = [entry.direction];
  if (entry.status === null) {
    parts.push(entry.method);
    if (sipfrag) parts.push(`reporting ${sipfrag.status}${sipfrag.reason ? ` ${sipfrag.reason}` : ''}`);
  } else {
    const reason = reasonPhrase(entry);
    parts.push(`${entry.status}${reason ? ` ${reason}` : ''} for ${entry.method}`);
  }
  if (withRemote) parts.push(`${entry.direction === 'sent' ? 'to' : 'from'} ${entry.remote}`);
  parts.push(`at ${offsetText}`);
  return parts.join(' ');
}

/** Everything the ladder view draws, from the console's reply. */
export function buildLadder(
  ladder: Pick<SipLadder, 'messages' | 'omitted'>,
  peer: KnownPeer | null = null,
): LadderView {
  const lanes = ladderLanes(ladder.messages, peer);
  const first = ladder.messages[0] ? parseInstant(ladder.messages[0].at) : NaN;
  const withRemote = lanes.length > 2;
  const rows = ladder.messages.map((entry, index): LadderRow => {
    const at = parseInstant(entry.at);
    const offsetMs = Number.isFinite(at) && Number.isFinite(first) ? Math.max(0, at - first) : 0;
    const offsetText = formatOffset(offsetMs);
    const sipfrag = sipfragOf(entry);
    return {
      index,
      entry,
      lane: Math.max(1, lanes.findIndex((l) => l.id === entry.remote)),
      label: messageLabel(entry),
      detail: reasonPhrase(entry) ?? sipfrag?.line ?? null,
      sipfrag,
      tone: messageTone(entry.status, sipfrag),
      offsetMs,
      offsetText,
      spoken: spokenMessage(entry, offsetText, sipfrag, withRemote),
    };
  });
  return { lanes, rows, omitted: ladder.omitted };
}

/** The message as text for the clipboard and the expanded row (CRLF made plain newlines). */
export function messageText(entry: Pick<SipTraceEntry, 'message'>): string {
  return entry.message.replace(/\r\n/g, '\n').replace(/\n+$/, '\n');
}

/**
 * The other leg of a call for its ladder: the leg it is bridged with, else the target leg of
 * its anchored transfer; `null` when there is none.
 */
export function otherLeg(call: Pick<Call, 'id' | 'bridged_with' | 'transfer'>): CallId | null {
  const id = call.bridged_with ?? call.transfer?.target_call_id ?? null;
  return id && id !== call.id ? id : null;
}

/**
 * Whether an event may come with new SIP messages of call `id`: any event about that call but
 * the media figures (`call.stats`, about once a second, says nothing about signalling).
 */
export function frameConcernsCall(frame: ConsoleFrame, id: CallId): boolean {
  if (frame.type === 'call.stats') return false;
  const { call, call_id } = frame as { call?: { id?: unknown } | null; call_id?: unknown };
  return call_id === id || (typeof call === 'object' && call !== null && call.id === id);
}

/** Timer functions, injectable for tests. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Runs `fetch` `delayMs` after the last `poke` (events for a call come in bursts: one re-read
 * per burst), and once more `settleMs` after that, for the messages that follow an event
 * without one of their own (the ACK after `call.answered`, the 200 after our BYE). No timer
 * runs without a poke: this is not polling.
 */
export class Refresher {
  private debounce: unknown = null;
  private settle: unknown = null;

  constructor(
    private readonly fetch: () => void,
    private readonly delayMs = 250,
    private readonly settleMs = 1000,
    private readonly timers: Timers = {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
    },
  ) {}

  /** Something happened to the call: re-read soon. */
  poke(): void {
    this.cancel();
    this.debounce = this.timers.setTimeout(() => {
      this.debounce = null;
      this.fetch();
      this.settle = this.timers.setTimeout(() => {
        this.settle = null;
        this.fetch();
      }, this.settleMs);
    }, this.delayMs);
  }

  /** Forgets pending re-reads (the view closed, or switched calls). */
  cancel(): void {
    if (this.debounce !== null) this.timers.clearTimeout(this.debounce);
    if (this.settle !== null) this.timers.clearTimeout(this.settle);
    this.debounce = null;
    this.settle = null;
  }
}

/** What to say when the ladder cannot be read; `call_not_found` means it was let go. */
export function ladderErrorText(code: string, message: string): string {
  if (code === 'call_not_found') return "The console no longer holds this call's SIP messages.";
  return `The SIP messages could not be read: ${message || code}`;
}
