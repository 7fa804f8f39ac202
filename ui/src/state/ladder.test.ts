// Contacts and the SIP ladder through the store and the actions, against a stand-in backend:
// resync reads the contacts (a console without them is no error), events reach frame
// listeners, the ladder is read or its absence said in plain words, listen-in toggles.
import { describe, expect, it } from 'vitest';
import { type Backend, BackendError, type ConsoleFrame, type StreamHandlers } from '../backend';
import type { Call, Contact, SipLadder } from '../bindings/console';
import { Actions } from './actions';
import { ev, makeCall } from './fixtures';
import { ConsoleStore } from './store.svelte';
import { UiState } from './ui.svelte';

const contacts: Contact[] = [{ name: 'Sales', uri: 'sip:sales@pbx.example.com', note: '2nd floor' }];
const ladder: SipLadder = { call_id: 'c-1', sip_call_id: '1-1@h', messages: [], omitted: 0 };

function setup(overrides: Record<string, unknown> = {}) {
  let handlers: StreamHandlers | null = null;
  const log: string[] = [];
  const backend = {
    kind: 'http',
    listCalls: async () => [],
    history: async () => [],
    accounts: async () => [],
    audio: async () => ({ enabled: false, headless: true, input: null, output: null, ring: null, alerting: false }),
    contacts: async () => {
      log.push('contacts');
      return contacts;
    },
    ladder: async (id: string) => {
      log.push(`ladder ${id}`);
      return { ...ladder, call_id: id };
    },
    listen: async (id: string) => {
      log.push(`listen ${id}`);
      return makeCall({ id, state: 'active', listening: true });
    },
    unlisten: async (id: string) => {
      log.push(`unlisten ${id}`);
      return makeCall({ id, state: 'active', listening: false });
    },
    subscribe(h: StreamHandlers) {
      handlers = h;
      return () => undefined;
    },
    ...overrides,
  } as unknown as Backend;
  const store = new ConsoleStore();
  const stop = store.connect(backend);
  const ui = new UiState();
  const actions = new Actions(store, ui);
  return { store, ui, actions, log, stop, handlers: () => handlers as unknown as StreamHandlers };
}

describe('contacts', () => {
  it('resync reads them into the state', async () => {
    const t = setup();
    await t.store.resync();
    expect(t.log).toContain('contacts');
    expect(t.store.state.contacts).toEqual(contacts);
    expect(t.store.notices).toEqual([]);
    t.stop();
  });

  it('a console without contacts (404, or no such command) leaves them empty, without a notice', async () => {
    const t = setup({
      contacts: async () => {
        throw new BackendError({ code: 'http_404', message: 'not found' }, 404);
      },
    });
    await t.store.resync();
    expect(t.store.state.contacts).toEqual([]);
    expect(t.store.notices).toEqual([]);
    t.stop();
    const u = setup({ contacts: undefined });
    await u.store.resync();
    expect(u.store.state.contacts).toEqual([]);
    expect(u.store.notices).toEqual([]);
    u.stop();
  });
});

describe('frame listeners', () => {
  it('get every event after it is applied, until they unsubscribe', () => {
    const t = setup();
    const seen: string[] = [];
    let stateWhenSeen: Call | undefined;
    const unsubscribe = t.store.subscribeFrames((f: ConsoleFrame) => {
      seen.push(f.type);
      stateWhenSeen = t.store.state.calls['c-1'];
    });
    t.handlers().onEvent(ev('call.incoming', { call: makeCall() }));
    expect(seen).toEqual(['call.incoming']);
    expect(stateWhenSeen?.id).toBe('c-1');
    unsubscribe();
    t.handlers().onEvent(ev('call.ended', { call: makeCall({ state: 'ended' }) }));
    expect(seen).toEqual(['call.incoming']);
    t.stop();
  });
});

describe('SIP ladder actions', () => {
  it('opening a ladder closes the DTMF keypad; loading gives the ladder', async () => {
    const t = setup();
    t.ui.dtmfCallId = 'c-1';
    t.actions.openLadder('c-2');
    expect(t.ui.ladderCallId).toBe('c-2');
    expect(t.ui.dtmfCallId).toBeNull();
    expect(await t.actions.loadLadder('c-2')).toEqual({ ladder: { ...ladder, call_id: 'c-2' } });
    t.stop();
  });

  it("says plainly when the console no longer holds the call's messages", async () => {
    const t = setup({
      ladder: async () => {
        throw new BackendError({ code: 'call_not_found', message: 'no call with id c-9' }, 404);
      },
    });
    expect(await t.actions.loadLadder('c-9')).toEqual({ error: "The console no longer holds this call's SIP messages." });
    // Not a notice: the ladder says it where it is looked for.
    expect(t.store.notices).toEqual([]);
    t.stop();
  });
});

describe('listen-in', () => {
  it('toggles by the call’s listening flag and folds the reply in', async () => {
    const t = setup();
    await t.actions.toggleListen(makeCall({ id: 'c-1', state: 'active', listening: false }));
    expect(t.store.state.calls['c-1']?.listening).toBe(true);
    await t.actions.toggleListen(makeCall({ id: 'c-1', state: 'active', listening: true }));
    expect(t.log.filter((l) => l.includes('listen'))).toEqual(['listen c-1', 'unlisten c-1']);
    expect(t.store.state.calls['c-1']?.listening).toBe(false);
    t.stop();
  });
});
