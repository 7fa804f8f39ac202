// The attendant's sound devices in words: which devices fit a role, what a device is called,
// why the pickers are off, what a failed switch means and what a lost device leaves behind.
// Plain functions over the generated types, so they are tested without a DOM.

import type { AudioDevice, AudioRole, AudioStatus, EventBody } from '../bindings/console';
import { BackendError } from '../backend';

/** The `audio.device_lost` event's body. */
export type DeviceLost = Extract<EventBody, { type: 'audio.device_lost' }>;

/** What each role is called on screen: the picker's label and in sentences. */
export const ROLE_LABEL: Record<AudioRole, string> = {
  input: 'Microphone',
  output: 'Headset / speaker',
  ring: 'Ring device',
};

const ROLE_NOUN: Record<AudioRole, string> = {
  input: 'Microphone',
  output: 'Headset',
  ring: 'Ring device',
};

/** The devices a role can use: microphones for `input`, playing devices for the others. */
export function devicesFor(devices: readonly AudioDevice[], role: AudioRole): AudioDevice[] {
  return devices.filter((d) => (role === 'input' ? d.is_input : d.is_output));
}

/** Whether `device` is the system's default for `role` (the ring device plays: output). */
export function isDefaultFor(device: AudioDevice, role: AudioRole): boolean {
  return role === 'input' ? device.is_default_input : device.is_default_output;
}

/** The device a role uses now, by id; `null` for none (for `ring`: the headset rings). */
export function activeId(status: AudioStatus, role: AudioRole): string | null {
  return status[role];
}

/**
 * A device's name as people read it: from the list when it is there (with its short id when
 * another device in the list has the same name: "Null Output (bell)"), else the short id.
 */
export function deviceName(id: string, devices: readonly AudioDevice[] | null): string {
  const known = devices?.find((d) => d.id === id);
  if (!known?.name) return shortId(id);
  const twin = devices?.some((d) => d.id !== id && d.name === known.name);
  return twin ? `${known.name} (${shortId(id)})` : known.name;
}

/** The id without its host: `pulseaudio:nullsink` → `nullsink`. */
function shortId(id: string): string {
  const colon = id.indexOf(':');
  return colon > 0 && colon < id.length - 1 ? id.slice(colon + 1) : id;
}

/** What a role uses now, in words ("USB Headset", "the headset", "none"). */
export function inUse(
  status: AudioStatus,
  role: AudioRole,
  devices: readonly AudioDevice[] | null,
): string {
  const id = activeId(status, role);
  if (id !== null) return deviceName(id, devices && devicesFor(devices, role));
  return role === 'ring' ? 'the headset (no separate ring device)' : 'none open';
}

/** Why the device pickers are off, or `null` when they can be used. */
export function audioUnavailableReason(status: AudioStatus | null): string | null {
  if (status === null) return null;
  if (!status.enabled) {
    return 'This console runs without sound devices (started with --audio none): calls do not use a headset, so there is nothing to choose.';
  }
  if (status.headless) {
    return 'No sound device could be opened (no sound card or sound server): calls go on without a headset. Connect one and restart the console.';
  }
  return null;
}

/**
 * A failed device switch in plain words. 404: the device went away since the list was read;
 * 409: the console has no sound devices, or (when it has) this one would not open.
 */
export function switchErrorText(error: unknown, status: AudioStatus | null): string {
  const e = BackendError.from(error);
  if (e.code === 'device_not_found') {
    return 'That device is gone (unplugged or renamed): pick another.';
  }
  if (e.code === 'not_found') return 'This console is too old to switch sound devices.';
  if (e.code === 'audio_unavailable') {
    if (status && status.enabled && !status.headless) {
      return `That device could not be opened${e.message ? `: ${e.message}` : ''}.`;
    }
    return 'This console runs without sound devices.';
  }
  if (e.code === 'unreachable') {
    return 'The console cannot be reached: try again once it is connected.';
  }
  return e.message || e.code;
}

/** A failed device listing in plain words. */
export function listErrorText(error: unknown): string {
  const e = BackendError.from(error);
  if (e.code === 'audio_unavailable') return 'The sound devices cannot be listed: no sound server answers.';
  if (e.code === 'not_found') return 'This console is too old to list sound devices.';
  if (e.code === 'unreachable') return 'The console cannot be reached.';
  return e.message || e.code;
}

/**
 * The notice for `audio.device_lost`: "Headset 'X' was disconnected — now using 'Y'", "— no
 * headset available", or for the ring device "— the ring alert plays in the headset".
 */
export function deviceLostText(lost: DeviceLost, devices: readonly AudioDevice[] | null): string {
  // Named among the devices of that role: a headset's microphone and speaker may share a name.
  const pool = devices && devicesFor(devices, lost.role);
  const head = `${ROLE_NOUN[lost.role]} '${deviceName(lost.device, pool)}' was disconnected`;
  if (lost.fell_back_to !== null) return `${head} — now using '${deviceName(lost.fell_back_to, pool)}'`;
  if (lost.role === 'ring') return `${head} — the ring alert plays in the headset`;
  return `${head} — no ${lost.role === 'input' ? 'microphone' : 'headset'} available`;
}
