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
const path = require('node:path');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { chromium } = require('playwright-core');
const { startEnv } = require('./helpers');

const EXAMPLE = path.resolve(__dirname, '../../../examples/container-dashboard');
const SHOTS = path.resolve(__dirname, '../screenshots');
const JWT_SECRET = 'example-jwt-secret';

let env;
let site;
let browser;

function startSite() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['server.js'], {
      cwd: EXAMPLE,
      env: {
        ...process.env,
        NODE_PATH: path.resolve(__dirname, '../node_modules'),
        PORT: '0',
        CLARION_HOST: '127.0.0.1',
        CLARION_PORT: String(env.server.port),
        CLARION_APP_ID: env.app.id,
        CLARION_KEY: env.app.key,
        CLARION_SECRET: env.app.secret,
        JWT_SECRET,
        METRICS_EVERY_MS: '250',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => reject(new Error('server.js did not start')), 10000);
    child.stdout.on('data', (d) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(d));
      if (m) { clearTimeout(timer); resolve({ child, url: m[1] }); }
    });
    child.on('exit', (code) => reject(new Error(`server.js exited with ${code}`)));
  });
}

before(async () => {
  env = await startEnv({ env: { REVERB_APP_ID: '1000', CLARION_AUTH_JWT_SECRET: JWT_SECRET } });
  site = await startSite();
  browser = await chromium.launch({
    executablePath: process.env.CLARION_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
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
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'container-dashboard.png'), fullPage: true });

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
