import { describe, expect, it } from 'vitest';
import type { ConsoleFrame } from '../backend';
import type { Call } from '../bindings/console';
import { ev, makeAudio, makeCall, makeDevice, makeTransfer } from './fixtures';
import {
  type Action,
  type ConsoleState,
  bridgePartner,
  initialState,
  latestTransfer,
  panelCalls,
  reduce,
  totals,
  trackFromTransfer,
  transferLog,
} from './reducer';

const NOW = Date.parse('2026-11-23T12:05:00.000Z');

function run(frames: ConsoleFrame[], start: ConsoleState = initialState()): ConsoleState {
  return frames.reduce<ConsoleState>(
    (s, frame, i) => reduce(s, { kind: 'event', frame, now: NOW + i }),
    start,
  );
}

const ringing = makeCall();
const active: Call = { ...ringing, state: 'active', answered_at: '2026-11-23T12:00:05.000Z', sip_status: 200 };

describe('calls', () => {
  it('call.listening updates the call in place', () => {
    let s = run([ev('call.answered', { call: active })]);
    expect(s.calls['c-1']?.listening).toBe(false);
    s = run([ev('call.listening', { call: { ...active, listening: true } })], s);
    expect(s.calls['c-1']?.listening).toBe(true);
  });

  it('an inbound call rings, is answered and ends into history', () => {
    const ended: Call = {
      ...active,
      state: 'ended',
      ended_at: '2026-11-23T12:01:00.000Z',
      end_reason: 'remote_hangup',
    };
    let s = run([ev('call.incoming', { call: ringing })]);
    expect(s.calls['c-1']?.state).toBe('ringing');
    s = run([ev('call.answered', { call: active })], s);
    expect(s.calls['c-1']?.state).toBe('active');
    expect(s.history).toEqual([]);
    s = run([ev('call.ended', { call: ended })], s);
    expect(s.calls['c-1']?.state).toBe('ended');
    expect(s.history.map((c) => c.id)).toEqual(['c-1']);
    expect(s.endedAt['c-1']).toBeTypeOf('number');
  });

  it('ended calls linger, then prune removes them and their transfers', () => {
    const ended: Call = { ...active, state: 'ended', ended_at: '2026-11-23T12:01:00.000Z' };
    let s = run([ev('call.incoming', { call: ringing }), ev('call.ended', { call: ended })]);
    const endedAt = s.endedAt['c-1'] ?? 0;
    s = reduce(s, { kind: 'prune', now: endedAt + 1000, lingerMs: 5000 });
    expect(s.calls['c-1']).toBeDefined();
    s = reduce(s, { kind: 'prune', now: endedAt + 5000, lingerMs: 5000 });
    expect(s.calls['c-1']).toBeUndefined();
    expect(s.transfers['c-1']).toBeUndefined();
    expect(s.history).toHaveLength(1);
  });

  it('a stale live update never resurrects an ended call', () => {
    const ended: Call = { ...active, state: 'ended', ended_at: '2026-11-23T12:01:00.000Z' };
    let s = run([ev('call.ended', { call: ended })]);
    s = reduce(s, { kind: 'call', call: active, now: NOW });
    expect(s.calls['c-1']?.state).toBe('ended');
  });

  it('a command reply for a call already pruned stays out of the panel', () => {
    const ended: Call = { ...active, state: 'ended', ended_at: '2026-11-23T12:01:00.000Z' };
    let s = run([ev('call.ended', { call: ended })]);
    s = reduce(s, { kind: 'prune', now: NOW + 60_000, lingerMs: 1 });
    s = reduce(s, { kind: 'call', call: ended, now: NOW + 60_001 });
    expect(s.calls['c-1']).toBeUndefined();
  });

  it('orders the panel oldest first', () => {
    const b = makeCall({ id: 'c-2', started_at: '2026-11-23T12:00:01.000Z' });
    const a = makeCall({ id: 'c-3', started_at: '2026-11-23T11:59:00.000Z' });
    const s = run([ev('call.incoming', { call: ringing }), ev('call.incoming', { call: b }), ev('call.incoming', { call: a })]);
    expect(panelCalls(s).map((c) => c.id)).toEqual(['c-3', 'c-1', 'c-2']);
  });
});

describe('cold transfer timeline', () => {
  it('triggered → initiated → answered → completed, then the call ends transferred', () => {
    const t = makeTransfer();
    const transferring: Call = { ...active, state: 'transferring', transfer: t };
    const frames: ConsoleFrame[] = [
      ev('call.incoming', { call: ringing }),
      ev('call.answered', { call: active }),
      ev('transfer.triggered', { call: transferring, transfer: t }),
      ev('transfer.initiated', { call: transferring, transfer: { ...t, state: 'initiated' } }),
      ev('transfer.answered', {
        call: transferring,
        transfer: { ...t, state: 'answered', sip_status: 200 },
      }),
      ev('transfer.completed', {
        call: transferring,
        transfer: { ...t, state: 'completed', sip_status: 200 },
      }),
      ev('call.ended', {
        call: {
          ...transferring,
          state: 'ended',
          end_reason: 'transferred',
          transfer: { ...t, state: 'completed', sip_status: 200 },
        },
      }),
    ];
    const s = run(frames);
    const track = latestTransfer(s, 'c-1');
    expect(track?.steps.map((x) => x.state)).toEqual([
      'triggered',
      'initiated',
      'answered',
      'completed',
    ]);
    expect(track?.steps[2]?.sip_status).toBe(200);
    expect(track?.transfer.state).toBe('completed');
    expect(s.calls['c-1']?.end_reason).toBe('transferred');
    expect(s.history[0]?.transfer?.state).toBe('completed');
  });

  it('a refused REFER fails with the status and reason, and the caller is back', () => {
    const t = makeTransfer();
    const transferring: Call = { ...active, state: 'transferring', transfer: t };
    const failed = { ...t, state: 'failed' as const, sip_status: 405, reason: 'the far end does not support transfers (405)' };
    const s = run([
      ev('call.answered', { call: active }),
      ev('transfer.triggered', { call: transferring, transfer: t }),
      ev('transfer.initiated', { call: transferring, transfer: { ...t, state: 'initiated' } }),
      ev('transfer.failed', {
        call: { ...active, transfer: failed },
        transfer: failed,
        sip_status: 405,
        reason: 'the far end does not support transfers (405)',
      }),
      ev('call.resumed', { call: { ...active, transfer: failed } }),
    ]);
    const track = latestTransfer(s, 'c-1');
    expect(track?.steps.map((x) => x.state)).toEqual(['triggered', 'initiated', 'failed']);
    expect(track?.steps[2]).toMatchObject({
      sip_status: 405,
      reason: 'the far end does not support transfers (405)',
    });
    expect(s.calls['c-1']?.state).toBe('active');
  });

  it('a fallback attempt is a second track on the same call', () => {
    const t1 = makeTransfer({ state: 'failed', sip_status: 405, reason: 'no' });
    const t2 = makeTransfer({ id: 't-2', mode: 'anchored' });
    const t2failed = { ...t2, state: 'failed' as const, reason: 'anchored transfers need the media engine' };
    const s = run([
      ev('transfer.failed', { call: { ...active, transfer: t1 }, transfer: t1, sip_status: 405, reason: 'no' }),
      ev('transfer.triggered', { call: { ...active, state: 'transferring', transfer: t2 }, transfer: t2 }),
      ev('transfer.failed', {
        call: { ...active, transfer: t2failed },
        transfer: t2failed,
        sip_status: null,
        reason: 'anchored transfers need the media engine',
      }),
    ]);
    const tracks = s.transfers['c-1'] ?? [];
    expect(tracks.map((t) => [t.transfer.id, t.transfer.mode, t.transfer.state])).toEqual([
      ['t-1', 'cold', 'failed'],
      ['t-2', 'anchored', 'failed'],
    ]);
    expect(tracks[1]?.steps.at(-1)?.reason).toContain('media engine');
  });

  it('a failure without a reason gets plain words from the status', () => {
    const t = makeTransfer({ state: 'failed', sip_status: 486 });
    const s = run([
      ev('transfer.failed', { call: { ...active, transfer: t }, transfer: t, sip_status: 486, reason: '' }),
    ]);
    expect(latestTransfer(s, 'c-1')?.steps.at(-1)?.reason).toBe('the destination is busy (486)');
  });

  it('repeated events do not duplicate steps', () => {
    const t = makeTransfer();
    const call: Call = { ...active, state: 'transferring', transfer: t };
    const s = run([
      ev('transfer.triggered', { call, transfer: t }),
      ev('transfer.triggered', { call, transfer: t }),
    ]);
    expect(latestTransfer(s, 'c-1')?.steps).toHaveLength(1);
  });
});

describe('resync', () => {
  it('a snapshot drops calls that ended while disconnected and rebuilds transfer tracks', () => {
    const other = makeCall({ id: 'c-2' });
    let s = run([ev('call.incoming', { call: ringing }), ev('call.incoming', { call: other })]);
    const t = makeTransfer({ state: 'initiated' });
    s = reduce(s, {
      kind: 'snapshot',
      calls: [{ ...active, id: 'c-2', state: 'transferring', transfer: t }],
      now: NOW,
    });
    expect(Object.keys(s.calls)).toEqual(['c-2']);
    expect(latestTransfer(s, 'c-2')?.steps.map((x) => x.state)).toEqual(['triggered', 'initiated']);
  });

  it('trackFromTransfer reconstructs a failure', () => {
    const track = trackFromTransfer(makeTransfer({ state: 'failed', sip_status: 403, reason: null }));
    expect(track.steps.map((x) => x.state)).toEqual(['triggered', 'failed']);
    expect(track.steps[1]?.reason).toBe('the far end refused the transfer (403)');
  });

  it('counts lagged frames; connection status is kept', () => {
    let s = run([{ type: 'events.lagged', skipped: 12 }]);
    expect(s.lagged).toBe(1);
    s = reduce(s, { kind: 'connection', status: { state: 'open' } });
    expect(s.connection).toEqual({ state: 'open' });
  });
});

describe('accounts and totals', () => {
  it('keeps the last registration failure', () => {
    const account = { name: 'main', aor: 'sip:alice@pbx', registered: false, status: 403, expires_in: null };
    let s = run([ev('account.registration_failed', { account, reason: 'forbidden (403)' })]);
    expect(s.accounts.main?.last_error).toBe('forbidden (403)');
    const actions: Action[] = [{ kind: 'accounts', accounts: [{ ...account, registered: true, status: 200 }] }];
    s = actions.reduce(reduce, s);
    expect(s.accounts.main).toMatchObject({ registered: true, last_error: 'forbidden (403)' });
    s = run([ev('account.registered', { account: { ...account, registered: true } })], s);
    expect(s.accounts.main?.last_error).toBeNull();
  });

  it('totals live states and transfer outcomes', () => {
    const t = makeTransfer({ state: 'initiated' });
    const done = makeTransfer({ id: 't-9', state: 'completed' });
    let s = run([
      ev('call.incoming', { call: ringing }),
      ev('call.answered', { call: { ...active, id: 'c-2' } }),
      ev('transfer.initiated', { call: { ...active, id: 'c-3', state: 'transferring', transfer: t }, transfer: t }),
    ]);
    s = reduce(s, {
      kind: 'history',
      calls: [{ ...active, id: 'c-9', state: 'ended', started_at: new Date(NOW).toISOString(), transfer: done }],
    });
    const x = totals(s, NOW);
    expect(x).toMatchObject({
      live: 3,
      ringing: 1,
      active: 1,
      transferring: 1,
      transfersInFlight: 1,
      transfersCompleted: 1,
      transfersFailed: 0,
      handledToday: 1,
    });
  });
});

describe('media figures and anchored bridges', () => {
  const quality = {
    codec: 'PCMU/8000',
    packets_sent: 50,
    packets_received: 49,
    loss_percent: 2,
    jitter_ms: 3.5,
    rtt_ms: null,
    mos: 4.1,
  };

  it('call.stats brings the codec and the latest figures', () => {
    let s = run([ev('call.incoming', { call: ringing }), ev('call.answered', { call: active })]);
    expect(s.calls['c-1']?.quality).toBeNull();
    const withStats: Call = { ...active, codec: 'PCMU/8000', quality };
    s = run([ev('call.stats', { call: withStats, quality })], s);
    expect(s.calls['c-1']?.codec).toBe('PCMU/8000');
    expect(s.calls['c-1']?.quality?.mos).toBe(4.1);
  });

  it('names the other leg of a bridge from the panel, then the history, else by id', () => {
    const caller: Call = { ...active, bridged_with: 'c-2' };
    const leg: Call = makeCall({
      id: 'c-2',
      direction: 'outbound',
      state: 'active',
      remote_uri: 'sip:sales@127.0.0.1:5999',
      remote_display: null,
      bridged_with: 'c-1',
    });
    let s = run([ev('call.answered', { call: caller }), ev('call.answered', { call: leg })]);
    expect(bridgePartner(s, caller)).toEqual({ id: 'c-2', name: 'sales', live: true });
    expect(bridgePartner(s, leg)).toEqual({ id: 'c-1', name: 'Ada Caller', live: true });
    expect(bridgePartner(s, active)).toBeNull();
    // Not a bridge to itself (defensive: the model never says so).
    expect(bridgePartner(s, { id: 'c-1', bridged_with: 'c-1' })).toBeNull();

    const legEnded: Call = { ...leg, state: 'ended', ended_at: '2026-11-23T12:02:00.000Z', end_reason: 'remote_hangup' };
    s = run([ev('call.ended', { call: legEnded })], s);
    s = reduce(s, { kind: 'prune', now: NOW + 60_000, lingerMs: 1000 });
    expect(s.calls['c-2']).toBeUndefined();
    expect(bridgePartner(s, caller)).toEqual({ id: 'c-2', name: 'sales', live: false });
    expect(bridgePartner(initialState(), caller)).toEqual({ id: 'c-2', name: 'c-2', live: false });
  });

  it('the transfer log has live callers\' attempts and the history\'s, newest first, once each', () => {
    const failed = makeTransfer({ id: 't-1', state: 'failed', sip_status: 405, ended_at: '2026-11-23T12:00:30.000Z' });
    const anchored = makeTransfer({
      id: 't-2',
      mode: 'anchored',
      state: 'completed',
      started_at: '2026-11-23T12:00:31.000Z',
      ended_at: '2026-11-23T12:00:40.000Z',
    });
    const old = makeCall({
      id: 'c-0',
      state: 'ended',
      remote_display: 'Old Caller',
      transfer: makeTransfer({ id: 't-0', state: 'completed', ended_at: '2026-11-23T11:00:00.000Z' }),
    });
    let s = reduce(initialState(), { kind: 'history', calls: [old] });
    s = run(
      [
        ev('transfer.failed', { call: { ...active, transfer: failed }, transfer: failed, sip_status: 405, reason: 'nope' }),
        ev('transfer.completed', { call: { ...active, transfer: anchored }, transfer: anchored }),
      ],
      s,
    );
    expect(transferLog(s).map((e) => [e.transfer.id, e.transfer.state, e.party])).toEqual([
      ['t-2', 'completed', 'Ada Caller'],
      ['t-1', 'failed', 'Ada Caller'],
      ['t-0', 'completed', 'Old Caller'],
    ]);
  });
});

describe('sound devices', () => {
  const devices = [
    makeDevice('pulseaudio:mic', 'Desk Mic', 'input', { is_default_input: true }),
    makeDevice('pulseaudio:headset', 'USB Headset', 'output', { is_default_output: true }),
  ];

  it('starts unknown and takes GET /audio, then the device list with what is in use', () => {
    let s = initialState();
    expect(s.audio).toBeNull();
    expect(s.audioDevices).toBeNull();
    s = reduce(s, { kind: 'audio', audio: makeAudio({ enabled: false, input: null, output: null }) });
    expect(s.audio).toMatchObject({ enabled: false, input: null });
    s = reduce(s, { kind: 'audioDevices', devices, active: makeAudio() });
    expect(s.audio).toEqual(makeAudio());
    expect(s.audioDevices?.map((d) => d.name)).toEqual(['Desk Mic', 'USB Headset']);
  });

  it('audio.devices replaces the status (a switch, or the devices opened at start-up)', () => {
    let s = reduce(initialState(), { kind: 'audioDevices', devices, active: makeAudio() });
    s = run([ev('audio.devices', { audio: makeAudio({ ring: 'pulseaudio:bell' }) })], s);
    expect(s.audio?.ring).toBe('pulseaudio:bell');
    // The list stays as read.
    expect(s.audioDevices).toHaveLength(2);
  });

  it('audio.device_lost takes the fallback and keeps the lost device listed (for its name)', () => {
    let s = reduce(initialState(), { kind: 'audioDevices', devices, active: makeAudio() });
    s = run(
      [
        ev('audio.device_lost', {
          role: 'output',
          device: 'pulseaudio:headset',
          fell_back_to: null,
          audio: makeAudio({ output: null }),
        }),
      ],
      s,
    );
    expect(s.audio?.output).toBeNull();
    expect(s.audio?.input).toBe('pulseaudio:mic');
    expect(s.audioDevices?.some((d) => d.id === 'pulseaudio:headset')).toBe(true);
  });

  it('the same status twice changes nothing (no re-render)', () => {
    const s = reduce(initialState(), { kind: 'audio', audio: makeAudio() });
    expect(reduce(s, { kind: 'audio', audio: makeAudio() })).toBe(s);
    expect(run([ev('audio.devices', { audio: makeAudio() })], s).audio).toBe(s.audio);
    expect(reduce(s, { kind: 'audio', audio: makeAudio({ alerting: true }) }).audio?.alerting).toBe(true);
  });

  it('leaves the calls alone', () => {
    let s = run([ev('call.incoming', { call: ringing })]);
    const calls = s.calls;
    s = run([ev('audio.devices', { audio: makeAudio() })], s);
    expect(s.calls).toBe(calls);
  });
});
