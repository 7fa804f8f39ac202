// The DTMF action against a stand-in backend: digits go out in the order typed, one request at
// a time per call, and a refusal becomes a notice.
import { describe, expect, it } from 'vitest';
import { type Backend, BackendError } from '../backend';
import type { Call } from '../bindings/console';
import { Actions } from './actions';
import { makeCall } from './fixtures';
import { ConsoleStore } from './store.svelte';
import { UiState } from './ui.svelte';

/** A backend whose `sendDtmf` replies only when the test says so. */
function dtmfBackend() {
  const sent: string[] = [];
  const pending: { digits: string; resolve: (c: Call) => void; reject: (e: unknown) => void }[] = [];
  const backend = {
    sendDtmf(id: string, digits: string) {
      sent.push(`${id}:${digits}`);
      return new Promise<Call>((resolve, reject) => pending.push({ digits, resolve, reject }));
    },
  } as unknown as Backend;
  return { backend, sent, pending };
}

function setup() {
  const store = new ConsoleStore();
  const { backend, sent, pending } = dtmfBackend();
  store.backend = backend;
  const actions = new Actions(store, new UiState());
  return { store, actions, sent, pending };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('Actions.sendDtmf', () => {
  it('sends one request at a time per call, in the order typed', async () => {
    const { actions, sent, pending } = setup();
    const call = makeCall({ state: 'active' });
    const first = actions.sendDtmf('c-1', '1');
    const second = actions.sendDtmf('c-1', '2');
    const other = actions.sendDtmf('c-9', '9');
    await flush();
    // The other call's digit does not wait for this call's.
    expect(sent).toEqual(['c-1:1', 'c-9:9']);
    pending[0]?.resolve(call);
    expect(await first).toBe(true);
    await flush();
    expect(sent).toEqual(['c-1:1', 'c-9:9', 'c-1:2']);
    pending[2]?.resolve(call);
    pending[1]?.resolve({ ...call, id: 'c-9' });
    expect(await second).toBe(true);
    expect(await other).toBe(true);
  });

  it('turns a refusal into a notice and keeps going with the next digit', async () => {
    const { store, actions, sent, pending } = setup();
    const refused = actions.sendDtmf('c-1', '5');
    const next = actions.sendDtmf('c-1', '6');
    await flush();
    pending[0]?.reject(
      new BackendError({ code: 'wrong_state', message: 'the peer did not negotiate telephone-event' }, 409),
    );
    expect(await refused).toBe(false);
    expect(store.notices.map((n) => n.text)).toEqual(['DTMF: the peer did not negotiate telephone-event']);
    await flush();
    expect(sent).toEqual(['c-1:5', 'c-1:6']);
    pending[1]?.resolve(makeCall({ state: 'active' }));
    expect(await next).toBe(true);
  });

  it('opening the keypad selects its call', () => {
    const { actions } = setup();
    actions.openKeypad('c-3');
    expect(actions.ui.dtmfCallId).toBe('c-3');
    expect(actions.ui.selectedId).toBe('c-3');
  });
});
