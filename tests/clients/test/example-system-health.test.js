'use strict';
// Proves: examples/system-health (seed 000) in a real browser. Two copies
// of the widget are open in headless Chromium at once, one on Laravel Echo
// and one on Server-Sent Events. One update from the example's publisher
// (publish.js, the pusher Node SDK, as Laravel broadcasts
// App\Events\SystemHealthUpdated) reaches both; then one from
// `clarion trigger` does too. A screenshot of the Echo widget is saved.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { startEnv } = require('./helpers');
const { exampleEnv, launchChromium, run, screenshot, startSite } = require('./examples');

let env;
let site;
let browser;

before(async () => {
  env = await startEnv();
  site = await startSite('system-health', 'serve.js', exampleEnv(env));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  site?.child.kill();
  await env?.close();
});

test('one update reaches the Echo widget and the SSE widget', async () => {
  const echoPage = await browser.newPage({ viewport: { width: 460, height: 420 } });
  const ssePage = await browser.newPage();
  await echoPage.goto(site.url);
  await ssePage.goto(`${site.url}?transport=sse`);
  for (const page of [echoPage, ssePage]) {
    await page.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: 10000 });
  }

  await run('system-health', process.execPath, ['publish.js', '--once', '--degraded'], exampleEnv(env));
  for (const page of [echoPage, ssePage]) {
    await page.waitForFunction(() => document.body.dataset.updates === '1', null, { timeout: 5000 });
    assert.equal(await page.locator('#global').textContent(), 'degraded');
    assert.equal(await page.locator('[data-service="ai_service"] .indicator').getAttribute('class'), 'indicator degraded');
    assert.equal(await page.locator('[data-service="database"] .indicator').getAttribute('class'), 'indicator healthy');
    assert.match(await page.locator('#cpu').textContent(), /^\d+(\.\d)?%$/);
  }

  const health = {
    global_status: 'healthy',
    timestamp: new Date().toISOString(),
    services: { database: { status: 'healthy', latency_ms: 4 }, redis: { status: 'healthy', latency_ms: 1 }, ai_service: { status: 'healthy', latency_ms: 52 }, scraper_service: { status: 'healthy', latency_ms: 31 } },
    droplet: { cpu_usage: 23.5, memory: 1024, region: 'fra1' },
  };
  await run('system-health', process.env.CLARION_BIN || path.resolve(__dirname, '../../../target/debug/clarion'), [
    'trigger', '--url', `http://127.0.0.1:${env.server.port}`, '--app-id', env.app.id,
    '--channel', 'system-health', '--event', 'App\\Events\\SystemHealthUpdated', '--data', JSON.stringify({ health }),
  ], exampleEnv(env));
  for (const page of [echoPage, ssePage]) {
    await page.waitForFunction(() => document.body.dataset.updates === '2', null, { timeout: 5000 });
    assert.equal(await page.locator('#global').textContent(), 'healthy');
    assert.equal(await page.locator('[data-service="ai_service"] .latency').textContent(), '52ms');
    assert.equal(await page.locator('#cpu').textContent(), '23.5%');
  }
  await run('system-health', process.execPath, ['publish.js', '--once', '--degraded'], exampleEnv(env));
  await echoPage.waitForFunction(() => document.body.dataset.updates === '3', null, { timeout: 5000 });
  await screenshot(echoPage, 'system-health');
});
