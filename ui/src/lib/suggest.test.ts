import { describe, expect, it } from 'vitest';
import type { Contact } from '../bindings/console';
import { makeCall, makeTransfer } from '../state/fixtures';
import { contactRank, contactText, historyDestinations, suggestDestinations } from './suggest';

const sales: Contact = { name: 'Sales', uri: 'sip:sales@pbx.example.com', note: '2nd floor' };
const support: Contact = { name: 'Tech Support', uri: 'tel:+15105550100', note: null };
const ada: Contact = { name: 'Dr. Ada Lovelace', uri: 'sip:ada@10.0.0.7', note: 'Research' };
const contacts = [sales, support, ada];

describe('contactRank', () => {
  it('prefers the name, then a word of it, then inside it, then the note, then the URI', () => {
    expect(contactRank(sales, 'sa')).toBe(0);
    expect(contactRank(support, 'sup')).toBe(1);
    expect(contactRank(ada, 'love')).toBe(1);
    expect(contactRank(ada, 'velace')).toBe(2);
    expect(contactRank(sales, 'floor')).toBe(3);
    expect(contactRank(support, '555')).toBe(4);
    expect(contactRank(sales, 'pbx.example')).toBe(4);
    expect(contactRank(sales, 'zzz')).toBeNull();
  });

  it('ignores case and surrounding spaces; an empty query matches all', () => {
    expect(contactRank(sales, '  SAL ')).toBe(0);
    expect(contactRank(sales, '')).toBe(0);
    expect(contactRank(support, '   ')).toBe(0);
  });
});

describe('suggestDestinations', () => {
  const history = ['sip:bob@10.0.0.2', 'sip:sales@pbx.example.com', 'tel:+4930123456', 'sip:ada-desk@10.0.0.9'];

  it('lists contacts first (file order) then history when nothing is typed', () => {
    const s = suggestDestinations('', contacts, history, 10);
    expect(s.map((x) => `${x.kind}:${x.value}`)).toEqual([
      'contact:sip:sales@pbx.example.com',
      'contact:tel:+15105550100',
      'contact:sip:ada@10.0.0.7',
      'recent:sip:bob@10.0.0.2',
      // sales@ is a contact already: not repeated from the history.
      'recent:tel:+4930123456',
      'recent:sip:ada-desk@10.0.0.9',
    ]);
  });

  it('shows a contact as "Name — short URI" and names it fully for screen readers', () => {
    const [first] = suggestDestinations('sal', contacts, history);
    expect(first).toMatchObject({
      kind: 'contact',
      value: 'sip:sales@pbx.example.com',
      text: 'Sales — sales@pbx.example.com',
      label: 'Use contact Sales, sip:sales@pbx.example.com, 2nd floor',
    });
    expect(contactText(support)).toBe('Tech Support — +15105550100');
  });

  it('matches by name, note or URI, best match first, then the matching history', () => {
    expect(suggestDestinations('ada', contacts, history).map((s) => s.value)).toEqual([
      'sip:ada@10.0.0.7',
      'sip:ada-desk@10.0.0.9',
    ]);
    expect(suggestDestinations('research', contacts, history).map((s) => s.value)).toEqual(['sip:ada@10.0.0.7']);
    expect(suggestDestinations('+1510', contacts, history).map((s) => s.value)).toEqual(['tel:+15105550100']);
    // A name-prefix match beats an earlier contact matching only by its URI.
    const byUri: Contact = { name: 'Front desk', uri: 'sip:tech@10.0.0.3', note: null };
    expect(suggestDestinations('tech', [byUri, support], []).map((s) => s.contact?.name)).toEqual([
      'Tech Support',
      'Front desk',
    ]);
  });

  it('does not suggest back what is typed exactly, and keeps to the limit', () => {
    expect(suggestDestinations('sip:sales@pbx.example.com', contacts, history)).toEqual([]);
    expect(suggestDestinations('sip:bob@10.0.0.2', [], history)).toEqual([]);
    expect(suggestDestinations('', contacts, history, 2)).toHaveLength(2);
  });

  it('lists each URI once even when two contacts share it', () => {
    const twin: Contact = { name: 'Sales (old)', uri: sales.uri, note: null };
    expect(suggestDestinations('sales', [sales, twin], history).map((s) => s.value)).toEqual([sales.uri]);
  });
});

describe('historyDestinations', () => {
  it('puts transfer targets and dialled numbers before callers, each once', () => {
    const history = [
      makeCall({ id: 'c-1', remote_uri: 'sip:caller1@h' }),
      makeCall({ id: 'c-2', direction: 'outbound', remote_uri: 'sip:dialled@h' }),
      makeCall({ id: 'c-3', remote_uri: 'sip:caller2@h', transfer: makeTransfer({ transfer_to: 'sip:target@h' }) }),
      makeCall({ id: 'c-4', remote_uri: 'sip:caller1@h' }),
    ];
    expect(historyDestinations(history)).toEqual(['sip:dialled@h', 'sip:target@h', 'sip:caller1@h', 'sip:caller2@h']);
    expect(historyDestinations(history, 2)).toEqual(['sip:dialled@h', 'sip:target@h']);
  });
});
