import { describe, expect, it } from 'vitest';
import { makeCall } from '../state/fixtures';
import { listenLabel, listenOffered } from './listen';

const partner = { id: 'c-2', name: 'service', live: true };

describe('listen-in', () => {
  it('is offered on a live call bridged with a live leg only', () => {
    expect(listenOffered(makeCall({ state: 'active' }), partner)).toBe(true);
    expect(listenOffered(makeCall({ state: 'held' }), partner)).toBe(true);
    expect(listenOffered(makeCall({ state: 'active' }), null)).toBe(false);
    expect(listenOffered(makeCall({ state: 'active' }), { ...partner, live: false })).toBe(false);
    expect(listenOffered(makeCall({ state: 'ended' }), partner)).toBe(false);
  });

  it('names both parties and what a press does', () => {
    expect(listenLabel(makeCall({ listening: false }), partner)).toBe('Listen in on the bridge of Ada Caller and service');
    expect(listenLabel(makeCall({ listening: true }), partner)).toBe('Stop listening to the bridge of Ada Caller and service');
    expect(listenLabel(makeCall({ remote_display: null, remote_uri: 'sip:bob@10.0.0.2' }), partner)).toBe(
      'Listen in on the bridge of bob and service',
    );
  });
});
