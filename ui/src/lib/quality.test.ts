import { describe, expect, it } from 'vitest';
import type { CallQuality } from '../bindings/console';
import { callCodec, formatMs, mosBars, qualityFigures, qualityView, shortCodec } from './quality';

const q = (overrides: Partial<CallQuality> = {}): CallQuality => ({
  codec: 'PCMU/8000',
  packets_sent: 500,
  packets_received: 498,
  loss_percent: 0,
  jitter_ms: 2.2,
  rtt_ms: 1.3,
  mos: 4.31,
  ...overrides,
});

describe('mosBars', () => {
  it.each([
    [4.5, 4],
    [4.0, 4],
    [3.99, 3],
    [3.6, 3],
    [3.59, 2],
    [3.1, 2],
    [3.09, 1],
    [1.0, 1],
    [0.01, 1],
    [0, 0],
    [-1, 0],
    [Number.NaN, 0],
  ])('MOS %d → %d bars', (mos, bars) => {
    expect(mosBars(mos)).toBe(bars);
  });
});

describe('qualityView', () => {
  it('says so when nothing was measured yet', () => {
    expect(qualityView(null)).toEqual({
      bars: 0,
      tone: 'none',
      word: 'not measured yet',
      label: 'Call quality not measured yet',
    });
  });

  it('states the figures in words', () => {
    const v = qualityView(q());
    expect(v).toMatchObject({ bars: 4, tone: 'ok', word: 'good' });
    expect(v.label).toBe('Call quality good: MOS 4.3, loss 0.0 %, jitter 2 ms, RTT 1 ms');
  });

  it('grades down with the MOS', () => {
    expect(qualityView(q({ mos: 3.7 }))).toMatchObject({ bars: 3, tone: 'ok', word: 'fair' });
    expect(qualityView(q({ mos: 3.3, loss_percent: 4.25 })).label).toBe(
      'Call quality poor: MOS 3.3, loss 4.3 %, jitter 2 ms, RTT 1 ms',
    );
    expect(qualityView(q({ mos: 2.1 }))).toMatchObject({ bars: 1, tone: 'bad', word: 'bad' });
  });

  it('does not call a line without audio good', () => {
    const v = qualityView(q({ packets_received: 0, mos: 4.4, rtt_ms: null, jitter_ms: 0 }));
    expect(v).toMatchObject({ bars: 0, tone: 'bad', word: 'no audio received yet' });
    expect(v.label).toBe(
      'Call quality unknown, no audio received yet: MOS 4.4, loss 0.0 %, jitter 0 ms, RTT not measured yet',
    );
  });
});

describe('figures', () => {
  it('keeps sub-millisecond jitter visible', () => {
    expect(formatMs(0.3)).toBe('<1 ms');
    expect(formatMs(0)).toBe('0 ms');
    expect(formatMs(12.6)).toBe('13 ms');
  });
  it('says when there is no RTT yet', () => {
    expect(qualityFigures(q({ rtt_ms: null }))).toBe(
      'MOS 4.3, loss 0.0 %, jitter 2 ms, RTT not measured yet',
    );
  });
});

describe('codec', () => {
  it('shortens the codec to its name', () => {
    expect(shortCodec('PCMU/8000')).toBe('PCMU');
    expect(shortCodec('opus/48000/2')).toBe('opus');
    expect(shortCodec('G722')).toBe('G722');
    expect(shortCodec(null)).toBeNull();
    expect(shortCodec('')).toBeNull();
  });
  it('takes the codec from the figures until the call carries it', () => {
    expect(callCodec({ codec: 'PCMA/8000', quality: q() })).toBe('PCMA/8000');
    expect(callCodec({ codec: null, quality: q() })).toBe('PCMU/8000');
    expect(callCodec({ codec: null, quality: null })).toBeNull();
  });
});
