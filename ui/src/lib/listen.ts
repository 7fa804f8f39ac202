// Listen-in on an anchored bridge: when the toggle is offered and what it is called. Shared by
// the attendant's call rows and the supervisor view (`ListenToggle.svelte`).

import type { Call } from '../bindings/console';
import type { BridgePartner } from '../state/reducer';
import { partyName } from './format';

/** Whether listening in makes sense: the call is up and bridged with a leg that is up too. */
export function listenOffered(
  call: Pick<Call, 'state'>,
  partner: BridgePartner | null,
): partner is BridgePartner {
  return partner !== null && partner.live && call.state !== 'ended';
}

/**
 * The toggle's accessible name, naming both parties: "Listen in on the bridge of Ada Caller
 * and Sales", "Stop listening to the bridge of …".
 */
export function listenLabel(
  call: Pick<Call, 'listening' | 'remote_display' | 'remote_uri'>,
  partner: Pick<BridgePartner, 'name'>,
): string {
  const verb = call.listening ? 'Stop listening to' : 'Listen in on';
  return `${verb} the bridge of ${partyName(call)} and ${partner.name}`;
}
