import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SipTraceEntry } from '../bindings/console';
import { ev, makeCall, makeTransfer } from '../state/fixtures';
import {
  Refresher,
  buildLadder,
  formatOffset,
  frameConcernsCall,
  ladderErrorText,
  ladderLanes,
  messageLabel,
  messageText,
  messageTone,
  otherLeg,
  parseInstant,
  reasonPhrase,
  sipfragOf,
  uriHostPort,
} from './ladder';

const PEER = '127.0.0.1:25090';

/** A trace entry; the start line and message follow from the method and status. */
function entry(
  at: string,
  direction: 'sent' | 'received',
  method: string,
  status: number | null = null,
  extra: Partial<SipTraceEntry> = {},
): SipTraceEntry {
  const reasons: Record<number, string> = { 100: 'Trying', 180: 'Ringing', 200: 'OK', 202: 'Accepted', 302: 'Moved Temporarily', 486: 'Busy Here' };
  const summary = status === null ? `${method} sip:service@127.0.0.1:25060 SIP/2.0` : `SIP/2.0 ${status} ${reasons[status] ?? ''}`.trim();
  return {
    at: `2026-12-02T03:50:${at}Z`,
    direction,
    transport: 'udp',
    remote: PEER,
    method,
    status,
    summary,
    cseq: `1 ${method}`,
    message: `${summary}\r\nCSeq: 1 ${method}\r\nContent-Length: 0\r\n\r\n`,
    ...extra,
  };
}

function notify(at: string, frag: string): SipTraceEntry {
  return entry(at, 'received', 'NOTIFY', null, {
    message:
      'NOTIFY sip:service@127.0.0.1:25060 SIP/2.0\r\nEvent: refer;id=1\r\n' +
      `Content-Type: message/sipfrag;version=2.0\r\nContent-Length: ${frag.length + 2}\r\n\r\n${frag}\r\n`,
  });
}

/** A cold transfer refused by the target with 486, as the console records it. */
const COLD_486 = [
  entry('26.532188671', 'received', 'INVITE'),
  entry('26.532663928', 'sent', 'INVITE', 100),
  entry('26.652710177', 'sent', 'INVITE', 180),
  entry('28.114709132', 'sent', 'INVITE', 200),
  entry('28.121424627', 'received', 'ACK'),
  entry('29.141215746', 'sent', 'REFER'),
  entry('29.142321150', 'received', 'REFER', 202),
  notify('29.142932880', 'SIP/2.0 100 Trying'),
  entry('29.143150523', 'sent', 'NOTIFY', 200),
  notify('29.143318373', 'SIP/2.0 486 Busy Here'),
];

describe('times', () => {
  it('parses RFC 3339 with nanoseconds, keeping the fraction of a millisecond', () => {
    expect(parseInstant('2026-12-02T03:50:26.532188671Z') - Date.parse('2026-12-02T03:50:26Z')).toBeCloseTo(532.188671, 3);
    expect(parseInstant('2026-12-02T03:50:26Z')).toBe(Date.parse('2026-12-02T03:50:26Z'));
    expect(parseInstant('2026-12-02T04:50:26.5+01:00')).toBe(Date.parse('2026-12-02T03:50:26.500Z'));
    expect(parseInstant('nonsense')).toBeNaN();
  });

  it('shows offsets in ms, in seconds from 10 s on', () => {
    expect(formatOffset(0)).toBe('+0 ms');
    expect(formatOffset(120.4)).toBe('+120 ms');
    expect(formatOffset(9999.4)).toBe('+9999 ms');
    expect(formatOffset(12345.6)).toBe('+12.346 s');
    expect(formatOffset(-3)).toBe('+0 ms');
  });
});

describe('labels and tones', () => {
  it('names requests by method and responses by status and method', () => {
    expect(messageLabel({ method: 'INVITE', status: null })).toBe('INVITE');
    expect(messageLabel({ method: 'INVITE', status: 180 })).toBe('180 INVITE');
    expect(reasonPhrase({ status: 486, summary: 'SIP/2.0 486 Busy Here' })).toBe('Busy Here');
    expect(reasonPhrase({ status: 200, summary: 'SIP/2.0 200' })).toBeNull();
    expect(reasonPhrase({ status: null, summary: 'BYE sip:x SIP/2.0' })).toBeNull();
  });

  it('colours ≥ 400 as failures, 2xx as success, 1xx provisional, requests and 3xx neutral', () => {
    expect([100, 180, 200, 202, 302, 404, 486, 503, 603, null].map((s) => messageTone(s))).toEqual([
      'provisional', 'provisional', 'ok', 'ok', 'neutral', 'fail', 'fail', 'fail', 'fail', 'neutral',
    ]);
    // A NOTIFY takes the tone of the status it reports.
    expect(messageTone(null, { status: 486, reason: 'Busy Here', line: 'SIP/2.0 486 Busy Here' })).toBe('fail');
    expect(messageTone(null, { status: 200, reason: 'OK', line: 'SIP/2.0 200 OK' })).toBe('ok');
  });
});

describe('sipfragOf', () => {
  it("reads the status line of a NOTIFY's sipfrag body", () => {
    expect(sipfragOf(notify('1', 'SIP/2.0 486 Busy Here'))).toEqual({ status: 486, reason: 'Busy Here', line: 'SIP/2.0 486 Busy Here' });
    expect(sipfragOf(notify('1', 'SIP/2.0 200 OK\r\nContact: <sip:x@y>'))).toMatchObject({ status: 200, reason: 'OK' });
    // LF-only messages too.
    expect(sipfragOf({ method: 'NOTIFY', status: null, message: 'NOTIFY sip:x SIP/2.0\nEvent: refer\n\nSIP/2.0 603 Declined\n' })).toMatchObject({ status: 603 });
  });

  it('ignores other messages, the NOTIFY responses and bodies that are not a status line', () => {
    expect(sipfragOf(entry('1', 'sent', 'NOTIFY', 200))).toBeNull();
    expect(sipfragOf(entry('1', 'received', 'INVITE'))).toBeNull();
    expect(sipfragOf({ method: 'NOTIFY', status: null, message: 'NOTIFY sip:x SIP/2.0\r\nEvent: dialog\r\n\r\n<xml/>' })).toBeNull();
    expect(sipfragOf({ method: 'NOTIFY', status: null, message: 'NOTIFY sip:x SIP/2.0\r\nContent-Length: 0' })).toBeNull();
  });
});

describe('buildLadder', () => {
  it('lays out a refused cold transfer: lanes, labels, details, tones, offsets', () => {
    const view = buildLadder({ messages: COLD_486, omitted: 0 });
    expect(view.lanes).toEqual([
      { id: 'console', label: 'This console' },
      { id: PEER, label: PEER },
    ]);
    expect(view.rows.map((r) => [r.offsetText, r.entry.direction, r.label, r.detail, r.tone])).toEqual([
      ['+0 ms', 'received', 'INVITE', null, 'neutral'],
      ['+0 ms', 'sent', '100 INVITE', 'Trying', 'provisional'],
      ['+121 ms', 'sent', '180 INVITE', 'Ringing', 'provisional'],
      ['+1583 ms', 'sent', '200 INVITE', 'OK', 'ok'],
      ['+1589 ms', 'received', 'ACK', null, 'neutral'],
      ['+2609 ms', 'sent', 'REFER', null, 'neutral'],
      ['+2610 ms', 'received', '202 REFER', 'Accepted', 'ok'],
      ['+2611 ms', 'received', 'NOTIFY', 'SIP/2.0 100 Trying', 'provisional'],
      ['+2611 ms', 'sent', '200 NOTIFY', 'OK', 'ok'],
      ['+2611 ms', 'received', 'NOTIFY', 'SIP/2.0 486 Busy Here', 'fail'],
    ]);
    expect(view.rows.every((r) => r.lane === 1)).toBe(true);
  });

  it('says each row in words for screen readers', () => {
    const spoken = buildLadder({ messages: COLD_486, omitted: 0 }).rows.map((r) => r.spoken);
    expect(spoken[0]).toBe('received INVITE at +0 ms');
    expect(spoken[2]).toBe('sent 180 Ringing for INVITE at +121 ms');
    expect(spoken[5]).toBe('sent REFER at +2609 ms');
    expect(spoken[9]).toBe('received NOTIFY reporting 486 Busy Here at +2611 ms');
  });

  it('gives each remote address a lane of its own, in order of appearance, and names it aloud', () => {
    const other = '10.0.0.9:5060';
    const view = buildLadder({
      messages: [
        entry('01.000', 'sent', 'INVITE', null, { remote: other }),
        entry('01.100', 'received', 'INVITE', 302, { remote: other }),
        entry('01.200', 'sent', 'INVITE'),
      ],
      omitted: 3,
    });
    expect(view.lanes.map((l) => l.id)).toEqual(['console', other, PEER]);
    expect(view.rows.map((r) => r.lane)).toEqual([1, 1, 2]);
    expect(view.rows[1]?.spoken).toBe('received 302 Moved Temporarily for INVITE from 10.0.0.9:5060 at +100 ms');
    expect(view.rows[2]?.spoken).toBe('sent INVITE to 127.0.0.1:25090 at +200 ms');
    expect(view.omitted).toBe(3);
  });

  it("names the lane at the call's peer's address after the peer", () => {
    const view = buildLadder({ messages: COLD_486, omitted: 0 }, { name: 'Ada Caller', uri: 'sip:ada@127.0.0.1:25090' });
    expect(view.lanes[1]?.label).toBe('Ada Caller · 127.0.0.1:25090');
    const elsewhere = buildLadder({ messages: COLD_486, omitted: 0 }, { name: 'Ada Caller', uri: 'sip:ada@10.0.0.1' });
    expect(elsewhere.lanes[1]?.label).toBe(PEER);
  });

  it('copes with no messages and unparsable times', () => {
    expect(buildLadder({ messages: [], omitted: 0 })).toEqual({ lanes: [{ id: 'console', label: 'This console' }], rows: [], omitted: 0 });
    const [row] = buildLadder({ messages: [{ ...entry('1', 'sent', 'BYE'), at: 'garbage' }], omitted: 0 }).rows;
    expect(row?.offsetText).toBe('+0 ms');
    expect(ladderLanes([])).toHaveLength(1);
  });

  it('gives the message as plain text with newlines', () => {
    expect(messageText({ message: 'BYE sip:x SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n' })).toBe('BYE sip:x SIP/2.0\nCSeq: 2 BYE\n');
  });
});

describe('uriHostPort', () => {
  it('reads host and port from SIP URIs, with the default ports', () => {
    expect(uriHostPort('sip:ada@10.0.0.2:5070;transport=udp')).toBe('10.0.0.2:5070');
    expect(uriHostPort('<sip:ada@10.0.0.2>')).toBe('10.0.0.2:5060');
    expect(uriHostPort('sips:ada@PBX.example.com')).toBe('pbx.example.com:5061');
    expect(uriHostPort('sip:10.0.0.3:5080')).toBe('10.0.0.3:5080');
    expect(uriHostPort('sip:ada@[::1]:5062')).toBe('[::1]:5062');
    expect(uriHostPort('tel:+15105550100')).toBeNull();
  });
});

describe('otherLeg', () => {
  it('is the bridged leg, else the anchored transfer target, never the call itself', () => {
    expect(otherLeg(makeCall({ bridged_with: 'c-2' }))).toBe('c-2');
    expect(otherLeg(makeCall({ transfer: makeTransfer({ mode: 'anchored', target_call_id: 'c-3' }) }))).toBe('c-3');
    expect(otherLeg(makeCall({ bridged_with: 'c-2', transfer: makeTransfer({ target_call_id: 'c-3' }) }))).toBe('c-2');
    expect(otherLeg(makeCall())).toBeNull();
    expect(otherLeg(makeCall({ id: 'c-1', bridged_with: 'c-1' }))).toBeNull();
  });
});

describe('frameConcernsCall', () => {
  it('is true for events about the call, except its media figures', () => {
    const call = makeCall({ id: 'c-1', state: 'active' });
    expect(frameConcernsCall(ev('call.answered', { call }), 'c-1')).toBe(true);
    expect(frameConcernsCall(ev('call.answered', { call }), 'c-2')).toBe(false);
    expect(frameConcernsCall(ev('call.stats', { call, quality: null } as never), 'c-1')).toBe(false);
    expect(frameConcernsCall({ type: 'events.lagged', skipped: 1 }, 'c-1')).toBe(false);
    // Events that name the call only by id count too.
    expect(frameConcernsCall({ ...ev('call.answered', { call }), call: undefined, call_id: 'c-1' } as never, 'c-1')).toBe(true);
  });
});

describe('Refresher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('re-reads once per burst of pokes, 250 ms after the last, and once more a second later', () => {
    const fetch = vi.fn();
    const r = new Refresher(fetch);
    r.poke();
    vi.advanceTimersByTime(200);
    r.poke();
    vi.advanceTimersByTime(200);
    r.poke();
    vi.advanceTimersByTime(249);
    expect(fetch).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fetch).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(fetch).toHaveBeenCalledTimes(2);
    // Nothing else happens without a poke: no polling.
    vi.advanceTimersByTime(60_000);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('a poke during the settle wait starts over; cancel forgets everything', () => {
    const fetch = vi.fn();
    const r = new Refresher(fetch, 250, 1000);
    r.poke();
    vi.advanceTimersByTime(250);
    expect(fetch).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(500);
    r.poke();
    vi.advanceTimersByTime(250);
    expect(fetch).toHaveBeenCalledTimes(2);
    r.cancel();
    vi.advanceTimersByTime(10_000);
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});

describe('ladderErrorText', () => {
  it('says plainly when the console let the call go', () => {
    expect(ladderErrorText('call_not_found', 'no call with id c-1')).toBe("The console no longer holds this call's SIP messages.");
    expect(ladderErrorText('unreachable', 'cannot reach the console')).toBe('The SIP messages could not be read: cannot reach the console');
  });
});
