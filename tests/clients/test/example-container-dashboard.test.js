'use strict';
// Proves: examples/container-dashboard (seeds 001/004) works in a real
// browser on both transports. Headless Chromium loads the dashboard served
// by the example's server.js. With ?transport=sse the page's own
// EventSource reads Clarion's event stream of private-user.42 with the JWT
// in ?token=; with ?transport=echo, Laravel Echo subscribes to the same
// private channel through Clarion's built-in auth endpoint with the JWT as
// a bearer token. Clicking Start/Stop/idle makes the example's backend
// publish deployment_progress, container_status_changed, metrics_updated
// and auto_shutdown with the pusher SDK, and the badge, progress bar, logs,
// metrics and chart follow. A screenshot is saved under screenshots/.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv } = require('./helpers');
const { exampleEnv, launchChromium, screenshot, startSite } = require('./examples');

const JWT_SECRET = 'example-jwt-secret';

let env;
let site;
let browser;

before(async () => {
  env = await startEnv({ env: { REVERB_APP_ID: '1000', CLARION_AUTH_JWT_SECRET: JWT_SECRET } });
  site = await startSite('container-dashboard', 'server.js', exampleEnv(env, { JWT_SECRET, METRICS_EVERY_MS: '250' }));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  site?.child.kill();
  await env?.close();
});

const text = (page, id) => page.locator(`#${id}`).textContent();

test('over Server-Sent Events with ?token=: start, live metrics, auto shutdown', async () => {
  const page = await browser.newPage({ viewport: { width: 820, height: 900 } });
  await page.goto(`${site.url}?transport=sse`);
  await page.waitForSelector('#connection.connected', { timeout: 10000 });
  await page.click('#start');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'running', null, { timeout: 10000 });
  await page.waitForFunction(() => Number(document.body.dataset.metrics || 0) >= 4, null, { timeout: 10000 });
  assert.equal(await page.locator('#progress-bar').getAttribute('style'), 'width: 100%;');
  const logs = await page.locator('#logs li').allTextContents();
  assert.ok(logs.some((l) => l.includes('[health] Health check passed (100%)')), logs.join('\n'));
  assert.match(await text(page, 'cpu'), /^\d+(\.\d)?%$/);
  assert.match(await text(page, 'memory'), /^\d+ MB$/);
  await screenshot(page, 'container-dashboard', { fullPage: true });

  await page.click('#idle');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'inactive', null, { timeout: 10000 });
  assert.match(await text(page, 'alert'), /No requests for 30 minutes/);
  assert.equal(await page.locator('#alert').isVisible(), true);
  await page.close();
});

test('over Laravel Echo with the built-in auth endpoint: start and stop', async () => {
  const page = await browser.newPage();
  await page.goto(`${site.url}?transport=echo`);
  await page.waitForFunction(() => document.body.dataset.subscribed === 'yes', null, { timeout: 10000 });
  await page.click('#start');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'running', null, { timeout: 10000 });
  await page.waitForFunction(() => Number(document.body.dataset.metrics || 0) >= 2, null, { timeout: 10000 });
  await page.click('#stop');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'stopped', null, { timeout: 10000 });
  await page.close();
});
