// UI update latency: from a SIP message leaving a caller to the call's row changing in the
// operator page (issue 5's goal: <= 50 ms). A real `switchboard serve` serving ui/dist, Debian's
// chromium driven by playwright-core (ui/e2e/harness.mjs), and a minimal SIP caller here.
//
// Per call: the caller sends INVITE (t0, wall clock just before the datagram leaves); a
// MutationObserver in the page stamps the moment the row for that SIP Call-ID appears (its
// state `ringing`); then the caller sends CANCEL (t2) and the observer stamps the row turning
// `ended`. Both stamps are taken in the page with `performance.timeOrigin + performance.now()`,
// the caller's with `performance.timeOrigin + performance.now()` in this process: the same wall
// clock. The page's timestamps are when the DOM changed, i.e. after Svelte updated the row,
// before the next paint (a paint is at most one frame later: the figure adds a frame's worth
// of headroom in the report).
//
//   npm --prefix ui run build && cargo build --release -p control-api
//   SWITCHBOARD_BIN=target/release/switchboard node tests/load/ui_latency.mjs [calls=50]
//
// Prints a JSON summary: p50/p95/max of "INVITE -> row shown" and "CANCEL -> row ended".

import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { launchBrowser, openConsole, startConsole, waitFor } from '../../ui/e2e/harness.mjs';

const CALLS = Number(process.argv[2] ?? 50);
const wall = () => performance.timeOrigin + performance.now();

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))];
}

function summary(values) {
  const round = (x) => Math.round(x * 10) / 10;
  return {
    n: values.length,
    p50_ms: round(percentile(values, 0.5)),
    p95_ms: round(percentile(values, 0.95)),
    max_ms: round(Math.max(...values)),
  };
}

/** A caller on its own UDP socket: INVITE, CANCEL, and the ACK a 487 needs. */
class Caller {
  constructor(consolePort) {
    this.consolePort = consolePort;
    this.sock = createSocket('udp4');
    this.sock.on('message', (msg) => this.onMessage(msg.toString()));
    this.pending = new Map();
  }

  async bind() {
    await new Promise((r) => this.sock.bind(0, '127.0.0.1', r));
    this.port = this.sock.address().port;
  }

  send(text) {
    return new Promise((resolve, reject) =>
      this.sock.send(text, this.consolePort, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
    );
  }

  headers(callId, branch, cseq, method) {
    return [
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: "Latency ${callId.slice(0, 4)}" <sip:lat@127.0.0.1:${this.port}>;tag=${callId.slice(0, 8)}`,
      `To: <sip:desk@127.0.0.1:${this.consolePort}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} ${method}`,
    ];
  }

  async invite(callId, branch) {
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n' +
      'm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
    const msg = [
      `INVITE sip:desk@127.0.0.1:${this.consolePort} SIP/2.0`,
      ...this.headers(callId, branch, 1, 'INVITE'),
      `Contact: <sip:lat@127.0.0.1:${this.port}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${sdp.length}`,
      '',
      sdp,
    ].join('\r\n');
    const at = wall();
    await this.send(msg);
    return at;
  }

  async cancel(callId, branch) {
    const msg = [
      `CANCEL sip:desk@127.0.0.1:${this.consolePort} SIP/2.0`,
      ...this.headers(callId, branch, 1, 'CANCEL'),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const at = wall();
    await this.send(msg);
    return at;
  }

  onMessage(text) {
    // ACK the INVITE's final response (487 after CANCEL): same branch, To tag from the answer.
    const status = Number(text.slice(8, 11));
    if (!text.startsWith('SIP/2.0 ') || status < 300 || !/CSeq:\s*1 INVITE/i.test(text)) return;
    const header = (name) => text.match(new RegExp(`^${name}:\\s*(.*)$`, 'mi'))?.[1]?.trim();
    const callId = header('Call-ID');
    const branch = header('Via')?.match(/branch=([^;\s]+)/)?.[1];
    const ack = [
      `ACK sip:desk@127.0.0.1:${this.consolePort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: ${header('From')}`,
      `To: ${header('To')}`,
      `Call-ID: ${callId}`,
      'CSeq: 1 ACK',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    void this.send(ack);
  }

  close() {
    this.sock.close();
  }
}

async function main() {
  const sb = await startConsole('ui-latency');
  const browser = await launchBrowser();
  const caller = new Caller(sb.sipPort);
  await caller.bind();
  try {
    const { page } = await openConsole(browser.context, sb);
    // Stamps, in the page, when each call's row appears and when it changes state.
    await page.evaluate(() => {
      window.__stamps = {};
      const stamp = (row) => {
        const id = row.dataset.callId;
        const state = row.dataset.state;
        if (!id || !state) return;
        const key = `${id}:${state}`;
        window.__stamps[key] ??= performance.timeOrigin + performance.now();
      };
      new MutationObserver((mutations) => {
        for (const m of mutations) {
          if (m.type === 'attributes' && m.target instanceof HTMLElement && m.target.dataset.callId) {
            stamp(m.target);
          }
          for (const node of m.addedNodes) {
            if (!(node instanceof HTMLElement)) continue;
            if (node.dataset.callId) stamp(node);
            node.querySelectorAll?.('[data-call-id]').forEach(stamp);
          }
        }
      }).observe(document.body, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeFilter: ['data-state'],
      });
    });
    const shown = [];
    const ended = [];
    for (let i = 0; i < CALLS; i++) {
      const callId = randomBytes(8).toString('hex');
      const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
      const sentInvite = await caller.invite(callId, branch);
      // The console's id for this SIP Call-ID, from the API (the row carries the console id).
      const call = await waitFor(async () => {
        const calls = await sb.api('GET', '/calls');
        return calls.find((c) => c.sip_call_id === callId);
      }, `call ${callId} in the API`, 10_000);
      const ringing = await waitFor(
        () => page.evaluate((k) => window.__stamps[k], `${call.id}:ringing`),
        `row ${call.id} ringing`,
        10_000,
      );
      shown.push(ringing - sentInvite);
      const sentCancel = await caller.cancel(callId, branch);
      const gone = await waitFor(
        () => page.evaluate((k) => window.__stamps[k], `${call.id}:ended`),
        `row ${call.id} ended`,
        10_000,
      );
      ended.push(gone - sentCancel);
      // Let the ended row leave the panel before the next call (the page keeps it briefly).
      await waitFor(async () => (await page.locator(`[data-call-id="${call.id}"]`).count()) === 0,
        `row ${call.id} to leave`, 15_000);
    }
    const report = {
      calls: CALLS,
      invite_to_row_shown: summary(shown),
      cancel_to_row_ended: summary(ended),
      goal_ms: 50,
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    caller.close();
    await browser.close();
    await sb.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
