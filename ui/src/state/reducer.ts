// The console's state as the UI sees it, and the pure reducer that folds events into it.
// Everything here is plain data and plain functions so it can be tested without a DOM; the
// reactive wrapper is `store.svelte.ts`.

import type {
  AccountStatus,
  AudioDevice,
  AudioStatus,
  Call,
  CallId,
  Contact,
  Transfer,
  TransferId,
  TransferState,
} from '../bindings/console';
import type { ConnectionStatus, ConsoleFrame } from '../backend';
import { partyName, sipStatusWords } from '../lib/format';

/** One step of a transfer's progress, as the timeline shows it. */
export interface TimelineStep {
  state: TransferState;
  /** When the console reported it (RFC 3339). */
  at: string;
  sip_status: number | null;
  reason: string | null;
}

/** One transfer attempt on a call and the steps seen so far. */
export interface TransferTrack {
  transfer: Transfer;
  steps: TimelineStep[];
}

/** An account's state plus the last failure reason, if any. */
export interface AccountView extends AccountStatus {
  last_error: string | null;
}

export interface ConsoleState {
  /** Live calls, and ended ones lingering on the panel for a moment (see `endedAt`). */
  calls: Readonly<Record<CallId, Call>>;
  /** When (local ms) each call in `calls` was seen ending; pruned after the linger time. */
  endedAt: Readonly<Record<CallId, number>>;
  /** Transfer attempts per call, oldest first (a fallback adds a second attempt). */
  transfers: Readonly<Record<CallId, readonly TransferTrack[]>>;
  /** Ended calls, newest first. */
  history: readonly Call[];
  accounts: Readonly<Record<string, AccountView>>;
  connection: ConnectionStatus;
  /**
   * The attendant's sound devices in use (`GET /audio`, then the `audio.*` events); `null`
   * until first read.
   */
  audio: AudioStatus | null;
  /** The devices the sound server offers (`GET /audio/devices`); `null` until listed. */
  audioDevices: readonly AudioDevice[] | null;
  /** The config file's contacts (`GET /contacts`, read on every resync), for suggestions. */
  contacts: readonly Contact[];
  /** How many times the stream lagged (events were lost and the state re-read). */
  lagged: number;
}

export type Action =
  | { kind: 'event'; frame: ConsoleFrame; now: number }
  /** `GET /calls` after (re)connecting or lagging: the authoritative live set. */
  | { kind: 'snapshot'; calls: readonly Call[]; now: number }
  | { kind: 'history'; calls: readonly Call[] }
  | { kind: 'accounts'; accounts: readonly AccountStatus[] }
  /** `GET /contacts` after (re)connecting. */
  | { kind: 'contacts'; contacts: readonly Contact[] }
  | { kind: 'connection'; status: ConnectionStatus }
  /** `GET /audio` or the reply to a device switch: the devices in use now. */
  | { kind: 'audio'; audio: AudioStatus }
  /** `GET /audio/devices`: the devices there are and those in use. */
  | { kind: 'audioDevices'; devices: readonly AudioDevice[]; active: AudioStatus }
  /** A command returned a call (e.g. the 200 of `/answer`): take it if it is newer. */
  | { kind: 'call'; call: Call; now: number }
  /** Drops ended calls that have lingered `lingerMs`. */
  | { kind: 'prune'; now: number; lingerMs: number };

/** How many ended calls the history keeps in memory. */
export const HISTORY_CAP = 1000;

export function initialState(): ConsoleState {
  return {
    calls: {},
    endedAt: {},
    transfers: {},
    history: [],
    accounts: {},
    connection: { state: 'connecting' },
    audio: null,
    audioDevices: null,
    contacts: [],
    lagged: 0,
  };
}

const TRANSFER_EVENT_STATE: Record<string, TransferState> = {
  'transfer.triggered': 'triggered',
  'transfer.initiated': 'initiated',
  'transfer.answered': 'answered',
  'transfer.completed': 'completed',
  'transfer.failed': 'failed',
  'transfer.cancelled': 'cancelled',
};

/** Folds one action into the state. Never mutates its input. */
export function reduce(state: ConsoleState, action: Action): ConsoleState {
  switch (action.kind) {
    case 'event':
      return reduceFrame(state, action.frame, action.now);
    case 'snapshot':
      return applySnapshot(state, action.calls, action.now);
    case 'history':
      return { ...state, history: dedupeHistory(action.calls) };
    case 'accounts': {
      const accounts: Record<string, AccountView> = {};
      for (const a of action.accounts) {
        accounts[a.name] = { ...a, last_error: state.accounts[a.name]?.last_error ?? null };
      }
      return { ...state, accounts };
    }
    case 'contacts':
      return { ...state, contacts: [...action.contacts] };
    case 'connection':
      return { ...state, connection: action.status };
    case 'audio':
      return withAudio(state, action.audio);
    case 'audioDevices':
      return { ...withAudio(state, action.active), audioDevices: [...action.devices] };
    case 'call':
      return upsertCall(state, action.call, action.now);
    case 'prune':
      return prune(state, action.now, action.lingerMs);
  }
}

function reduceFrame(state: ConsoleState, frame: ConsoleFrame, now: number): ConsoleState {
  switch (frame.type) {
    case 'events.lagged':
      return { ...state, lagged: state.lagged + 1 };
    case 'account.registered':
      return withAccount(state, frame.account, null);
    case 'account.registration_failed':
      return withAccount(state, frame.account, frame.reason);
    case 'audio.devices':
    case 'audio.device_lost':
      // The device list stays as read: a lost device keeps its name for the notice until the
      // list is read again.
      return withAudio(state, frame.audio);
    case 'call.incoming':
    case 'call.dialing':
    case 'call.ringing':
    case 'call.answered':
    case 'call.held':
    case 'call.resumed':
    case 'call.ended':
    case 'call.stats':
    case 'call.dtmf':
    case 'call.listening':
      return upsertCall(state, frame.call, now);
    case 'transfer.triggered':
    case 'transfer.initiated':
    case 'transfer.answered':
    case 'transfer.completed':
    case 'transfer.cancelled':
    case 'transfer.failed': {
      const stepState = TRANSFER_EVENT_STATE[frame.type] ?? frame.transfer.state;
      const failed = frame.type === 'transfer.failed';
      const sipStatus = failed ? frame.sip_status : frame.transfer.sip_status;
      const step: TimelineStep = {
        state: stepState,
        at: frame.at,
        sip_status: sipStatus,
        reason: failed ? frame.reason || sipStatusWords(sipStatus) : frame.transfer.reason,
      };
      const withCall = upsertCall(state, frame.call, now);
      return withStep(withCall, frame.call.id, frame.transfer, step);
    }
    default:
      // Event kinds this UI does not know yet change nothing.
      return state;
  }
}

/** Whether `b` is at least as recent as `a` (ended beats live; then the later timestamps). */
function isNewer(a: Call, b: Call): boolean {
  if (a.state === 'ended' && b.state !== 'ended') return false;
  return true;
}

function upsertCall(state: ConsoleState, call: Call, now: number): ConsoleState {
  const previous = state.calls[call.id];
  if (previous && !isNewer(previous, call)) return state;
  // An ended call already pruned from the panel (e.g. a late command reply): history has it.
  if (!previous && call.state === 'ended' && state.history.some((c) => c.id === call.id)) {
    return state;
  }
  const calls = { ...state.calls, [call.id]: call };
  let { endedAt, history, transfers } = state;
  if (call.state === 'ended') {
    if (endedAt[call.id] === undefined) endedAt = { ...endedAt, [call.id]: now };
    history = dedupeHistory([call, ...history]);
  }
  if (call.transfer && !transfers[call.id]?.some((t) => t.transfer.id === call.transfer?.id)) {
    // A transfer we learnt about from the call itself (snapshot or a missed event).
    transfers = {
      ...transfers,
      [call.id]: [...(transfers[call.id] ?? []), trackFromTransfer(call.transfer)],
    };
  } else if (call.transfer) {
    transfers = replaceTransfer(transfers, call.id, call.transfer);
  }
  return { ...state, calls, endedAt, history, transfers };
}

function withStep(
  state: ConsoleState,
  callId: CallId,
  transfer: Transfer,
  step: TimelineStep,
): ConsoleState {
  const tracks = state.transfers[callId] ?? [];
  const index = tracks.findIndex((t) => t.transfer.id === transfer.id);
  const existing = index >= 0 ? tracks[index] : undefined;
  const steps = existing ? existing.steps.filter((s) => s.state !== step.state) : [];
  const track: TransferTrack = { transfer, steps: [...steps, step] };
  const next =
    index >= 0 ? tracks.map((t, i) => (i === index ? track : t)) : [...tracks, track];
  return { ...state, transfers: { ...state.transfers, [callId]: next } };
}

function replaceTransfer(
  transfers: ConsoleState['transfers'],
  callId: CallId,
  transfer: Transfer,
): ConsoleState['transfers'] {
  const tracks = transfers[callId];
  if (!tracks) return transfers;
  return {
    ...transfers,
    [callId]: tracks.map((t) => (t.transfer.id === transfer.id ? { ...t, transfer } : t)),
  };
}

/** The steps a transfer must have passed to be where it is, for one first seen mid-way. */
export function trackFromTransfer(transfer: Transfer): TransferTrack {
  const order: TransferState[] = ['triggered', 'initiated', 'answered', 'completed'];
  const at = transfer.started_at;
  const ended = transfer.ended_at ?? at;
  const make = (state: TransferState, when: string): TimelineStep => ({
    state,
    at: when,
    sip_status: null,
    reason: null,
  });
  let steps: TimelineStep[];
  if (transfer.state === 'failed' || transfer.state === 'cancelled') {
    steps = [
      make('triggered', at),
      {
        state: transfer.state,
        at: ended,
        sip_status: transfer.sip_status,
        reason:
          transfer.reason ??
          (transfer.state === 'failed' ? sipStatusWords(transfer.sip_status) : null),
      },
    ];
  } else {
    const upTo = order.indexOf(transfer.state);
    steps = order.slice(0, upTo + 1).map((s) => make(s, s === 'completed' ? ended : at));
    const last = steps[steps.length - 1];
    if (last) last.sip_status = transfer.sip_status;
  }
  return { transfer, steps };
}

function withAccount(
  state: ConsoleState,
  account: AccountStatus,
  error: string | null,
): ConsoleState {
  return {
    ...state,
    accounts: { ...state.accounts, [account.name]: { ...account, last_error: error } },
  };
}

function withAudio(state: ConsoleState, audio: AudioStatus): ConsoleState {
  const previous = state.audio;
  if (
    previous &&
    previous.enabled === audio.enabled &&
    previous.headless === audio.headless &&
    previous.input === audio.input &&
    previous.output === audio.output &&
    previous.ring === audio.ring &&
    previous.alerting === audio.alerting
  ) {
    return state;
  }
  return { ...state, audio: { ...audio } };
}

function applySnapshot(state: ConsoleState, live: readonly Call[], now: number): ConsoleState {
  const liveIds = new Set(live.map((c) => c.id));
  // Calls we thought live that the console no longer has ended while we were away.
  const calls: Record<CallId, Call> = {};
  const endedAt: Record<CallId, number> = {};
  for (const [id, call] of Object.entries(state.calls)) {
    const ended = state.endedAt[id];
    if (call.state === 'ended' && ended !== undefined && !liveIds.has(id)) {
      calls[id] = call;
      endedAt[id] = ended;
    }
  }
  let next: ConsoleState = { ...state, calls, endedAt };
  for (const call of live) next = upsertCall(next, call, now);
  // Transfer tracks of calls that are gone stay only while the call lingers.
  const transfers: Record<CallId, readonly TransferTrack[]> = {};
  for (const [id, tracks] of Object.entries(next.transfers)) {
    if (next.calls[id]) transfers[id] = tracks;
  }
  return { ...next, transfers };
}

function prune(state: ConsoleState, now: number, lingerMs: number): ConsoleState {
  const expired = Object.entries(state.endedAt)
    .filter(([, t]) => now - t >= lingerMs)
    .map(([id]) => id);
  if (expired.length === 0) return state;
  const calls = { ...state.calls };
  const endedAt = { ...state.endedAt };
  const transfers = { ...state.transfers };
  for (const id of expired) {
    delete calls[id];
    delete endedAt[id];
    delete transfers[id];
  }
  return { ...state, calls, endedAt, transfers };
}

function dedupeHistory(calls: readonly Call[]): Call[] {
  const seen = new Set<CallId>();
  const out: Call[] = [];
  for (const call of calls) {
    if (seen.has(call.id)) continue;
    seen.add(call.id);
    out.push(call);
    if (out.length >= HISTORY_CAP) break;
  }
  return out;
}

// ---- selectors -----------------------------------------------------------------------------

/** The calls on the panel, oldest first (ringing calls are not reordered: rows must not jump). */
export function panelCalls(state: ConsoleState): Call[] {
  return Object.values(state.calls).sort(
    (a, b) => Date.parse(a.started_at) - Date.parse(b.started_at) || a.id.localeCompare(b.id),
  );
}

/** The latest transfer attempt on a call, if any. */
export function latestTransfer(state: ConsoleState, id: CallId): TransferTrack | undefined {
  const tracks = state.transfers[id];
  return tracks ? tracks[tracks.length - 1] : undefined;
}

/** Whether a transfer is still pending (not completed, failed or cancelled). */
export function transferPending(t: Pick<Transfer, 'state'> | null | undefined): boolean {
  return !!t && (t.state === 'triggered' || t.state === 'initiated' || t.state === 'answered');
}

/** The other leg of a call's anchored bridge, as the panels name it. */
export interface BridgePartner {
  id: CallId;
  /** The partner's party name; its id when this console no longer knows the call. */
  name: string;
  /** Whether the partner's leg is still up (the bridge stands). */
  live: boolean;
}

/**
 * The call on the other side of `call`'s anchored bridge (`bridged_with`), looked up on the
 * panel, then in the history; `null` if not bridged.
 */
export function bridgePartner(
  state: Pick<ConsoleState, 'calls' | 'history'>,
  call: Pick<Call, 'id' | 'bridged_with'>,
): BridgePartner | null {
  const id = call.bridged_with;
  if (!id || id === call.id) return null;
  const other = state.calls[id] ?? state.history.find((c) => c.id === id);
  if (!other) return { id, name: id, live: false };
  return { id, name: partyName(other), live: other.state !== 'ended' };
}

/** One transfer attempt for the supervisor: whose call, and where it stands. */
export interface TransferEntry {
  callId: CallId;
  party: string;
  transfer: Transfer;
}

/**
 * Every transfer attempt this console knows, newest first: the attempts on the panel (a live
 * caller keeps a failed or anchored attempt while the call goes on) and those in the history.
 * Each attempt once, in its latest state.
 */
export function transferLog(state: Pick<ConsoleState, 'calls' | 'transfers' | 'history'>): TransferEntry[] {
  const byId = new Map<TransferId, TransferEntry>();
  for (const call of state.history) {
    if (call.transfer) {
      byId.set(call.transfer.id, { callId: call.id, party: partyName(call), transfer: call.transfer });
    }
  }
  for (const [callId, tracks] of Object.entries(state.transfers)) {
    const call = state.calls[callId];
    for (const t of tracks) {
      const known = byId.get(t.transfer.id);
      // The history's copy is final; a track may lag behind it by an event.
      if (known && !transferPending(known.transfer)) continue;
      byId.set(t.transfer.id, {
        callId,
        party: call ? partyName(call) : known?.party ?? callId,
        transfer: t.transfer,
      });
    }
  }
  const when = (e: TransferEntry) => Date.parse(e.transfer.ended_at ?? e.transfer.started_at) || 0;
  return [...byId.values()].sort((a, b) => when(b) - when(a));
}

/** Figures for the supervisor view. */
export interface Totals {
  live: number;
  ringing: number;
  active: number;
  held: number;
  transferring: number;
  transfersInFlight: number;
  transfersCompleted: number;
  transfersFailed: number;
  handledToday: number;
  missed: number;
}

export function totals(state: ConsoleState, now: number): Totals {
  const live = Object.values(state.calls).filter((c) => c.state !== 'ended');
  const count = (s: Call['state']) => live.filter((c) => c.state === s).length;
  const transferIds = new Map<TransferId, TransferState>();
  for (const call of state.history) {
    if (call.transfer) transferIds.set(call.transfer.id, call.transfer.state);
  }
  for (const tracks of Object.values(state.transfers)) {
    for (const t of tracks) transferIds.set(t.transfer.id, t.transfer.state);
  }
  for (const call of live) {
    if (call.transfer) transferIds.set(call.transfer.id, call.transfer.state);
  }
  const states = [...transferIds.values()];
  const startOfDay = new Date(now);
  startOfDay.setHours(0, 0, 0, 0);
  const today = state.history.filter((c) => Date.parse(c.started_at) >= startOfDay.getTime());
  return {
    live: live.length,
    ringing: count('ringing'),
    active: count('active'),
    held: count('held'),
    transferring: count('transferring'),
    transfersInFlight: states.filter((s) => transferPending({ state: s })).length,
    transfersCompleted: states.filter((s) => s === 'completed').length,
    transfersFailed: states.filter((s) => s === 'failed').length,
    handledToday: today.filter((c) => c.answered_at !== null).length,
    missed: today.filter(
      (c) => c.direction === 'inbound' && c.answered_at === null && c.end_reason !== 'rejected',
    ).length,
  };
}
