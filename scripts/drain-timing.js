#!/usr/bin/env node
'use strict';
// Measures a drain with the server's own settings: connects --sockets
// pusher-js clients to a fresh Clarion, sends SIGTERM, and reports when
// /ready turned 503, when the first and last 4200 arrived, and when the
// process exited, all from the moment of the signal.
//
//   node scripts/drain-timing.js --bin target/release/clarion --sockets 200
//
// Extra settings go in the environment (e.g. CLARION_DRAIN_PAUSE=1).
// Needs the npm packages of tests/clients (run `npm ci` there first).
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const Pusher = require(path.join(__dirname, '../tests/clients/node_modules/pusher-js'));

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const bin = path.resolve(args.bin || 'target/release/clarion');
const count = Number(args.sockets || 200);

const ready = (port) => new Promise((resolve) => {
  http.get({ host: '127.0.0.1', port, path: '/ready' }, (res) => { res.resume(); resolve(res.statusCode); })
    .on('error', () => resolve(0));
});

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clarion-drain-'));
  const env = { ...process.env, RUST_LOG: 'warn,clarion=info' };
  const proc = spawn(bin, ['--host', '127.0.0.1', '--port', '0'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => proc.once('exit', () => resolve(Date.now())));
  const port = await new Promise((resolve) => {
    let out = '';
    proc.stderr.on('data', (c) => { out += c; const m = /listening on [0-9.]+:(\d+)/.exec(out); if (m) resolve(Number(m[1])); });
  });
  const closes = [];
  const clients = [];
  for (let i = 0; i < count; i += 1) {
    const p = new Pusher('app-key', { wsHost: '127.0.0.1', wsPort: port, forceTLS: false, enabledTransports: ['ws'], cluster: 'mt1', disableStats: true });
    p.connection.bind('error', (e) => { if (e?.data?.code === 4200) { closes.push(Date.now()); p.disconnect(); } });
    clients.push(p);
  }
  await Promise.all(clients.map((p) => new Promise((r) => { if (p.connection.state === 'connected') r(); else p.connection.bind('connected', r); })));
  const t0 = Date.now();
  proc.kill('SIGTERM');
  let notReady = null;
  while (notReady === null && Date.now() - t0 < 5000) {
    if ((await ready(port)) === 503) notReady = Date.now();
  }
  const exit = await exited;
  closes.sort((a, b) => a - b);
  const s = (t) => (t === null || t === undefined ? null : (t - t0) / 1000);
  const tenths = Array(10).fill(0);
  if (closes.length > 1) {
    const first = closes[0];
    const span = closes[closes.length - 1] - first || 1;
    for (const c of closes) tenths[Math.min(9, Math.floor(((c - first) / span) * 10))] += 1;
  }
  console.log(JSON.stringify({ sockets: count, closes_4200: closes.length, ready_503_s: s(notReady),
    first_4200_s: s(closes[0]), last_4200_s: s(closes[closes.length - 1]), exit_s: s(exit), closes_per_tenth: tenths }));
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
})();
