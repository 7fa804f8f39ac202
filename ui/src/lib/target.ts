// Destination validation, the same rules as crates/console-core/src/target.rs (`Target::parse`),
// so the dialog can say what is wrong as the attendant types, before the server says 400.

/** A destination the console accepts, in canonical form. */
export type Target =
  | { kind: 'sip'; value: string }
  | { kind: 'tel'; value: string }
  | { kind: 'digits'; value: string };

/** The result of [`parseTarget`]. */
export type TargetResult = { ok: true; target: Target } | { ok: false; reason: string };

const SEPARATORS = ' -.()';
const HOST_CHARS = /^[A-Za-z0-9.\-:[\]_]+$/;

function strip(s: string): string {
  return [...s].filter((c) => !SEPARATORS.includes(c)).join('');
}

/** UTF-8 length, as Rust's `str::len`. */
function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Rust's `char::is_whitespace || char::is_control`, or an angle bracket. */
function badUriChar(c: string): boolean {
  return /[\s\p{Cc}<>]/u.test(c);
}

/**
 * Parses what an attendant typed: a `sip:`/`sips:` URI, `tel:+E164`, or dialable digits
 * (`0-9 * #`, optional leading `+`). Surrounding whitespace is ignored; visual separators
 * (` -.()`) inside numbers are removed.
 */
export function parseTarget(input: string): TargetResult {
  const bad = (reason: string): TargetResult => ({ ok: false, reason });
  const s = input.trim();
  if (s === '') return bad('empty destination');
  if (byteLength(s) > 512) return bad('longer than 512 characters');
  const lower = s.toLowerCase();
  if (lower.startsWith('sip:') || lower.startsWith('sips:')) {
    const rest = s.slice(s.indexOf(':') + 1);
    const at = rest.lastIndexOf('@');
    const hostPart = at >= 0 ? rest.slice(at + 1) : rest;
    const host = (hostPart.split(/[;?]/)[0] ?? '').replace(/^\[+/, '');
    if (host === '' || !HOST_CHARS.test(host)) return bad('the SIP URI has no valid host');
    if ([...s].some(badUriChar)) return bad('the SIP URI contains spaces or brackets');
    const scheme = lower.startsWith('sips:') ? 'sips:' : 'sip:';
    return { ok: true, target: { kind: 'sip', value: `${scheme}${rest}` } };
  }
  if (lower.startsWith('tel:')) {
    const number = strip(lower.slice(4).split(';')[0] ?? '');
    if (!number.startsWith('+')) return bad('a tel: number must be global, starting with +');
    const digits = number.slice(1);
    if (digits === '' || digits.length > 15 || !/^[0-9]+$/.test(digits)) {
      return bad('a tel: number must be + and 1 to 15 digits (E.164)');
    }
    return { ok: true, target: { kind: 'tel', value: `tel:+${digits}` } };
  }
  const digits = strip(s);
  const body = digits.startsWith('+') ? digits.slice(1) : digits;
  if (body === '' || body.length > 32) {
    return bad('expected sip:, sips:, tel:+E164 or 1 to 32 digits');
  }
  if (!/^[0-9*#]+$/.test(body)) {
    return bad('expected sip:, sips:, tel:+E164 or digits (0-9, *, #)');
  }
  return { ok: true, target: { kind: 'digits', value: digits } };
}

/** A short label for the kind of destination, shown next to the field. */
export function targetKindLabel(target: Target): string {
  switch (target.kind) {
    case 'sip':
      return target.value.toLowerCase().startsWith('sips:') ? 'SIPS URI' : 'SIP URI';
    case 'tel':
      return 'E.164 number';
    case 'digits':
      return 'Digits (via account)';
  }
}
