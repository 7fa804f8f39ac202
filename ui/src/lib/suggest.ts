// Destination suggestions for the transfer dialog and the dial pad: the config file's contacts
// first (matching name, note or URI as typed), then destinations from the call history.

import type { Call, Contact } from '../bindings/console';
import { shortUri } from './format';

/** One suggested destination. */
export interface Suggestion {
  /** What goes into the field (the contact's or the history's URI). */
  value: string;
  kind: 'contact' | 'recent';
  /** What the chip shows: "Sales — sales@pbx.example.com", or the short URI for history. */
  text: string;
  /** The accessible name: "Use contact Sales, sip:sales@pbx.example.com, 2nd floor". */
  label: string;
  /** The contact, for `kind: 'contact'`. */
  contact: Contact | null;
}

/**
 * Destinations worth suggesting from the history, most useful first: transfer targets and
 * numbers dialled out, then anyone who called. Each once, at most `limit`.
 */
export function historyDestinations(history: readonly Call[], limit = 30): string[] {
  const seen = new Set<string>();
  for (const c of history) {
    if (c.transfer) seen.add(c.transfer.transfer_to);
    if (c.direction === 'outbound') seen.add(c.remote_uri);
  }
  for (const c of history) seen.add(c.remote_uri);
  return [...seen].slice(0, limit);
}

/**
 * How well a contact matches what was typed, lower is better; `null` when it does not match.
 * 0: the name starts with it; 1: a word of the name does; 2: the name contains it; 3: the note
 * does; 4: the URI does (as typed, or without its scheme). An empty query matches every
 * contact equally (file order).
 */
export function contactRank(contact: Contact, query: string): number | null {
  const q = query.trim().toLowerCase();
  if (!q) return 0;
  const name = contact.name.toLowerCase();
  if (name.startsWith(q)) return 0;
  if (name.split(/[\s\-_.,/()]+/).some((word) => word.startsWith(q))) return 1;
  if (name.includes(q)) return 2;
  if (contact.note?.toLowerCase().includes(q)) return 3;
  const uri = contact.uri.toLowerCase();
  if (uri.includes(q) || shortUri(uri).includes(q)) return 4;
  return null;
}

/** "Sales — sales@pbx.example.com" for a chip (the full URI is in the accessible name). */
export function contactText(contact: Contact): string {
  return `${contact.name} — ${shortUri(contact.uri)}`;
}

/**
 * The suggestions for what is typed: matching contacts first (best match first, then in file
 * order), then matching history destinations that are not a contact's URI already. What is
 * typed exactly is not suggested back. At most `limit`.
 */
export function suggestDestinations(
  query: string,
  contacts: readonly Contact[],
  history: readonly string[],
  limit = 6,
): Suggestion[] {
  const typed = query.trim();
  const q = typed.toLowerCase();
  const out: Suggestion[] = [];
  const taken = new Set<string>();
  const ranked = contacts
    .map((contact, index) => ({ contact, index, rank: contactRank(contact, q) }))
    .filter((c): c is { contact: Contact; index: number; rank: number } => c.rank !== null)
    .sort((a, b) => a.rank - b.rank || a.index - b.index);
  for (const { contact } of ranked) {
    if (taken.has(contact.uri)) continue;
    taken.add(contact.uri);
    if (contact.uri === typed) continue;
    out.push({
      value: contact.uri,
      kind: 'contact',
      text: contactText(contact),
      label: `Use contact ${contact.name}, ${contact.uri}${contact.note ? `, ${contact.note}` : ''}`,
      contact,
    });
  }
  // A contact's URI typed exactly still hides that URI from the history part.
  for (const c of contacts) taken.add(c.uri);
  for (const value of history) {
    if (taken.has(value) || value === typed) continue;
    if (q && !value.toLowerCase().includes(q)) continue;
    taken.add(value);
    out.push({ value, kind: 'recent', text: shortUri(value), label: `Use recent destination ${value}`, contact: null });
  }
  return out.slice(0, limit);
}
