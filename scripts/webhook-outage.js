#!/usr/bin/env node
'use strict';
// Measures webhook delivery across a receiver outage: Clarion (default
// webhook settings) gets one new channel subscribed every 1000/rate ms
// while the receiver is down for --down seconds; then the receiver comes up
// and the script reports when every channel_occupied event arrived, how
// many requests it took, and any loss or duplicate. With --nodes N (> 1) it
// runs N nodes on a redis-server of its own and every channel is
// subscribed on every node: still one event per channel is expected.
//
//   node scripts/webhook-outage.js --bin target/release/clarion --down 60 --rate 10 [--nodes 2]
//
// Needs the npm packages of tests/clients (run `npm ci` there first).
const http = require('node:http');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const Pusher = require(path.join(__dirname, '../tests/clients/node_modules/pusher-js'));
const PusherServer = require(path.join(__dirname, '../tests/clients/node_modules/pusher'));

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const bin = args.bin || 'target/release/clarion';
const downSeconds = Number(args.down || 60);
const rate = Number(args.rate || 10);
const nodes = Number(args.nodes || 1);

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

(async () => {
  const hookPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clarion-outage-'));
  const children = [];
  const scaling = {};
  if (nodes > 1) {
    const redisPort = await freePort();
    const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    children.push(redis);
    for (let i = 0; i < 100; i += 1) {
      const up = await new Promise((r) => { const c = net.connect(redisPort, '127.0.0.1', () => { c.end(); r(true); }); c.on('error', () => r(false)); });
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    Object.assign(scaling, { REVERB_SCALING_ENABLED: 'true', REDIS_URL: `redis://127.0.0.1:${redisPort}/0` });
  }
  const ports = [];
  for (let i = 0; i < nodes; i += 1) {
    const proc = spawn(path.resolve(bin), ['--host', '127.0.0.1', '--port', '0'], {
      cwd: dir,
      env: { PATH: process.env.PATH, RUST_LOG: 'warn,clarion=info', REVERB_APP_ID: '1000', REVERB_APP_KEY: 'app-key',
        REVERB_APP_SECRET: 'app-secret', CLARION_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/hook`,
        CLARION_WEBHOOK_EVENT_TYPES: 'channel_occupied', CLARION_DRAIN_PAUSE: '0', ...scaling },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(proc);
    ports.push(await new Promise((resolve) => {
      let out = '';
      proc.stderr.on('data', (c) => { out += c; const m = /listening on [0-9.]+:(\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    }));
  }
  const port = ports[0];
  const sdk = new PusherServer({ appId: '1000', key: 'app-key', secret: 'app-secret', host: '127.0.0.1', port: String(port) });
  const seen = new Map();
  let requests = 0;
  let failedAttempts = 0;
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      requests += 1;
      const hook = sdk.webhook({ headers: req.headers, rawBody: body });
      if (!hook.isValid()) { failedAttempts += 1; res.writeHead(401).end(); return; }
      for (const e of hook.getEvents()) seen.set(e.id, (seen.get(e.id) || 0) + 1);
      res.writeHead(200).end();
    });
  });
  const clients = ports.map((p) => new Pusher('app-key', { wsHost: '127.0.0.1', wsPort: p, forceTLS: false, enabledTransports: ['ws'], cluster: 'mt1', disableStats: true }));
  await Promise.all(clients.map((c) => new Promise((r) => c.connection.bind('connected', r))));
  const started = Date.now();
  let channels = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      for (const client of clients) client.subscribe(`outage-${channels}`);
      channels += 1;
      if (Date.now() - started >= downSeconds * 1000) { clearInterval(timer); resolve(); }
    }, 1000 / rate);
  });
  await new Promise((r) => receiver.listen(hookPort, '127.0.0.1', r));
  const up = Date.now();
  while (seen.size < channels && Date.now() - up < 400_000) await new Promise((r) => setTimeout(r, 20));
  const done = Date.now();
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  console.log(JSON.stringify({
    nodes, receiver_down_s: (up - started) / 1000, events: channels, delivered_unique: seen.size, lost: channels - seen.size,
    duplicates, requests, invalid_requests: failedAttempts,
    all_delivered_after_up_s: (done - up) / 1000,
  }));
  for (const client of clients) client.disconnect();
  for (const child of children.reverse()) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  receiver.close();
  fs.rmSync(dir, { recursive: true, force: true });
})();
