// Browser end-to-end harness: a real `switchboard serve` on free ports serving ui/dist, real
// sipp peers, and Debian's chromium driven by playwright-core. No fixed sleeps: everything
// waits for a condition with a deadline.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const UI_DIR = resolve(here, '..');
export const REPO = resolve(UI_DIR, '..');
export const OUT = join(REPO, 'test-output', 'ui-e2e');
mkdirSync(OUT, { recursive: true });

const BIN = process.env.SWITCHBOARD_BIN ?? join(REPO, 'target', 'debug', 'switchboard');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** The sipp scenario `name`: tests/sipp/ (shared with the pytest suite), else our copy. */
export function scenario(name) {
  for (const dir of [join(REPO, 'tests', 'sipp'), join(here, 'sipp')]) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  throw new Error(`no sipp scenario ${name}`);
}

/** Polls `fn` until it returns a truthy value; throws `what` after `timeoutMs`. */
export async function waitFor(fn, what, timeoutMs = 15_000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A TCP port free on loopback whose UDP twin is free too (SIP listens on UDP). */
export async function freePort() {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => res(port));
      });
    });
    if (await udpFree(port)) return port;
  }
  throw new Error('no free port');
}

/**
 * Starts the console; resolves once it prints its `switchboard listening:` line. `config` is
 * the text of a TOML config file (e.g. `[[contacts]]`), passed with `--config`.
 */
export async function startConsole(name = 'console', { config } = {}) {
  if (!existsSync(BIN)) throw new Error(`${BIN} missing: cargo build -p control-api`);
  const sipPort = await freePort();
  const apiPort = await freePort();
  const token = `e2e-${Math.random().toString(36).slice(2)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-ui-e2e-'));
  const configArgs = [];
  if (config !== undefined) {
    const file = join(dataDir, 'config.toml');
    writeFileSync(file, config);
    configArgs.push('--config', file);
  }
  const log = createWriteStream(join(OUT, `${name}.log`));
  const proc = spawn(
    BIN,
    [
      'serve',
      '--sip-listen', `udp:127.0.0.1:${sipPort}`,
      '--api-listen', `127.0.0.1:${apiPort}`,
      '--api-token', token,
      '--data-dir', dataDir,
      '--ui-dir', join(UI_DIR, 'dist'),
      '--audio', 'none',
      '--log', 'info',
      ...configArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout.pipe(log, { end: false });
  let stderr = '';
  proc.stderr.on('data', (chunk) => {
    stderr += chunk;
    log.write(chunk);
  });
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`switchboard exited ${proc.exitCode}:\n${stderr}`);
    return stderr.includes('switchboard listening:');
  }, 'switchboard to listen', 20_000);
  const base = `http://127.0.0.1:${apiPort}`;
  return {
    sipPort,
    base,
    token,
    /** Calls the API; resolves to the parsed JSON body. */
    async api(method, path, body) {
      const res = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return text ? JSON.parse(text) : null;
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([once(proc, 'exit'), new Promise((r) => setTimeout(r, 5000).unref())]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      log.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs one sipp UAC scenario against the console. `{ rtpEcho: true }` makes sipp send every
 * RTP packet the console sends it straight back (`-rtp_echo`, on a media port of its own), so
 * the console has audio to measure and hears its own DTMF.
 */
export async function startSipp(file, consoleSipPort, name, { rtpEcho = false } = {}) {
  const port = await freePort();
  const media = rtpEcho ? ['-mp', String(await freeMediaPort()), '-rtp_echo'] : [];
  return spawnSipp(name, [`127.0.0.1:${consoleSipPort}`, '-sf', scenario(file), '-s', 'service', ...media], port);
}

/** A UDP port for sipp's RTP echo: it also listens on port + 2 (video echo). */
async function freeMediaPort() {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    if (port < 65530 && (await udpFree(port + 2))) return port;
  }
  throw new Error('no free media port');
}

/**
 * A sipp UAS (its built-in `uas` scenario: 180, 200, waits for the BYE; one call) to transfer
 * calls to. Resolves once it listens; `uri` is where to send the call.
 */
export async function startSippUas(name) {
  const port = await freePort();
  const sipp = spawnSipp(name, ['-sn', 'uas'], port);
  await waitFor(async () => {
    if (sipp.proc.exitCode !== null) throw new Error(`sipp ${name} exited ${sipp.proc.exitCode}`);
    return !(await udpFree(port));
  }, `sipp ${name} listening on ${port}`);
  return { ...sipp, uri: `sip:service@127.0.0.1:${port}` };
}

/** Is this UDP port free on loopback? */
function udpFree(port) {
  return new Promise((res) => {
    const u = createSocket('udp4');
    u.once('error', () => res(false));
    u.bind(port, '127.0.0.1', () => u.close(() => res(true)));
  });
}

function spawnSipp(name, scenarioArgs, port) {
  const base = join(OUT, name);
  const args = [
    ...scenarioArgs,
    '-i', '127.0.0.1',
    '-p', String(port),
    '-m', '1',
    '-nostdin',
    '-timeout', '120s',
    '-timeout_error',
    '-trace_err', '-error_file', `${base}.err`,
    '-trace_msg', '-message_file', `${base}.msg`,
    '-trace_logs', '-log_file', `${base}.sipp-log`,
  ];
  const proc = spawn('sipp', args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: OUT });
  let stderr = '';
  proc.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise((res) => proc.once('exit', (code) => res(code)));
  return {
    proc,
    /** Resolves to sipp's exit code (0: the scenario passed). */
    async wait(timeoutMs = 30_000) {
      let timer;
      const timeout = new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`sipp ${name} still running: ${stderr}`)), timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000).unref())]);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }
    },
  };
}

/** Debian's chromium, headless, in a fresh profile. Never downloads a browser. */
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'sb-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1360, height: 820 },
    colorScheme: 'dark',
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Opens the console's page with the token in the URL (the page moves it to sessionStorage).
 * `events` collects every console event the page's own event stream receives (parsed JSON),
 * for what the page does not show (e.g. `call.dtmf`).
 */
export async function openConsole(context, sb) {
  const page = await context.newPage();
  const errors = [];
  const events = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/api/v1/events')) return;
    ws.on('framereceived', ({ payload }) => {
      try {
        events.push(JSON.parse(String(payload)));
      } catch {
        // Not JSON: nothing the console sends, nothing to record.
      }
    });
  });
  await page.goto(`${sb.base}/?token=${encodeURIComponent(sb.token)}`);
  await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
  return { page, errors, events };
}

/** The labels of an open SIP ladder's rows (`INVITE`, `180 INVITE`…), top to bottom. */
export function ladderLabels(dialog) {
  return dialog.getByTestId('ladder-row').evaluateAll((rows) => rows.map((r) => r.dataset.label));
}

/** Whether `want` appears in `list` in this order (other items may come between). */
export function inOrder(list, want) {
  let at = 0;
  for (const item of list) if (item === want[at]) at += 1;
  return at === want.length;
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

/**
 * Every interactive element on the page (per Chromium's accessibility tree) that has no
 * accessible name. Uses CDP: what a screen reader would get, not a guess from attributes.
 */
export async function unnamedControls(page) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const interactive = new Set([
      'button', 'textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'switch',
      'spinbutton', 'slider', 'link', 'menuitem', 'tab', 'listbox', 'option',
    ]);
    return nodes
      .filter((n) => !n.ignored && interactive.has(n.role?.value))
      .filter((n) => !String(n.name?.value ?? '').trim())
      .map((n) => `${n.role.value} (backend node ${n.backendDOMNodeId})`);
  } finally {
    await cdp.detach();
  }
}
