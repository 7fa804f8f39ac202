import { describe, expect, it } from 'vitest';
import {
  DIALOG_SHORTCUTS,
  DTMF_KEYS,
  GLOBAL_SHORTCUTS,
  type KeyInput,
  dialogAction,
  dtmfDigit,
  globalAction,
} from './shortcuts';

const key = (k: string, extra: Partial<KeyInput> = {}): KeyInput => ({
  key: k,
  altKey: false,
  ctrlKey: false,
  metaKey: false,
  inTextField: false,
  ...extra,
});

describe('global shortcuts', () => {
  it.each([
    ['a', 'answer'],
    ['A', 'answer'],
    ['h', 'hangup'],
    ['t', 'transfer'],
    ['r', 'reject'],
    ['o', 'hold'],
    ['m', 'mute'],
    ['p', 'dtmf'],
    ['i', 'listen'],
    ['L', 'ladder'],
    ['ArrowDown', 'next'],
    ['j', 'next'],
    ['ArrowUp', 'prev'],
    ['k', 'prev'],
    ['?', 'help'],
    ['Escape', 'close'],
    ['1', 'view-calls'],
    ['4', 'view-settings'],
  ])('%s → %s', (k, action) => {
    expect(globalAction(key(k))).toBe(action);
  });

  it('ignores letters typed into a text field, but not Escape', () => {
    expect(globalAction(key('a', { inTextField: true }))).toBeNull();
    expect(globalAction(key('Escape', { inTextField: true }))).toBe('close');
  });

  it('leaves modified keys to the browser', () => {
    expect(globalAction(key('a', { ctrlKey: true }))).toBeNull();
    expect(globalAction(key('t', { metaKey: true }))).toBeNull();
    expect(globalAction(key('h', { altKey: true }))).toBeNull();
  });

  it('maps each key to one action only', () => {
    const keys = GLOBAL_SHORTCUTS.flatMap((s) => s.keys);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('dialog shortcuts', () => {
  it('C / N choose the mode outside text fields', () => {
    expect(dialogAction(key('c'))).toBe('mode-cold');
    expect(dialogAction(key('N'))).toBe('mode-anchored');
  });
  it('needs Alt in a text field, and reads the physical key then', () => {
    expect(dialogAction(key('c', { inTextField: true }))).toBeNull();
    expect(dialogAction(key('c', { inTextField: true, altKey: true, code: 'KeyC' }))).toBe(
      'mode-cold',
    );
    expect(dialogAction(key('ñ', { inTextField: true, altKey: true, code: 'KeyN' }))).toBe(
      'mode-anchored',
    );
  });
  it('Escape cancels anywhere; Enter is left to the form', () => {
    expect(dialogAction(key('Escape', { inTextField: true }))).toBe('cancel');
    expect(dialogAction(key('Enter'))).toBeNull();
  });
  it('lists every action in the overlay table', () => {
    expect(DIALOG_SHORTCUTS.map((s) => s.action).sort()).toEqual(
      ['cancel', 'confirm', 'mode-anchored', 'mode-cold'].sort(),
    );
  });
});

describe('DTMF keypad keys', () => {
  it('sends 0-9 * # and A-D (either case), nothing else', () => {
    for (const k of ['0', '5', '9', '*', '#', 'A', 'd']) {
      expect(dtmfDigit(key(k))).toBe(k.toUpperCase());
    }
    for (const k of ['e', 'h', 'Enter', 'Escape', 'F1', ' ', '+']) {
      expect(dtmfDigit(key(k))).toBeNull();
    }
  });
  it('leaves modified keys to the browser', () => {
    expect(dtmfDigit(key('5', { ctrlKey: true }))).toBeNull();
    expect(dtmfDigit(key('a', { altKey: true }))).toBeNull();
  });
  it('lays out 16 keys, each once', () => {
    expect(new Set(DTMF_KEYS).size).toBe(16);
  });
});
