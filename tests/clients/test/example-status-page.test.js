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
const path = require('node:path');
const fs = require('node:fs');
const { spawn, execFile } = require('node:child_process');
const { chromium } = require('playwright-core');
const { startEnv } = require('./helpers');

const EXAMPLE = path.resolve(__dirname, '../../../examples/status-page');
const NODE_PATH = path.resolve(__dirname, '../node_modules');
const SHOTS = path.resolve(__dirname, '../screenshots');

let env;
let site;
let browser;

function exampleEnv() {
  return {
    ...process.env,
    NODE_PATH,
    CLARION_HOST: '127.0.0.1',
    CLARION_PORT: String(env.server.port),
    CLARION_APP_ID: env.app.id,
    CLARION_KEY: env.app.key,
    CLARION_SECRET: env.app.secret,
    ORG_ID: '7',
  };
}

function startSite() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['serve.js'], {
      cwd: EXAMPLE,
      env: { ...exampleEnv(), PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => reject(new Error('serve.js did not start')), 10000);
    child.stdout.on('data', (d) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(d));
      if (m) { clearTimeout(timer); resolve({ child, url: m[1] }); }
    });
    child.on('exit', (code) => reject(new Error(`serve.js exited with ${code}`)));
  });
}

function run(file, args) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: EXAMPLE, env: exampleEnv(), timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(args[0])} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

before(async () => {
  env = await startEnv();
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

test('the status page follows the Node and Python publishers live', async () => {
  const python = process.env.CLARION_PYTHON;
  assert.ok(python, 'CLARION_PYTHON must name a python with the pusher SDK (scripts/test.sh sets it)');
  const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
  await page.goto(site.url);
  await page.waitForSelector('#connection.connected', { timeout: 10000 });
  const pill = (id) => page.locator(`li[data-id="${id}"] .pill`);

  await run(process.execPath, ['publish.js', 'degrade', 'incident']);
  await page.waitForFunction(() => document.querySelector('li[data-id="incident-101"]'), null, { timeout: 5000 });
  assert.equal(await pill('service-1').textContent(), 'degraded performance');
  assert.equal(await pill('incident-101').textContent(), 'investigating');

  await run(python, ['publish.py', 'update', 'resolve', 'recover']);
  await page.waitForFunction(() => document.querySelector('li[data-id="incident-101"] .pill')?.textContent === 'resolved', null, { timeout: 5000 });
  await page.waitForFunction(() => document.querySelector('li[data-id="service-1"] .pill')?.textContent === 'operational', null, { timeout: 5000 });

  await run(process.execPath, ['publish.js', 'maintenance']);
  await run(python, ['publish.py', 'start']);
  await page.waitForFunction(() => document.querySelector('li[data-id="maintenance-201"] .pill')?.textContent === 'in progress', null, { timeout: 5000 });
  assert.equal(await page.locator('li[data-id="maintenance-201"] span').first().textContent(), 'Database upgrade, Sunday 02:00 UTC');
  assert.match(await page.locator('#last-update').textContent(), /maintenance\.started/);

  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'status-page.png'), fullPage: true });
  await page.close();
});
