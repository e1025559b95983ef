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
const fs = require('node:fs');
const { spawn, execFile } = require('node:child_process');
const { chromium } = require('playwright-core');
const { startEnv } = require('./helpers');

const EXAMPLE = path.resolve(__dirname, '../../../examples/system-health');
const SHOTS = path.resolve(__dirname, '../screenshots');

let env;
let site;
let browser;

function exampleEnv() {
  return {
    ...process.env,
    NODE_PATH: path.resolve(__dirname, '../node_modules'),
    CLARION_HOST: '127.0.0.1',
    CLARION_PORT: String(env.server.port),
    CLARION_APP_ID: env.app.id,
    CLARION_KEY: env.app.key,
    CLARION_SECRET: env.app.secret,
  };
}

function startSite() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['serve.js'], { cwd: EXAMPLE, env: { ...exampleEnv(), PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('serve.js did not start')), 10000);
    child.stdout.on('data', (d) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(d));
      if (m) { clearTimeout(timer); resolve({ child, url: m[1] }); }
    });
    child.on('exit', (code) => reject(new Error(`serve.js exited with ${code}`)));
  });
}

function run(file, args, cwd = EXAMPLE) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: exampleEnv(), timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

before(async () => {
  env = await startEnv();
  site = await startSite();
  browser = await chromium.launch({ executablePath: process.env.CLARION_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
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

  await run(process.execPath, ['publish.js', '--once', '--degraded']);
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
  await run(process.env.CLARION_BIN || path.resolve(__dirname, '../../../target/debug/clarion'), [
    'trigger', '--url', `http://127.0.0.1:${env.server.port}`, '--app-id', env.app.id,
    '--channel', 'system-health', '--event', 'App\\Events\\SystemHealthUpdated', '--data', JSON.stringify({ health }),
  ]);
  for (const page of [echoPage, ssePage]) {
    await page.waitForFunction(() => document.body.dataset.updates === '2', null, { timeout: 5000 });
    assert.equal(await page.locator('#global').textContent(), 'healthy');
    assert.equal(await page.locator('[data-service="ai_service"] .latency').textContent(), '52ms');
    assert.equal(await page.locator('#cpu').textContent(), '23.5%');
  }
  await run(process.execPath, ['publish.js', '--once', '--degraded']);
  await echoPage.waitForFunction(() => document.body.dataset.updates === '3', null, { timeout: 5000 });
  fs.mkdirSync(SHOTS, { recursive: true });
  await echoPage.screenshot({ path: path.join(SHOTS, 'system-health.png') });
});
