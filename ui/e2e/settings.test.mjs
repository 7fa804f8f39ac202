// The settings view against a real console started with `--audio none` (as every e2e console):
// the Audio devices section says why there is nothing to choose and keeps its pickers off.
//
//   cd ui && npm run build && npm run e2e      (needs target/debug/switchboard)

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, openConsole, screenshot, startConsole, unnamedControls } from './harness.mjs';

let sb;
let browser;

before(async () => {
  sb = await startConsole('console-settings');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sb?.stop();
});

describe('settings in the browser', () => {
  it('(h) Audio devices: --audio none is explained, the three pickers are off, Refresh re-lists', async () => {
    const status = await sb.api('GET', '/audio');
    assert.equal(status.enabled, false, 'the harness runs the console with --audio none');

    const { page, errors } = await openConsole(browser.context, sb);
    await page.keyboard.press('4');
    const section = page.getByTestId('audio-devices');
    await section.getByRole('heading', { name: 'Audio devices' }).waitFor();
    await section.getByTestId('audio-unavailable').getByText('This console runs without sound devices').waitFor();

    for (const [label, none] of [
      ['Microphone', /^System default/],
      ['Headset / speaker', /^System default/],
      ['Ring device', /^Same as headset$/],
    ]) {
      const picker = section.getByLabel(label, { exact: true });
      assert.equal(await picker.isDisabled(), true, `${label} is disabled`);
      const first = await picker.locator('option').first().textContent();
      assert.match(first ?? '', none, `${label} offers ${none}`);
      // The explanation is the picker's description, for screen readers.
      const described = await picker.getAttribute('aria-describedby');
      assert.match(described ?? '', /\baudio-why\b/, `${label} is described by the reason`);
    }

    // Refresh re-lists the devices (GET /audio/devices); the pickers stay off. Listing works
    // with --audio none; a machine whose sound system refuses it gets the reason in words.
    const listed = page.waitForResponse((r) => r.url().endsWith('/api/v1/audio/devices'));
    await section.getByRole('button', { name: 'Refresh' }).click();
    const reply = await listed;
    await section.getByRole('button', { name: 'Refresh' }).and(page.locator(':enabled')).waitFor();
    assert.equal(await section.getByLabel('Microphone', { exact: true }).isDisabled(), true);
    if (reply.status() === 200) {
      assert.equal(await section.locator('[role="alert"]').count(), 0, 'no error shown');
    } else {
      assert.match(await section.locator('[role="alert"]').innerText(), /cannot be listed/);
    }

    // In a browser the page's own ring sound stays on by default.
    assert.equal(await page.getByLabel('Ring while an inbound call waits').isChecked(), true);

    assert.deepEqual(await unnamedControls(page), []);
    await screenshot(page, 'h-settings-audio');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('(h2) The dial pad asks for dial tone in the headset while it waits for a number, and stops it', async () => {
    const { page, errors } = await openConsole(browser.context, sb);
    const tones = [];
    page.on('request', (r) => {
      if (r.method() === 'PUT' && r.url().endsWith('/api/v1/audio/tone')) tones.push(JSON.parse(r.postData() ?? '{}').tone);
    });
    // Each step's request, awaited after the step (the wait is set up before it).
    const step = async (action) => {
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/audio/tone') && r.status() === 200);
      await action();
      await answered;
    };
    const field = page.getByLabel('Number or SIP URI to call');
    await step(() => field.focus());
    await step(() => field.pressSequentially('10'));
    assert.deepEqual(tones, ['dial', null], 'dial tone on focus, off at the first digit');
    await step(() => field.fill(''));
    await step(() => field.blur());
    assert.deepEqual(tones, ['dial', null, 'dial', null], 'again when emptied, off when the focus leaves');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
