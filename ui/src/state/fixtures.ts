// Test data builders shared by the unit tests.

import type { AudioDevice, AudioStatus, Call, Event, Transfer } from '../bindings/console';

export function makeCall(overrides: Partial<Call> = {}): Call {
  return {
    id: 'c-1',
    direction: 'inbound',
    state: 'ringing',
    remote_uri: 'sip:ada@127.0.0.1:5061',
    remote_display: 'Ada Caller',
    local_uri: 'sip:service@127.0.0.1:5060',
    started_at: '2026-11-23T12:00:00.000Z',
    answered_at: null,
    ended_at: null,
    end_reason: null,
    sip_status: null,
    sip_call_id: '1-1@127.0.0.1',
    transfer: null,
    muted: false,
    held_by: null,
    codec: null,
    quality: null,
    bridged_with: null,
    listening: false,
    ...overrides,
  };
}

export function makeTransfer(overrides: Partial<Transfer> = {}): Transfer {
  return {
    id: 't-1',
    mode: 'cold',
    transfer_to: 'sip:bob@127.0.0.1:5070',
    state: 'triggered',
    sip_status: null,
    reason: null,
    play_dialtone: false,
    fallback_to_anchored: false,
    target_call_id: null,
    started_at: '2026-11-23T12:00:20.000Z',
    ended_at: null,
    ...overrides,
  };
}

export function makeAudio(overrides: Partial<AudioStatus> = {}): AudioStatus {
  return {
    enabled: true,
    headless: false,
    input: 'pulseaudio:mic',
    output: 'pulseaudio:headset',
    ring: null,
    alerting: false,
    ...overrides,
  };
}

/** A sound device; `kind` says whether it records, plays or both. */
export function makeDevice(
  id: string,
  name: string,
  kind: 'input' | 'output' | 'both',
  overrides: Partial<AudioDevice> = {},
): AudioDevice {
  return {
    id,
    name,
    is_input: kind !== 'output',
    is_output: kind !== 'input',
    is_default_input: false,
    is_default_output: false,
    ...overrides,
  };
}

let clock = Date.parse('2026-11-23T12:00:00.000Z');

/** An event frame at a strictly increasing time. */
export function ev<T extends Event['type']>(
  type: T,
  payload: Omit<Extract<Event, { type: T }>, 'type' | 'at' | 'call_id'>,
): Event {
  clock += 100;
  const call = (payload as { call?: Call }).call;
  return {
    type,
    at: new Date(clock).toISOString(),
    call_id: call ? call.id : null,
    ...payload,
  } as unknown as Event;
}
