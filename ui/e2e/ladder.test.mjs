// The SIP ladder and contacts against a real console (with a config file of contacts) and a
// real sipp transferee, in Debian's chromium.
//
//   cd ui && npm run build && npm run e2e      (needs target/debug/switchboard and sipp)

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  inOrder,
  ladderLabels as labels,
  launchBrowser,
  openConsole,
  screenshot,
  startConsole,
  startSipp,
  unnamedControls,
  waitFor,
} from './harness.mjs';

/** The REFER target the transferee reports busy (nobody needs to listen there). */
const SALES = 'sip:sales@127.0.0.1:5999';
const CONFIG = `
[[contacts]]
name = "Sales"
uri = "${SALES}"
note = "2nd floor"

[[contacts]]
name = "Support"
uri = "tel:+15105550100"
`;

let sb;
let browser;

before(async () => {
  sb = await startConsole('ladder-console', { config: CONFIG });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sb?.stop();
});

describe('SIP ladder and contacts in the browser', () => {
  it('(i) contacts are suggested; the ladder of a cold transfer refused with 486 tells it, opens a message whole, and follows the call to its end', async () => {
    const { page, errors } = await openConsole(browser.context, sb);
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: sb.base });
    // The contacts come with the first resync.
    await waitFor(async () => (await sb.api('GET', '/contacts')).length === 2, 'the console serving the contacts');

    // The dial pad suggests the contact as you type (name first), and a click fills the field.
    const dial = page.locator('#dial-to');
    await dial.fill('sal');
    const dialSuggestion = page.getByTestId('dial-suggestion').first();
    await dialSuggestion.waitFor();
    assert.equal(await dialSuggestion.getAttribute('data-kind'), 'contact');
    assert.equal(await dialSuggestion.getAttribute('aria-label'), `Use contact Sales, ${SALES}, 2nd floor`);
    assert.match(await dialSuggestion.innerText(), /^Sales — sales@127\.0\.0\.1:5999$/);
    await dialSuggestion.click();
    assert.equal(await dial.inputValue(), SALES);
    await dial.fill('');

    const sipp = await startSipp('refer_notify_486.xml', sb.sipPort, 'i-ladder');
    const ringing = page.locator('li.row[data-state="ringing"]').filter({ hasText: 'Ada Caller' });
    await ringing.waitFor({ timeout: 15_000 });
    const id = await ringing.getAttribute('data-call-id');
    const row = page.locator(`li.row[data-call-id="${id}"]`);
    await row.getByRole('button', { name: /^Answer call from Ada Caller/ }).click();
    await row.and(page.locator('[data-state="active"]')).waitFor();

    // The transfer dialog: typing part of a name offers the contact first, as "Sales — …".
    await row.getByRole('button', { name: /^Transfer call with Ada Caller/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Transfer Ada Caller' });
    await dialog.getByLabel('Destination', { exact: true }).fill('sal');
    const chip = dialog.getByTestId('suggestion').first();
    await chip.waitFor();
    assert.equal(await chip.getAttribute('data-kind'), 'contact');
    assert.match(await chip.innerText(), /^Sales — sales@127\.0\.0\.1:5999$/);
    assert.equal(await dialog.getByRole('button', { name: /^Use contact Support/ }).count(), 0, 'Support does not match "sal"');
    await screenshot(page, 'i1-contact-suggestion');
    await dialog.getByRole('button', { name: `Use contact Sales, ${SALES}, 2nd floor` }).click();
    assert.equal(await dialog.getByLabel('Destination', { exact: true }).inputValue(), SALES);
    await dialog.getByText('✓ SIP URI').waitFor();
    await dialog.getByRole('button', { name: 'Start cold transfer' }).click();
    await dialog.waitFor({ state: 'detached' });
    await row.locator('.timeline[data-state="failed"]').locator('li.failed[data-step="failed"]').filter({ hasText: '486' }).waitFor({ timeout: 15_000 });
    await row.and(page.locator('[data-state="active"]')).waitFor();

    // L opens the selected call's ladder (the Selected call card has the button too).
    await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined));
    await page.keyboard.press('l');
    const ladder = page.getByRole('dialog', { name: 'SIP ladder — Ada Caller' });
    await ladder.waitFor();
    await waitFor(async () => (await labels(ladder)).filter((l) => l === 'NOTIFY').length === 2, 'both NOTIFYs on the ladder');
    const seen = await labels(ladder);
    assert.ok(inOrder(seen, ['INVITE', '180 INVITE', '200 INVITE', 'ACK', 'REFER', '202 REFER', 'NOTIFY', '200 NOTIFY', 'NOTIFY', '200 NOTIFY']), `in order: ${seen}`);
    // Two lanes: this console and the caller's address, named after the caller.
    assert.match(await ladder.locator('.lane-names').innerText(), /This console\s+Ada Caller · 127\.0\.0\.1:\d+/);
    // Directions and tones: the INVITE came in, the 200 went out (success); the second NOTIFY
    // carries the target's 486 as its detail and is the one failure.
    const rowFor = (label) => ladder.locator(`[data-testid="ladder-row"][data-label="${label}"]`);
    assert.equal(await rowFor('INVITE').getAttribute('data-direction'), 'received');
    assert.deepEqual([await rowFor('200 INVITE').getAttribute('data-direction'), await rowFor('200 INVITE').getAttribute('data-tone')], ['sent', 'ok']);
    assert.equal(await rowFor('REFER').getAttribute('data-direction'), 'sent');
    const refused = rowFor('NOTIFY').nth(1);
    assert.equal(await refused.getAttribute('data-tone'), 'fail');
    assert.match(await refused.innerText(), /SIP\/2\.0 486 Busy Here/);
    assert.equal(await ladder.locator('[data-tone="fail"]').count(), 1, 'one failure');
    assert.match(await ladder.getByTestId('ladder-summary').innerText(), /1 failure, first: received NOTIFY reporting 486 Busy Here at \+\d+ ms/);
    // Read aloud as words; times from the first message, never going back.
    await ladder.getByRole('button', { name: /^received NOTIFY reporting 486 Busy Here at \+\d+ ms$/ }).waitFor();
    await ladder.getByRole('button', { name: /^sent 200 OK for INVITE at \+\d+ ms$/ }).waitFor();
    const times = await ladder.locator('[data-testid="ladder-row"] td.time').allInnerTexts();
    assert.equal(times[0], '+0 ms');
    const ms = times.map((t) => (t.endsWith(' s') ? parseFloat(t.slice(1)) * 1000 : parseInt(t.slice(1), 10)));
    assert.ok(ms.every((v, i) => i === 0 || v >= (ms[i - 1] ?? 0)), `times in order: ${times}`);

    // Enter on a row opens the whole message (monospace, selectable), with a copy button.
    const referButton = rowFor('REFER').getByRole('button');
    await referButton.focus();
    await page.keyboard.press('Enter');
    assert.equal(await referButton.getAttribute('aria-expanded'), 'true');
    const referText = ladder.getByTestId('ladder-message');
    await referText.waitFor();
    const whole = await referText.innerText();
    assert.match(whole, /^REFER sip:ada@127\.0\.0\.1:\d+ SIP\/2\.0\n/);
    assert.match(whole, new RegExp(`Refer-To: <${SALES.replace(/\./g, '\\.')}>`));
    assert.match(whole, /CSeq: 1 REFER/);
    assert.equal(await referText.evaluate((el) => getComputedStyle(el).userSelect), 'text');
    await ladder.getByRole('button', { name: 'Copy the whole REFER message' }).click();
    await ladder.getByTestId('ladder-copy-status').filter({ hasText: 'Copied the REFER message' }).waitFor();
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /Refer-To: <sip:sales@127\.0\.0\.1:5999>/);
    // A click anywhere on a row opens it too: the 486 NOTIFY says what the target answered.
    await refused.locator('td.time').click();
    await ladder.getByTestId('ladder-message').filter({ hasText: 'Subscription-State: terminated' }).waitFor();
    const notifyText = await ladder.getByTestId('ladder-message').nth(1).innerText();
    assert.match(notifyText, /^NOTIFY sip:/);
    assert.match(notifyText, /Content-Type: message\/sipfrag/);
    assert.match(notifyText, /\n\nSIP\/2\.0 486 Busy Here\s*$/);
    assert.deepEqual(await unnamedControls(page), [], 'every control in the ladder is named');
    await screenshot(page, 'i2-ladder-refused-486');
    // Enter again closes the row.
    await referButton.focus();
    await page.keyboard.press('Enter');
    assert.equal(await referButton.getAttribute('aria-expanded'), 'false');

    // The ladder follows the call: it ends while the ladder is open (the caller is hung up
    // from the API), and the BYE and its 200 appear without touching anything.
    await sb.api('POST', `/calls/${id}/hangup`);
    await waitFor(async () => inOrder(await labels(ladder), ['NOTIFY', 'BYE', '200 BYE']), 'the BYE and its 200 on the open ladder');
    await ladder.getByText('the call has ended').waitFor();
    assert.equal(await sipp.wait(), 0, 'the sipp transferee passed its scenario');
    await rowFor('200 BYE').scrollIntoViewIfNeeded();
    await screenshot(page, 'i3-ladder-ended');
    await page.keyboard.press('Escape');
    await ladder.waitFor({ state: 'detached' });

    // From the history: the ended call's ladder, while the console still holds it.
    await page.keyboard.press('2');
    await page.locator(`tr[data-call-id="${id}"]`).getByRole('button', { name: /^SIP ladder of the call with Ada Caller at / }).click();
    await ladder.waitFor();
    await waitFor(async () => inOrder(await labels(ladder), ['INVITE', '200 INVITE', 'REFER', 'NOTIFY', 'BYE', '200 BYE']), 'the whole ladder from the history');
    await page.keyboard.press('Escape');
    await ladder.waitFor({ state: 'detached' });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
