// Making an inbound call noticed: a desktop notification (when the user allowed them) and a
// ring sound generated with Web Audio (US ring: 440 + 480 Hz, 2 s on, 4 s off).

/** Shows a desktop notification for an inbound call, if permitted. */
export function notifyIncoming(party: string, uri: string, onclick: () => void): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(`Incoming call: ${party}`, { body: uri, tag: `call-${uri}` });
    n.onclick = () => {
      window.focus();
      onclick();
      n.close();
    };
  } catch {
    // Some browsers only allow notifications from a service worker; the visual ring remains.
  }
}

/** A ring tone that plays while `ringing(true)` holds. Silent until the page had a user gesture. */
export class Ringer {
  private ctx: AudioContext | null = null;
  private stopCurrent: (() => void) | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  ringing(on: boolean): void {
    if (on && this.timer === null) {
      this.burst();
      this.timer = setInterval(() => this.burst(), 6000);
    } else if (!on && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
      this.stopCurrent?.();
      this.stopCurrent = null;
    }
  }

  private burst(): void {
    if (typeof AudioContext === 'undefined') return;
    this.ctx ??= new AudioContext();
    const ctx = this.ctx;
    if (ctx.state === 'suspended') void ctx.resume().catch(() => undefined);
    const gain = ctx.createGain();
    gain.gain.value = 0.08;
    gain.connect(ctx.destination);
    const oscs = [440, 480].map((f) => {
      const o = ctx.createOscillator();
      o.frequency.value = f;
      o.connect(gain);
      o.start();
      o.stop(ctx.currentTime + 2);
      return o;
    });
    this.stopCurrent = () => oscs.forEach((o) => o.stop());
  }
}
