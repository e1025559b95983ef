#!/usr/bin/env node
'use strict';
// Measures webhook delivery across a receiver outage: a Clarion server
// (default webhook settings) gets one new channel subscribed every
// 1000/rate ms while the receiver is down for --down seconds; then the
// receiver comes up and the script reports when every channel_occupied
// event arrived, how many requests it took, and any loss or duplicate.
//
//   node scripts/webhook-outage.js --bin target/release/clarion --down 60 --rate 10
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

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

(async () => {
  const hookPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clarion-outage-'));
  const proc = spawn(path.resolve(bin), ['--host', '127.0.0.1', '--port', '0'], {
    cwd: dir,
    env: { PATH: process.env.PATH, RUST_LOG: 'warn,clarion=info', REVERB_APP_ID: '1000', REVERB_APP_KEY: 'app-key',
      REVERB_APP_SECRET: 'app-secret', CLARION_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/hook`,
      CLARION_WEBHOOK_EVENT_TYPES: 'channel_occupied' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await new Promise((resolve) => {
    let out = '';
    proc.stderr.on('data', (c) => { out += c; const m = /listening on [0-9.]+:(\d+)/.exec(out); if (m) resolve(Number(m[1])); });
  });
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
  const client = new Pusher('app-key', { wsHost: '127.0.0.1', wsPort: port, forceTLS: false, enabledTransports: ['ws'], cluster: 'mt1', disableStats: true });
  await new Promise((r) => client.connection.bind('connected', r));
  const started = Date.now();
  let channels = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      client.subscribe(`outage-${channels}`);
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
    receiver_down_s: (up - started) / 1000, events: channels, delivered_unique: seen.size, lost: channels - seen.size,
    duplicates, requests, invalid_requests: failedAttempts,
    all_delivered_after_up_s: (done - up) / 1000,
  }));
  client.disconnect();
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  receiver.close();
  fs.rmSync(dir, { recursive: true, force: true });
})();
