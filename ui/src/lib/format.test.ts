import { describe, expect, it } from 'vitest';
import type { Call } from '../bindings/console';
import { callDuration, formatDuration, partyName, shortUri, sipStatusWords } from './format';
import { makeCall } from '../state/fixtures';

describe('formatDuration', () => {
  it.each([
    [0, '0:00'],
    [999, '0:00'],
    [1000, '0:01'],
    [59_999, '0:59'],
    [60_000, '1:00'],
    [754_000, '12:34'],
    [3_600_000, '1:00:00'],
    [3_723_000, '1:02:03'],
    [36_000_000 + 59_000, '10:00:59'],
    [-5000, '0:00'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('callDuration', () => {
  const base: Call = makeCall({ started_at: '2026-11-23T12:00:00.000Z' });
  const now = Date.parse('2026-11-23T12:01:30.000Z');

  it('counts ringing time before the answer', () => {
    expect(callDuration(base, now)).toBe(90_000);
  });
  it('counts talk time from the answer', () => {
    expect(callDuration({ ...base, answered_at: '2026-11-23T12:00:10.000Z' }, now)).toBe(80_000);
  });
  it('freezes at the end', () => {
    const ended = {
      ...base,
      answered_at: '2026-11-23T12:00:10.000Z',
      ended_at: '2026-11-23T12:00:40.000Z',
    };
    expect(callDuration(ended, now)).toBe(30_000);
  });
  it('never goes negative on clock skew', () => {
    expect(callDuration(base, Date.parse('2026-11-23T11:59:00.000Z'))).toBe(0);
  });
});

describe('parties', () => {
  it('prefers the display name', () => {
    expect(partyName({ remote_display: 'Ada Caller', remote_uri: 'sip:ada@h' })).toBe('Ada Caller');
  });
  it('falls back to the user part', () => {
    expect(partyName({ remote_display: ' ', remote_uri: 'sip:ada@10.0.0.1:5060;transport=udp' })).toBe(
      'ada',
    );
    expect(partyName({ remote_display: null, remote_uri: 'tel:+15105550100' })).toBe('+15105550100');
  });
  it('shortens URIs', () => {
    expect(shortUri('sips:bob@example.com;transport=tls')).toBe('bob@example.com');
  });
});

describe('sipStatusWords', () => {
  it('words known statuses with the code', () => {
    expect(sipStatusWords(403)).toBe('the far end refused the transfer (403)');
    expect(sipStatusWords(486)).toBe('the destination is busy (486)');
    expect(sipStatusWords(499)).toBe('the far end rejected the transfer (499)');
    expect(sipStatusWords(null)).toBe('no final answer');
  });
});
