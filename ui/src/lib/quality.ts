// Media quality in words and bars: the console reports figures (MOS, loss, jitter, RTT) about
// once a second; attendants need a glance (bars) and screen readers need the figures.

import type { Call, CallQuality } from '../bindings/console';

/** How many bars (0-4) a call's quality earns. */
export type Bars = 0 | 1 | 2 | 3 | 4;

/**
 * MOS needed for each bar count, best first. Toll quality G.711 tops out near 4.4; below 3.6
 * people start to notice, below 3.1 many complain (the usual E-model bands, G.107 Annex B).
 */
export const MOS_BARS: readonly { bars: Bars; min: number; word: string }[] = [
  { bars: 4, min: 4.0, word: 'good' },
  { bars: 3, min: 3.6, word: 'fair' },
  { bars: 2, min: 3.1, word: 'poor' },
  { bars: 1, min: 0, word: 'bad' },
];

/** Bars for a MOS estimate: ≥ 4.0 four, ≥ 3.6 three, ≥ 3.1 two, > 0 one, else none. */
export function mosBars(mos: number): Bars {
  // Also false for NaN: no estimate, no bars.
  if (!(mos > 0)) return 0;
  return MOS_BARS.find((b) => mos >= b.min)?.bars ?? 1;
}

/** What the quality indicator shows: bars, a tone for the colour, and the figures in words. */
export interface QualityView {
  bars: Bars;
  /** `ok` | `warn` | `bad` for colour, `none` while there is nothing to judge. */
  tone: 'ok' | 'warn' | 'bad' | 'none';
  /** One word or phrase: good, fair, poor, bad, no audio received yet, not measured yet. */
  word: string;
  /** The whole sentence, for `aria-label` and `title`. */
  label: string;
}

/** The quality indicator for a call's latest figures (`null`: no report yet). */
export function qualityView(q: CallQuality | null): QualityView {
  if (!q) {
    return { bars: 0, tone: 'none', word: 'not measured yet', label: 'Call quality not measured yet' };
  }
  const figures = qualityFigures(q);
  // The MOS estimate assumes audio arrives; with none, it would read "good" on a dead line.
  if (q.packets_received === 0) {
    return {
      bars: 0,
      tone: 'bad',
      word: 'no audio received yet',
      label: `Call quality unknown, no audio received yet: ${figures}`,
    };
  }
  const bars = mosBars(q.mos);
  const word = MOS_BARS.find((b) => b.bars === bars)?.word ?? 'bad';
  const tone = bars >= 3 ? 'ok' : bars === 2 ? 'warn' : 'bad';
  return { bars, tone, word, label: `Call quality ${word}: ${figures}` };
}

/** "MOS 4.3, loss 0.0 %, jitter 2 ms, RTT 1 ms" (RTT "not measured yet" until RTCP gives one). */
export function qualityFigures(q: CallQuality): string {
  const rtt = q.rtt_ms === null ? 'RTT not measured yet' : `RTT ${formatMs(q.rtt_ms)}`;
  return `MOS ${formatMos(q.mos)}, loss ${formatLoss(q.loss_percent)}, jitter ${formatMs(q.jitter_ms)}, ${rtt}`;
}

export function formatMos(mos: number): string {
  return mos.toFixed(1);
}

export function formatLoss(percent: number): string {
  return `${percent.toFixed(1)} %`;
}

/** Whole milliseconds; under 1 ms as "<1 ms" so a tiny jitter does not read as none at all. */
export function formatMs(ms: number): string {
  if (ms > 0 && ms < 0.5) return '<1 ms';
  return `${Math.round(ms)} ms`;
}

/** `PCMU/8000` → `PCMU`, `opus/48000/2` → `opus`: the name an attendant knows. */
export function shortCodec(codec: string | null | undefined): string | null {
  const name = codec?.split('/')[0]?.trim();
  return name ? name : null;
}

/** The call's codec, from the call or (before the call carries it) from its latest figures. */
export function callCodec(call: Pick<Call, 'codec' | 'quality'>): string | null {
  return call.codec ?? call.quality?.codec ?? null;
}
