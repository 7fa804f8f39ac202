// The keyboard map. One table drives both the key handling and the help overlay, so the
// overlay can never list a shortcut that does not work (or miss one that does).

/** What a key does on the main screen. */
export type GlobalAction =
  | 'answer'
  | 'reject'
  | 'hangup'
  | 'transfer'
  | 'hold'
  | 'mute'
  | 'dtmf'
  | 'listen'
  | 'ladder'
  | 'next'
  | 'prev'
  | 'dial'
  | 'help'
  | 'view-calls'
  | 'view-history'
  | 'view-supervisor'
  | 'view-settings'
  | 'close';

/** What a key does inside the transfer dialog. */
export type DialogAction = 'mode-cold' | 'mode-anchored' | 'confirm' | 'cancel';

export interface Shortcut<A extends string> {
  /** `KeyboardEvent.key` values (lower case for letters). */
  keys: readonly string[];
  action: A;
  /** How the overlay shows the keys. */
  label: string;
  /** What it does, for the overlay and `aria-keyshortcuts` hints. */
  description: string;
}

export const GLOBAL_SHORTCUTS: readonly Shortcut<GlobalAction>[] = [
  { keys: ['a'], action: 'answer', label: 'A', description: 'Answer the selected ringing call' },
  { keys: ['r'], action: 'reject', label: 'R', description: 'Reject the selected ringing call' },
  { keys: ['h'], action: 'hangup', label: 'H', description: 'Hang up the selected call' },
  { keys: ['t'], action: 'transfer', label: 'T', description: 'Transfer the selected call' },
  { keys: ['o'], action: 'hold', label: 'O', description: 'Hold / resume the selected call' },
  { keys: ['m'], action: 'mute', label: 'M', description: 'Mute / unmute the selected call' },
  { keys: ['p'], action: 'dtmf', label: 'P', description: 'DTMF keypad for the selected call' },
  {
    keys: ['i'],
    action: 'listen',
    label: 'I',
    description: "Listen in / stop listening on the selected call's anchored bridge",
  },
  { keys: ['l'], action: 'ladder', label: 'L', description: 'SIP ladder of the selected call' },
  { keys: ['arrowdown', 'j'], action: 'next', label: '↓ / J', description: 'Select the next call' },
  { keys: ['arrowup', 'k'], action: 'prev', label: '↑ / K', description: 'Select the previous call' },
  { keys: ['d'], action: 'dial', label: 'D', description: 'Focus the dial field' },
  { keys: ['1'], action: 'view-calls', label: '1', description: 'Calls view' },
  { keys: ['2'], action: 'view-history', label: '2', description: 'History view' },
  { keys: ['3'], action: 'view-supervisor', label: '3', description: 'Supervisor view' },
  { keys: ['4'], action: 'view-settings', label: '4', description: 'Settings view' },
  { keys: ['?'], action: 'help', label: '?', description: 'Show / hide this help' },
  { keys: ['escape'], action: 'close', label: 'Esc', description: 'Close the open overlay' },
];

export const DIALOG_SHORTCUTS: readonly Shortcut<DialogAction>[] = [
  {
    keys: ['c'],
    action: 'mode-cold',
    label: 'C / Alt+C',
    description: 'Choose Cold transfer (REFER); Alt+C while typing',
  },
  {
    keys: ['n'],
    action: 'mode-anchored',
    label: 'N / Alt+N',
    description: 'Choose Anchored transfer; Alt+N while typing',
  },
  { keys: ['enter'], action: 'confirm', label: 'Enter', description: 'Start the transfer' },
  { keys: ['escape'], action: 'cancel', label: 'Esc', description: 'Cancel and close the dialog' },
];

/** The DTMF keypad's keys, phone layout (A-D in a fourth column, as on a 16-key pad). */
export const DTMF_KEYS: readonly string[] = [
  '1', '2', '3', 'A',
  '4', '5', '6', 'B',
  '7', '8', '9', 'C',
  '*', '0', '#', 'D',
];

/** What keys do while the DTMF keypad has focus (for the overlay; `dtmfDigit` maps them). */
export const KEYPAD_SHORTCUTS: readonly { label: string; description: string }[] = [
  { label: '0–9 * #', description: 'Send that tone to the call' },
  { label: 'A–D', description: 'Send tone A, B, C or D' },
  { label: 'Esc', description: 'Close the keypad, back to the DTMF button' },
];

/** What keys do in the SIP ladder (for the overlay; the rows are buttons, the dialog is modal). */
export const LADDER_SHORTCUTS: readonly { label: string; description: string }[] = [
  { label: 'Tab / Shift+Tab', description: 'Next / previous message' },
  { label: 'Enter / Space', description: 'Show or hide the whole message' },
  { label: 'Esc', description: 'Close the ladder' },
];

/** The parts of a `KeyboardEvent` the mapping looks at. */
export interface KeyInput {
  key: string;
  /** `KeyboardEvent.code` (physical key), used with Alt. */
  code?: string;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  /** Whether focus is in a text field (typing must not trigger letter shortcuts). */
  inTextField: boolean;
}

/** The main screen's action for a key press, or `null`. */
export function globalAction(input: KeyInput): GlobalAction | null {
  if (input.ctrlKey || input.metaKey || input.altKey) return null;
  const key = input.key.toLowerCase();
  // In a text field only Escape means something (leave the field).
  if (input.inTextField && key !== 'escape') return null;
  return GLOBAL_SHORTCUTS.find((s) => s.keys.includes(key))?.action ?? null;
}

/**
 * The transfer dialog's action for a key press, or `null`. Letters work bare outside text
 * fields and with Alt inside them. Enter is not mapped: it submits the dialog's form natively.
 */
export function dialogAction(input: KeyInput): DialogAction | null {
  if (input.ctrlKey || input.metaKey) return null;
  const key = input.key.toLowerCase();
  if (key === 'escape') return 'cancel';
  // Bare letters would be typed into a text field; there, Alt+letter does it.
  if (input.inTextField && !input.altKey) return null;
  // With Alt, `key` may be a composed character (Alt+C is "ç" on macOS): trust `code` then.
  const letter = input.altKey && input.code ? input.code.replace(/^Key/, '').toLowerCase() : key;
  if (letter === 'c') return 'mode-cold';
  if (letter === 'n') return 'mode-anchored';
  return null;
}

/**
 * The DTMF digit a key press sends while the keypad has focus, or `null`. Letters a-d count
 * (the keypad has no text field, so they cannot mean anything else there).
 */
export function dtmfDigit(input: KeyInput): string | null {
  if (input.ctrlKey || input.metaKey || input.altKey) return null;
  const key = input.key.length === 1 ? input.key.toUpperCase() : '';
  return DTMF_KEYS.includes(key) ? key : null;
}

/** Whether an element is a place where typing letters means text. */
export function isTextField(el: Element | null): boolean {
  if (!el) return false;
  if (el instanceof HTMLElementLike && (el as HTMLElement).isContentEditable) return true;
  const tag = el.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select') return true;
  if (tag !== 'input') return false;
  const type = (el.getAttribute('type') ?? 'text').toLowerCase();
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color'].includes(type);
}

// `HTMLElement` does not exist in the unit tests' Node environment.
const HTMLElementLike: { new (): object } =
  typeof HTMLElement === 'undefined' ? (class {} as { new (): object }) : HTMLElement;
