'use strict';
// Proves: examples/panic-alerts (seed 002) end to end as deployed: two
// Clarion replicas linked through a real redis-server, behind nginx running
// deploy/nginx.conf (upstreams and port rewritten for this machine), the
// built-in auth endpoint answering /broadcasting/auth for a bearer JWT.
// A browser (Echo in headless Chromium) and a "mobile" client (the
// example's mobile.py, pysher) subscribe to private-security-dashboard
// through nginx; the example's backend raises and acknowledges an alert
// with the pusher SDK through nginx; both clients see both events, and
// the public panic-alerts channel carries no resident details.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { startEnv, startRedis, eventually, freePort, waitFor } = require('./helpers');
const { exampleDir, launchChromium, screenshot, spawnReady } = require('./examples');

const EXAMPLE = exampleDir('panic-alerts');
const JWT_SECRET = 'panic-jwt-secret';
const nginxConf = require(path.join(EXAMPLE, 'nginx-conf.js'));

let redis; let nodeA; let nodeB; let nginx; let nginxPort; let site; let browser;

before(async () => {
  redis = await startRedis();
  const scaling = { enabled: true, url: redis.url, channel: `panic-${process.pid}-${crypto.randomBytes(4).toString('hex')}` };
  const env = { REVERB_APP_ID: '1000', CLARION_AUTH_JWT_SECRET: JWT_SECRET };
  nodeA = await startEnv({ scaling, env });
  nodeB = await startEnv({ scaling, env });
  for (const node of [nodeA, nodeB]) {
    await eventually(async () => (await node.sdk.get({ path: '/channels' })).status === 200, 15000, 'the replica linked to Redis');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clarion-nginx-'));
  nginxPort = await freePort();
  const conf = nginxConf.write(dir, nginxPort, [nodeA.server.port, nodeB.server.port]);
  nginx = spawn('nginx', ['-p', dir, '-c', conf], { stdio: 'inherit' });
  await eventually(async () => (await fetch(`http://127.0.0.1:${nginxPort}/up`)).ok, 10000, 'nginx in front of the replicas');
  site = await spawnReady(process.execPath, ['server.js'], {
    cwd: EXAMPLE,
    env: { ...process.env, NODE_PATH: path.resolve(__dirname, '../node_modules'), PORT: '0', BALANCER_PORT: String(nginxPort), JWT_SECRET },
  }, /(http:\/\/127\.0\.0\.1:\d+\/)/, 'server.js');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  site?.child.kill();
  nginx?.kill('SIGQUIT');
  for (const node of [nodeA, nodeB]) await node?.close();
  await redis?.stop();
});

test('an alert reaches the browser and the mobile client through nginx and two replicas', async () => {
  const python = process.env.CLARION_PYTHON;
  assert.ok(python, 'CLARION_PYTHON must name a python with pysher (scripts/test.sh sets it)');
  const backend = site.match[1].replace(/\/$/, '');
  const page = await browser.newPage({ viewport: { width: 700, height: 420 } });
  await page.goto(`${backend}/`);
  await page.waitForFunction(() => document.body.dataset.subscribed === 'yes', null, { timeout: 15000 });

  const mobile = await spawnReady(python, ['mobile.py', '--count', '2'], {
    cwd: EXAMPLE,
    env: { ...process.env, BALANCER_PORT: String(nginxPort), BACKEND: backend },
  }, /"subscribed": true/, 'mobile.py');
  const mobileDone = new Promise((resolve) => mobile.child.on('exit', resolve));

  // A public listener straight on replica B sees the public variant.
  const watcher = nodeB.pusher({ name: 'public watcher' });
  const pub = watcher.subscribe('panic-alerts');
  await waitFor((resolve) => pub.bind('pusher:subscription_succeeded', resolve), undefined, 'public subscription');
  const publicAlert = waitFor((resolve) => pub.bind('panic-alert.triggered', resolve), undefined, 'public alert');

  await page.click('#raise');
  await page.waitForSelector('li.active', { timeout: 10000 });
  assert.match(await page.locator('li.active .where').textContent(), /Tower B, floor 3/);
  const open = await publicAlert;
  assert.deepEqual(Object.keys(open.alert).sort(), ['id', 'location', 'status', 'triggered_at']);

  const res = await fetch(`${backend}/api/alerts/${open.alert.id}/acknowledge`, { method: 'POST' });
  assert.equal(res.status, 200);
  await page.waitForSelector('li.acknowledged', { timeout: 10000 });

  assert.equal(await mobileDone, 0, `mobile.py did not see both events:\n${mobile.out()}`);
  const lines = mobile.out().split('\n').filter((l) => l.startsWith('{"event"')).map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.event, l.data.alert.status]), [['panic-alert.triggered', 'active'], ['panic-alert.updated', 'acknowledged']]);
  assert.equal(lines[0].data.alert.resident, 'Apartment 304', 'the private channel carries the details');

  await page.click('#raise');
  await page.waitForSelector('li.active', { timeout: 10000 });
  await screenshot(page, 'panic-alerts');
  watcher.disconnect();
});
