'use strict';
// Proves: examples/status-page (seed 003) works end to end in a real
// browser. Headless Chromium loads the page served by the example's own
// serve.js; the page's Echo connects to Clarion; the example's own
// publishers — publish.js (the pusher Node SDK) and publish.py (the
// official Python SDK) — publish steps of the status timeline, and every
// badge and list on the page follows. A screenshot of the final page is
// saved under tests/clients/screenshots/.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv } = require('./helpers');
const { exampleEnv, launchChromium, run, screenshot, startSite } = require('./examples');

let env;
let site;
let browser;
const publisherEnv = () => exampleEnv(env, { ORG_ID: '7' });

before(async () => {
  env = await startEnv();
  site = await startSite('status-page', 'serve.js', publisherEnv());
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  site?.child.kill();
  await env?.close();
});

test('the status page follows the Node and Python publishers live', async () => {
  const python = process.env.CLARION_PYTHON;
  assert.ok(python, 'CLARION_PYTHON must name a python with the pusher SDK (scripts/test.sh sets it)');
  const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
  await page.goto(site.url);
  await page.waitForSelector('#connection.connected', { timeout: 10000 });
  const pill = (id) => page.locator(`li[data-id="${id}"] .pill`);

  await run('status-page', process.execPath, ['publish.js', 'degrade', 'incident'], publisherEnv());
  await page.waitForFunction(() => document.querySelector('li[data-id="incident-101"]'), null, { timeout: 5000 });
  assert.equal(await pill('service-1').textContent(), 'degraded performance');
  assert.equal(await pill('incident-101').textContent(), 'investigating');

  await run('status-page', python, ['publish.py', 'update', 'resolve', 'recover'], publisherEnv());
  await page.waitForFunction(() => document.querySelector('li[data-id="incident-101"] .pill')?.textContent === 'resolved', null, { timeout: 5000 });
  await page.waitForFunction(() => document.querySelector('li[data-id="service-1"] .pill')?.textContent === 'operational', null, { timeout: 5000 });

  await run('status-page', process.execPath, ['publish.js', 'maintenance'], publisherEnv());
  await run('status-page', python, ['publish.py', 'start'], publisherEnv());
  await page.waitForFunction(() => document.querySelector('li[data-id="maintenance-201"] .pill')?.textContent === 'in progress', null, { timeout: 5000 });
  assert.equal(await page.locator('li[data-id="maintenance-201"] span').first().textContent(), 'Database upgrade, Sunday 02:00 UTC');
  assert.match(await page.locator('#last-update').textContent(), /maintenance\.started/);

  await screenshot(page, 'status-page', { fullPage: true });
  await page.close();
});
