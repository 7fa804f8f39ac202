import { describe, expect, it } from 'vitest';
import { parseTarget, targetKindLabel } from './target';

// The same cases as crates/console-core/src/target.rs's tests, plus a few edges.
describe('parseTarget', () => {
  it('accepts the three kinds, canonicalised', () => {
    expect(parseTarget('sip:sales@pbx.example.com')).toEqual({
      ok: true,
      target: { kind: 'sip', value: 'sip:sales@pbx.example.com' },
    });
    expect(parseTarget(' tel:+1 (510) 555-0100 ')).toEqual({
      ok: true,
      target: { kind: 'tel', value: 'tel:+15105550100' },
    });
    expect(parseTarget('1001')).toEqual({ ok: true, target: { kind: 'digits', value: '1001' } });
    expect(parseTarget('sip:127.0.0.1:5099')).toEqual({
      ok: true,
      target: { kind: 'sip', value: 'sip:127.0.0.1:5099' },
    });
  });

  it('keeps the URI as typed but lower-cases the scheme', () => {
    expect(parseTarget('SIPS:Bob@Example.com;transport=tls')).toEqual({
      ok: true,
      target: { kind: 'sip', value: 'sips:Bob@Example.com;transport=tls' },
    });
    expect(parseTarget('sip:[::1]:5060')).toMatchObject({ ok: true });
  });

  it('accepts digits with separators, * and #, and a leading +', () => {
    expect(parseTarget('+1 510-555.0100')).toEqual({
      ok: true,
      target: { kind: 'digits', value: '+15105550100' },
    });
    expect(parseTarget('*72#')).toMatchObject({ ok: true, target: { value: '*72#' } });
  });

  it.each([
    ['', 'empty destination'],
    ['not a uri!', 'digits'],
    ['tel:15105550100', 'global'],
    ['tel:+', 'E.164'],
    ['tel:+1234567890123456', 'E.164'],
    ['sip:', 'host'],
    ['sip:a@', 'host'],
    ['http://x', 'digits'],
    ['12a4', 'digits'],
    ['sip:a b@c', 'spaces'],
    ['sip:<a@b>', 'host'],
    ['sip:a@b>', 'host'],
    ['+', '1 to 32 digits'],
    ['1'.repeat(33), '1 to 32 digits'],
    [`sip:${'a'.repeat(520)}@b`, '512'],
  ])('rejects %j with a reason', (input, fragment) => {
    const result = parseTarget(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(fragment);
  });

  it('labels kinds', () => {
    const label = (s: string) => {
      const r = parseTarget(s);
      return r.ok ? targetKindLabel(r.target) : null;
    };
    expect(label('sip:a@b')).toBe('SIP URI');
    expect(label('sips:a@b')).toBe('SIPS URI');
    expect(label('tel:+1')).toBe('E.164 number');
    expect(label('100')).toBe('Digits (via account)');
  });
});
