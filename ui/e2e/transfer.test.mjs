// The operator UI against a real console and real sipp callers, in Debian's chromium.
//
//   cd ui && npm run build && npm run e2e      (needs target/debug/switchboard and sipp)

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  inOrder,
  ladderLabels,
  launchBrowser,
  openConsole,
  screenshot,
  startConsole,
  startSipp,
  startSippUas,
  unnamedControls,
  waitFor,
} from './harness.mjs';

/** The REFER target: nobody needs to listen there, the sipp transferee only reports back. */
const TARGET = 'sip:sales@127.0.0.1:5999';

let sb;
let browser;

before(async () => {
  sb = await startConsole();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sb?.stop();
});

/** Waits until the console has no live calls and the page shows no rows (a clean start). */
async function settled(page) {
  await waitFor(async () => (await sb.api('GET', '/calls')).length === 0, 'no live calls', 20_000);
  await page.locator('li.row').first().waitFor({ state: 'detached', timeout: 20_000 }).catch(() => {});
  await waitFor(async () => (await page.locator('li.row').count()) === 0, 'an empty panel', 20_000);
}

/** Starts a sipp caller and returns it with the locator of its (ringing) row. */
async function inboundCall(page, scenarioFile, name, display = 'Ada Caller', sippOptions = {}) {
  const sipp = await startSipp(scenarioFile, sb.sipPort, name, sippOptions);
  const row = page.locator('li.row[data-state="ringing"]').filter({ hasText: display });
  await row.waitFor({ timeout: 15_000 });
  const id = await row.getAttribute('data-call-id');
  return { sipp, id, row: page.locator(`li.row[data-call-id="${id}"]`) };
}

describe('operator console in the browser', () => {
  it('(a) answers by click and transfers cold through the dialog; the call leaves the panel', async () => {
    const { page, errors } = await openConsole(browser.context, sb);
    await settled(page);
    const { sipp, id, row } = await inboundCall(page, 'refer_accept.xml', 'a-cold');

    assert.match(await row.getAttribute('class'), /ringing/);
    await screenshot(page, 'a1-ringing');

    await row.getByRole('button', { name: /^Answer call from Ada Caller/ }).click();
    await row.and(page.locator('[data-state="active"]')).waitFor();
    assert.equal((await sb.api('GET', `/calls/${id}`)).state, 'active');

    await row.getByRole('button', { name: /^Transfer call with Ada Caller/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Transfer Ada Caller' });
    await dialog.waitFor();
    await dialog.getByLabel('Destination', { exact: true }).fill('not a destination');
    await dialog.getByText('expected sip:, sips:, tel:+E164').waitFor();
    await dialog.getByLabel('Destination', { exact: true }).fill(TARGET);
    await dialog.getByText('✓ SIP URI').waitFor();
    await dialog.getByRole('radio', { name: /Cold \(REFER\)/ }).check();
    await screenshot(page, 'a2-dialog');
    await dialog.getByRole('button', { name: 'Start cold transfer' }).click();
    await dialog.waitFor({ state: 'detached' });

    // The row's timeline reaches "completed" (every step done) ...
    const timeline = row.locator('.timeline');
    await timeline.locator('li.done[data-step="completed"]').waitFor({ timeout: 15_000 });
    for (const step of ['triggered', 'initiated', 'answered', 'completed']) {
      assert.equal(await timeline.locator(`li.done[data-step="${step}"]`).count(), 1, step);
    }
    await screenshot(page, 'a3-completed');
    // ... the call ends as transferred, and the row leaves the panel.
    await row.getByTestId('call-state').filter({ hasText: 'Transferred' }).waitFor();
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    const ended = await sb.api('GET', `/calls/${id}`);
    assert.equal(ended.end_reason, 'transferred');
    assert.equal(ended.transfer.mode, 'cold');
    assert.equal(await sipp.wait(), 0, 'the sipp transferee passed its scenario');

    // History shows the transfer and its outcome, and is searchable.
    await page.getByRole('button', { name: /^History/ }).click();
    await page.getByRole('searchbox', { name: 'Search history' }).fill('transferred');
    const hist = page.locator(`tr[data-call-id="${id}"]`);
    await hist.waitFor();
    assert.match(await hist.innerText(), /cold · Completed/);
    await screenshot(page, 'a4-history');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('(b) a refused REFER shows status and reason; "Transfer anchored instead" bridges to the target', async () => {
    const { page, errors } = await openConsole(browser.context, sb);
    await settled(page);
    const target = await startSippUas('b-target');
    const { sipp, id, row } = await inboundCall(page, 'refer_reject_405.xml', 'b-405');
    await row.getByRole('button', { name: /^Answer call from/ }).click();
    await row.and(page.locator('[data-state="active"]')).waitFor();

    await row.getByRole('button', { name: /^Transfer call with/ }).click();
    const dialog = page.getByRole('dialog', { name: /^Transfer / });
    await dialog.getByLabel('Destination', { exact: true }).fill(target.uri);
    await dialog.getByRole('button', { name: 'Start cold transfer' }).click();
    await dialog.waitFor({ state: 'detached' });

    const failure = row.locator('.timeline[data-state="failed"]').first();
    await failure.waitFor({ timeout: 15_000 });
    await failure.locator('li.failed[data-step="failed"]').filter({ hasText: '405' }).waitFor();
    const reason = await failure.getByTestId('transfer-failure').innerText();
    assert.match(reason, /405/);
    assert.match(reason, /does not support transfers/);
    // The caller is back with the attendant.
    await row.and(page.locator('[data-state="active"]')).waitFor();
    await screenshot(page, 'b1-refused');

    await row.getByRole('button', { name: /^Transfer anchored instead/ }).click();
    // A second attempt, anchored, on the same row: the console calls the target and bridges.
    const anchored = row.locator('.timeline').nth(1);
    await anchored.waitFor();
    assert.match(await anchored.innerText(), /Anchored/);
    await anchored.locator('li.done[data-step="completed"]').waitFor({ timeout: 15_000 });
    const call = await sb.api('GET', `/calls/${id}`);
    assert.equal(call.transfer.mode, 'anchored');
    assert.equal(call.transfer.state, 'completed');
    assert.equal(call.state, 'active', 'the caller stays up, bridged');
    const leg = await sb.api('GET', `/calls/${call.transfer.target_call_id}`);
    assert.equal(leg.state, 'active', 'the target leg is up');
    await screenshot(page, 'b2-anchored-instead');

    // Hanging up the caller ends the target's leg too: both sipps pass their scenarios.
    await row.getByRole('button', { name: /^Hang up call with/ }).click();
    assert.equal(await sipp.wait(), 0, 'the sipp caller got the BYE');
    assert.equal(await target.wait(), 0, 'the sipp target got the BYE');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('(b2) Anchored chosen in the dialog: the timeline reaches completed, both legs stay up, bridged, with their media figures', async () => {
    const { page, errors } = await openConsole(browser.context, sb);
    await settled(page);
    const target = await startSippUas('b2-target');
    // A caller that only waits for our BYE (no REFER in its script), echoing our RTP so the
    // console has audio to measure on the caller's leg.
    const { sipp, id, row } = await inboundCall(page, 'uac_wait_answer.xml', 'b2-anchored', 'sipp caller', { rtpEcho: true });
    await row.getByRole('button', { name: /^Answer call from/ }).click();
    await row.and(page.locator('[data-state="active"]')).waitFor();

    await row.getByRole('button', { name: /^Transfer call with/ }).click();
    const dialog = page.getByRole('dialog', { name: /^Transfer / });
    await dialog.getByLabel('Destination', { exact: true }).fill(target.uri);
    await dialog.getByRole('radio', { name: /Anchored/ }).check();
    await screenshot(page, 'b2-1-dialog-anchored');
    await dialog.getByRole('button', { name: /^Start anchored transfer/ }).click();
    await dialog.waitFor({ state: 'detached' });

    const timeline = row.locator('.timeline');
    await timeline.locator('li.done[data-step="completed"]').waitFor({ timeout: 15_000 });
    for (const step of ['triggered', 'initiated', 'answered', 'completed']) {
      assert.equal(await timeline.locator(`li.done[data-step="${step}"]`).count(), 1, step);
    }
    const call = await sb.api('GET', `/calls/${id}`);
    assert.deepEqual([call.state, call.transfer.mode, call.transfer.state], ['active', 'anchored', 'completed']);
    // The target's leg is a call of its own in the panel.
    const legRow = page.locator(`li.row[data-call-id="${call.transfer.target_call_id}"]`);
    await legRow.and(page.locator('[data-state="active"]')).waitFor();

    // Each leg names the other: the console links them both ways ...
    const leg = await sb.api('GET', `/calls/${call.transfer.target_call_id}`);
    assert.deepEqual([call.bridged_with, leg.bridged_with], [leg.id, id]);
    const targetName = leg.remote_display || leg.remote_uri.replace(/^sips?:/, '').split('@')[0];
    assert.equal(targetName, 'service', 'the sipp target answers as service@');
    // ... and so do the rows' pills, by the other party's name.
    const callerPill = row.getByTestId('bridged');
    const legPill = legRow.getByTestId('bridged');
    await callerPill.filter({ hasText: `Bridged ⇄ ${targetName}` }).waitFor();
    await legPill.filter({ hasText: 'Bridged ⇄ sipp caller' }).waitFor();
    assert.equal(await callerPill.getAttribute('aria-label'), null, 'named by its text');
    await page.getByRole('button', { name: `Bridged with ${targetName}` }).waitFor();
    // The pill takes the attendant to the other leg.
    await callerPill.click();
    await legRow.and(page.locator('[aria-current="true"]')).waitFor();

    // Listen in from the row, as the supervisor can: the toggle names both parties and both
    // legs show it pressed; I (on the selected call, the target's leg) stops it.
    await row.getByRole('button', { name: `Listen in on the bridge of sipp caller and ${targetName}` }).click();
    await row.getByTestId('listen').and(page.locator('[aria-pressed="true"]')).waitFor();
    await legRow.getByTestId('listen').and(page.locator('[aria-pressed="true"]')).waitFor();
    assert.equal((await sb.api('GET', `/calls/${id}`)).listening, true);
    await row.getByRole('button', { name: `Stop listening to the bridge of sipp caller and ${targetName}` }).waitFor();
    await screenshot(page, 'b2-listen-in-row');
    await page.keyboard.press('i');
    await row.getByTestId('listen').and(page.locator('[aria-pressed="false"]')).waitFor();
    await legRow.getByTestId('listen').and(page.locator('[aria-pressed="false"]')).waitFor();
    assert.equal((await sb.api('GET', `/calls/${id}`)).listening, false);

    // The target leg's SIP ladder (the selected call): the console's INVITE out and the
    // answer; the link opens the caller's leg's ladder in its place.
    await page.getByRole('button', { name: `SIP ladder of the call with ${targetName}` }).click();
    const legLadder = page.getByRole('dialog', { name: `SIP ladder — ${targetName}` });
    await legLadder.waitFor();
    await waitFor(async () => inOrder(await ladderLabels(legLadder), ['INVITE', '200 INVITE', 'ACK']), 'the target leg\'s INVITE, 200, ACK');
    assert.equal(await legLadder.locator('[data-testid="ladder-row"][data-label="INVITE"]').first().getAttribute('data-direction'), 'sent');
    await legLadder.getByRole('button', { name: 'SIP ladder of the other leg, sipp caller' }).click();
    const callerLadder = page.getByRole('dialog', { name: 'SIP ladder — sipp caller' });
    await callerLadder.waitFor();
    await waitFor(async () => inOrder(await ladderLabels(callerLadder), ['INVITE', '200 INVITE', 'ACK']), 'the caller leg\'s INVITE, 200, ACK');
    assert.equal(await callerLadder.locator('[data-testid="ladder-row"][data-label="INVITE"]').first().getAttribute('data-direction'), 'received');
    await callerLadder.getByRole('button', { name: `SIP ladder of the other leg, ${targetName}` }).waitFor();
    await screenshot(page, 'b2-ladder-other-leg');
    await page.keyboard.press('Escape');
    await callerLadder.waitFor({ state: 'detached' });

    // The caller's leg: codec PCMU, and once the stats (about every second) arrive, a quality
    // judged from real audio (sipp echoes ours) with the figures in words. Which grade is the
    // console's business (how it measures a leg it relays into a bridge), so only the form is
    // checked here, and that the bars agree with the words; the thresholds have unit tests.
    const quality = row.getByRole('img', { name: /^Call quality / });
    // (The cell reads "Codec PCMU" to a screen reader; "PCMU" on screen.)
    const codecText = async (r) => (await r.getByTestId('codec').innerText()).replace(/\s+/g, ' ').trim();
    await waitFor(async () => (await codecText(row)) === 'Codec PCMU', 'codec PCMU on the caller row');
    assert.equal(await row.getByTestId('codec').getAttribute('title'), 'PCMU/8000');
    const label = await waitFor(async () => {
      const text = await quality.getAttribute('aria-label');
      return text && text !== 'Call quality not measured yet' && !text.includes('no audio') ? text : null;
    }, 'quality figures on the caller row');
    const grade = label.match(/^Call quality (good|fair|poor|bad): MOS (\d\.\d), loss \d+\.\d %, jitter (<1|\d+) ms, RTT (\d+ ms|not measured yet)$/);
    assert.ok(grade, `quality label: ${label}`);
    assert.equal(await quality.getAttribute('title'), label);
    const bars = { good: '4', fair: '3', poor: '2', bad: '1' }[grade[1]];
    assert.equal(await quality.getAttribute('data-bars'), bars, `${bars} bars for ${grade[1]}`);
    // The target sends no audio at all: its row must not claim a good line.
    await waitFor(
      async () => /^Call quality unknown, no audio received yet: /.test((await legRow.getByRole('img', { name: /^Call quality / }).getAttribute('aria-label')) ?? ''),
      'no-audio quality on the target row',
    );
    await screenshot(page, 'b2-2-anchored-completed');

    // The supervisor sees the same: codec, loss, jitter, MOS and the bridge.
    await page.keyboard.press('3');
    const supRow = page.locator(`tr[data-call-id="${id}"]`);
    await supRow.waitFor();
    assert.equal((await supRow.getByTestId('sup-codec').innerText()).trim(), 'PCMU');
    assert.match(await supRow.getByTestId('sup-loss').innerText(), /^\d+\.\d %$/);
    assert.match(await supRow.getByTestId('sup-jitter').innerText(), /^(<1|\d+) ms$/);
    assert.match(await supRow.getByTestId('sup-mos').innerText(), /Call quality (good|fair|poor|bad): MOS \d\.\d, loss/);
    assert.match(await supRow.getByTestId('sup-bridge').innerText(), new RegExp(`Bridged.*${targetName}`));
    await page.locator('table[aria-label="Recent transfers"] tr').filter({ hasText: 'anchored' }).first().waitFor();
    await screenshot(page, 'b2-3-supervisor');
    await page.keyboard.press('1');

    // The target's leg hung up from its row: the caller's leg ends with it.
    await legRow.getByRole('button', { name: /^Hang up call with/ }).click();
    assert.equal(await target.wait(), 0, 'the sipp target got the BYE');
    assert.equal(await sipp.wait(), 0, 'the sipp caller got the BYE');
    await waitFor(async () => (await sb.api('GET', `/calls/${id}`)).state === 'ended', 'the caller leg ended');

    // The history keeps the link.
    await page.keyboard.press('2');
    const hist = page.locator(`tr[data-call-id="${id}"]`);
    await hist.getByTestId('bridged').filter({ hasText: `Bridged ⇄ ${targetName}` }).waitFor();
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('(g) the DTMF keypad sends tones by click and by key; Esc returns to the DTMF button', async () => {
    const { page, errors, events } = await openConsole(browser.context, sb);
    await settled(page);
    // A caller offering telephone-event and echoing our RTP: every tone the console sends comes
    // back to it as an RFC 4733 event, which it reports as `call.dtmf`.
    const { sipp, id, row } = await inboundCall(page, 'uac_dtmf_echo.xml', 'g-dtmf', 'DTMF caller', { rtpEcho: true });
    await row.getByRole('button', { name: /^Answer call from/ }).click();
    await row.and(page.locator('[data-state="active"]')).waitFor();
    const heard = () => events.filter((e) => e.type === 'call.dtmf' && e.call_id === id).map((e) => `${e.digit}/${e.method}`);

    const button = row.getByRole('button', { name: 'DTMF keypad for call with DTMF caller' });
    assert.equal(await button.isEnabled(), true, 'DTMF is available');
    assert.equal(await button.getAttribute('aria-expanded'), 'false');
    await button.click();
    const keypad = page.getByRole('dialog', { name: 'DTMF keypad for call with DTMF caller' });
    await keypad.waitFor();
    assert.equal(await button.getAttribute('aria-expanded'), 'true');
    await waitFor(() => page.evaluate(() => !!document.activeElement?.closest('[data-testid="dtmf-keypad"]')), 'focus in the keypad');

    // Click: the console takes it (no error notice), and the tone comes back over the wire.
    const five = keypad.getByRole('button', { name: 'Send DTMF 5' });
    await five.click();
    await keypad.getByTestId('dtmf-sent').filter({ hasText: 'Sent 5' }).waitFor();
    await waitFor(() => heard().includes('5/rfc4733'), 'the console to hear its own 5 back');
    assert.equal(await page.getByRole('alert').count(), 0, 'no error notice');
    await screenshot(page, 'g1-dtmf-keypad');

    // Typed while the keypad has focus: 2 is a tone here, not the History view; so is a (not Answer).
    await page.keyboard.press('2');
    await page.keyboard.press('#');
    await page.keyboard.press('a');
    await keypad.getByTestId('dtmf-sent').filter({ hasText: 'Sent 52#A' }).waitFor();
    await waitFor(() => ['2', '#', 'A'].every((d) => heard().includes(`${d}/rfc4733`)), 'the typed tones back');
    assert.deepEqual(heard(), ['5/rfc4733', '2/rfc4733', '#/rfc4733', 'A/rfc4733'], 'in the order sent, each once');
    await row.waitFor();
    assert.equal(await page.getByRole('searchbox', { name: 'Search history' }).count(), 0, 'still on the Calls view');

    // Esc closes it and focus goes back to the DTMF button.
    await page.keyboard.press('Escape');
    await keypad.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'DTMF keypad for call with DTMF caller');
    // P opens it for the selected call, from the keyboard alone.
    await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined));
    await page.keyboard.press('p');
    await keypad.waitFor();
    await page.keyboard.press('Escape');
    await keypad.waitFor({ state: 'detached' });

    await row.getByRole('button', { name: /^Hang up call with/ }).click();
    assert.equal(await sipp.wait(), 0, 'the sipp caller got the BYE');
    assert.equal(await page.getByRole('alert').count(), 0, 'no error notice');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('(c) the whole transfer flow with the keyboard alone', async () => {
    const { page, errors } = await openConsole(browser.context, sb);
    await settled(page);
    const { sipp, id, row } = await inboundCall(page, 'refer_accept.xml', 'c-keyboard');
    // The ringing call is selected by itself; A answers it.
    await row.and(page.locator('[aria-current="true"]')).waitFor();
    await page.keyboard.press('a');
    await row.and(page.locator('[data-state="active"]')).waitFor();

    // ? opens the help overlay, which lists the shortcuts; Esc closes it.
    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.waitFor();
    for (const text of ['Answer the selected ringing call', 'Hang up the selected call', 'Transfer the selected call', 'Choose Cold transfer (REFER)', 'Choose Anchored transfer', 'Select the next call']) {
      await help.getByText(text).waitFor();
    }
    await screenshot(page, 'c1-help');
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });

    // T opens the dialog with focus in the destination; Esc cancels and focus returns.
    const before = await page.evaluate(() => document.activeElement?.outerHTML ?? '');
    await page.keyboard.press('t');
    const dialog = page.getByRole('dialog', { name: /^Transfer / });
    await dialog.waitFor();
    await waitFor(() => page.evaluate(() => document.activeElement?.id === 'transfer-destination'), 'focus in the destination');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // Focus goes back where it was, or (from nowhere in particular) to the call's Transfer button.
    const after = await page.evaluate(() => document.activeElement?.outerHTML ?? '');
    if (before.startsWith('<body')) {
      assert.match(after, /aria-label="Transfer call with Ada Caller"/, 'focus on the row');
    } else {
      assert.equal(after, before, 'focus returned');
    }

    // T again: type, choose the mode by key (Alt+N / Alt+C in the field, N / C outside it),
    // Tab stays inside the dialog, Enter confirms.
    await page.keyboard.press('t');
    await dialog.waitFor();
    await waitFor(() => page.evaluate(() => document.activeElement?.id === 'transfer-destination'), 'focus in the destination');
    await page.keyboard.type(TARGET);
    await page.keyboard.press('Alt+n');
    assert.equal(await dialog.getByRole('radio', { name: /Anchored/ }).isChecked(), true);
    await page.keyboard.press('Alt+c');
    assert.equal(await dialog.getByRole('radio', { name: /Cold \(REFER\)/ }).isChecked(), true);
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      const inside = await page.evaluate(() => !!document.activeElement?.closest('dialog'));
      assert.ok(inside, `Tab ${i + 1} kept focus inside the dialog`);
    }
    // Back to a non-text control (a radio): bare N / C switch the mode.
    await dialog.getByRole('radio', { name: /Cold \(REFER\)/ }).focus();
    await page.keyboard.press('n');
    assert.equal(await dialog.getByRole('radio', { name: /Anchored/ }).isChecked(), true);
    await page.keyboard.press('c');
    assert.equal(await dialog.getByRole('radio', { name: /Cold \(REFER\)/ }).isChecked(), true);
    assert.equal(await dialog.getByLabel('Destination', { exact: true }).inputValue(), TARGET);
    await screenshot(page, 'c2-keyboard-dialog');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });

    await row.locator('li.done[data-step="completed"]').waitFor({ timeout: 15_000 });
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal((await sb.api('GET', `/calls/${id}`)).end_reason, 'transferred');
    assert.equal(await sipp.wait(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('(d) every button and input has an accessible name, in every view and dialog', async () => {
    const { page, errors } = await openConsole(browser.context, sb);
    await settled(page);
    const { sipp, row } = await inboundCall(page, 'refer_reject_405.xml', 'd-a11y');
    const checked = [];
    const check = async (where) => {
      const missing = await unnamedControls(page);
      assert.deepEqual(missing, [], `unnamed controls in ${where}`);
      // And by the DOM: each button/input/select resolves to a non-empty name.
      const count = await page.locator('button, input, select, textarea').count();
      assert.ok(count > 0, `${where} has controls`);
      checked.push(`${where}: ${count}`);
    };
    await check('calls view, ringing');
    await row.getByRole('button', { name: /^Answer call from/ }).click();
    await row.and(page.locator('[data-state="active"]')).waitFor();
    await check('calls view, active');
    await row.getByRole('button', { name: /^DTMF keypad for call with/ }).click();
    await page.getByRole('dialog', { name: /^DTMF keypad for call with/ }).waitFor();
    await check('DTMF keypad');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: /^DTMF keypad for call with/ }).waitFor({ state: 'detached' });
    await row.getByRole('button', { name: /^Transfer call with/ }).click();
    const dialog = page.getByRole('dialog', { name: /^Transfer / });
    await dialog.getByRole('radio', { name: /Anchored/ }).check();
    await check('transfer dialog (anchored options)');
    await dialog.getByRole('radio', { name: /Cold/ }).check();
    await dialog.getByLabel('Destination', { exact: true }).fill(TARGET);
    await dialog.getByRole('button', { name: 'Start cold transfer' }).click();
    await row.locator('.timeline[data-state="failed"]').waitFor();
    await check('calls view, failed transfer');
    for (const view of ['History', 'Supervisor', 'Settings']) {
      await page.getByRole('button', { name: new RegExp(`^${view}`) }).click();
      await page.locator('h2').filter({ hasText: view === 'Settings' ? 'SIP accounts' : view === 'Supervisor' ? 'All calls' : 'History' }).waitFor();
      await check(`${view} view`);
      await screenshot(page, `d-${view.toLowerCase()}`);
    }
    await page.keyboard.press('?');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    await check('help overlay');
    await page.keyboard.press('Escape');
    await page.keyboard.press('1');
    await page.emulateMedia({ colorScheme: 'light' });
    await row.waitFor();
    await screenshot(page, 'd-calls-light');
    await row.getByRole('button', { name: /^Hang up call with/ }).click();
    assert.equal(await sipp.wait(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('(e) several calls: J/K and arrows move the selection, A answers and H hangs up the selected one', async () => {
    const { page, errors } = await openConsole(browser.context, sb);
    await settled(page);
    const callers = [];
    for (let i = 0; i < 3; i++) {
      callers.push(await startSipp('uac_wait_answer.xml', sb.sipPort, `e-caller-${i}`));
      await waitFor(async () => (await page.locator('li.row[data-state="ringing"]').count()) === i + 1, `${i + 1} ringing rows`);
    }
    const rows = page.locator('li.row');
    const selectedIndex = () =>
      page.evaluate(() => [...document.querySelectorAll('li.row')].findIndex((r) => r.getAttribute('aria-current') === 'true'));
    await waitFor(async () => (await selectedIndex()) === 0, 'the first ringing call selected');
    await page.keyboard.press('j');
    await waitFor(async () => (await selectedIndex()) === 1, 'J selects the next call');
    await page.keyboard.press('ArrowDown');
    await waitFor(async () => (await selectedIndex()) === 2, '↓ selects the next call');
    await page.keyboard.press('k');
    await waitFor(async () => (await selectedIndex()) === 1, 'K selects the previous call');
    await page.keyboard.press('a');
    await rows.nth(1).and(page.locator('[data-state="active"]')).waitFor();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('a');
    await rows.nth(0).and(page.locator('[data-state="active"]')).waitFor();
    assert.equal(await rows.nth(2).getAttribute('data-state'), 'ringing');
    // Every row's columns line up whatever controls its state shows.
    const xs = await rows.evaluateAll((els) => els.map((r) => Math.round(r.querySelector('[data-testid="duration"]').getBoundingClientRect().x)));
    assert.equal(new Set(xs).size, 1, `duration columns aligned: ${xs}`);
    await screenshot(page, 'e-several-calls');
    // Answer the last one by click, then hang all up with H, one by one.
    await rows.nth(2).getByRole('button', { name: /^Answer call from/ }).click();
    await rows.nth(2).and(page.locator('[data-state="active"]')).waitFor();
    for (let left = 3; left > 0; left--) {
      await page.keyboard.press('h');
      await waitFor(async () => (await sb.api('GET', '/calls')).length === left - 1, `${left - 1} live calls`);
      // ... and the page has seen it (the ended row lingers, greyed, and is not selectable).
      await waitFor(async () => (await page.locator('li.row:not([data-state="ended"])').count()) === left - 1, `${left - 1} live rows`);
    }
    for (const c of callers) assert.equal(await c.wait(), 0, 'each caller got its BYE');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('(f) the token gate: asks for the token, refuses a wrong one, keeps a right one for the tab', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${sb.base}/`);
    const field = page.getByLabel('API token');
    await field.fill('wrong-token');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByText('The console refused this token.').waitFor();
    await field.fill(sb.token);
    await page.keyboard.press('Enter');
    await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.token')), sb.token);
    // ?token= is taken out of the address bar.
    await page.goto(`${sb.base}/?token=${sb.token}`);
    await page.getByTestId('connection').and(page.locator('[data-state="open"]')).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('token'), null);
    await page.close();
  });
});
