'use strict';
// The container platform's backend (seeds 001/004), reduced to what the
// dashboard needs: start/stop/idle actions that publish the seed's events
// — deployment_progress, container_status_changed, metrics_updated (every
// 2 s while running) and auto_shutdown — to the user's private channel
// private-user.{id} through Clarion's HTTP API (official pusher SDK), and a
// demo login that hands the page a JWT for Clarion's built-in auth.
//
// Run (Clarion with the built-in endpoint on, from the repository root):
//   REVERB_APP_ID=1000 REVERB_APP_KEY=app-key REVERB_APP_SECRET=app-secret \
//   CLARION_AUTH_JWT_SECRET=dev-jwt-secret cargo run --release
//   cd examples/container-dashboard && npm install && npm start
// then open http://127.0.0.1:3001/ (?transport=echo for WebSockets).
//
// Environment: PORT (3001; 0 picks one), CLARION_HOST (127.0.0.1),
// CLARION_PORT (8080), CLARION_APP_ID (1000), CLARION_KEY (app-key),
// CLARION_SECRET (app-secret), JWT_SECRET (dev-jwt-secret: the same as
// Clarion's CLARION_AUTH_JWT_SECRET), METRICS_EVERY_MS (2000).

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const Pusher = require('pusher');

const clarion = {
  host: process.env.CLARION_HOST || '127.0.0.1',
  port: Number(process.env.CLARION_PORT || 8080),
  appId: process.env.CLARION_APP_ID || '1000',
  key: process.env.CLARION_KEY || 'app-key',
  secret: process.env.CLARION_SECRET || 'app-secret',
};
const jwtSecret = process.env.JWT_SECRET || 'dev-jwt-secret';
const metricsEvery = Number(process.env.METRICS_EVERY_MS || 2000);
const USER = { id: '42', name: 'Ada' };
const channel = `private-user.${USER.id}`;

const pusher = new Pusher({
  appId: clarion.appId, key: clarion.key, secret: clarion.secret,
  host: clarion.host, port: String(clarion.port), useTLS: false,
});

// What a login would issue: HS256 with the secret Clarion checks.
function jwt(claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${crypto.createHmac('sha256', jwtSecret).update(body).digest('base64url')}`;
}

const containers = new Map([['proj-123', { id: 'proj-123', name: 'shop-frontend', status: 'stopped', timer: null, requests: 0, started: 0 }]]);
const publish = (event, data) => pusher.trigger(channel, event, { ...data, timestamp: new Date().toISOString() });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function start(c) {
  if (c.status === 'running' || c.status === 'deploying') return;
  c.status = 'deploying';
  await publish('container_status_changed', { projectId: c.id, status: 'deploying', notify: false });
  const steps = [['pull', 'Pulling image shop-frontend:1.4.2', 'info'], ['build', 'Starting container', 'info'], ['health', 'Health check passed', 'success']];
  for (const [i, [step, message, level]] of steps.entries()) {
    await sleep(150);
    await publish('deployment_progress', { projectId: c.id, step, progress: Math.round(((i + 1) / steps.length) * 100), message, level });
  }
  c.status = 'running';
  c.started = Date.now();
  await publish('container_status_changed', { projectId: c.id, status: 'running', notify: true });
  const tick = () => {
    c.requests += Math.floor(Math.random() * 40);
    const minutes = Math.floor((Date.now() - c.started) / 60000);
    publish('metrics_updated', {
      projectId: c.id,
      metrics: { cpu: +(20 + Math.random() * 50).toFixed(1), memory: Math.floor(200 + Math.random() * 120), requests: c.requests, uptime: `${Math.floor(minutes / 60)}h ${minutes % 60}m`, lastActivity: new Date().toISOString() },
    }).catch(() => {});
  };
  tick();
  c.timer = setInterval(tick, metricsEvery);
}

async function stop(c, status = 'stopped') {
  clearInterval(c.timer);
  c.timer = null;
  c.status = status;
  await publish('container_status_changed', { projectId: c.id, status, notify: true });
}

async function idle(c) {
  await stop(c, 'inactive');
  await publish('auto_shutdown', { projectId: c.id, reason: 'No requests for 30 minutes', inactiveTime: 1800 });
}

const files = {
  '/': ['public/index.html', 'text/html'],
  '/app.js': ['public/app.js', 'text/javascript'],
  '/style.css': ['public/style.css', 'text/css'],
};
function packageDir(name) {
  let dir = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const vendor = {
  '/vendor/pusher.js': path.join(packageDir('pusher-js'), 'dist/web/pusher.min.js'),
  '/vendor/echo.js': path.join(packageDir('laravel-echo'), 'dist/echo.iife.js'),
};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const send = (status, type, body) => { res.writeHead(status, { 'content-type': type }); res.end(body); };
  try {
    if (req.method === 'GET' && url.pathname === '/api/session') {
      const token = jwt({ sub: USER.id, exp: Math.floor(Date.now() / 1000) + 3600, channels: ['private-user.{sub}'], user_info: { name: USER.name } });
      return send(200, 'application/json', JSON.stringify({ user: USER, token, clarion: { host: clarion.host, port: clarion.port, key: clarion.key }, containers: [...containers.values()].map(({ id, name, status }) => ({ id, name, status })) }));
    }
    const action = /^\/api\/containers\/([^/]+)\/(start|stop|idle)$/.exec(url.pathname);
    if (req.method === 'POST' && action) {
      const c = containers.get(action[1]);
      if (!c) return send(404, 'application/json', '{"error":"no such container"}');
      await { start, stop, idle }[action[2]](c);
      return send(202, 'application/json', JSON.stringify({ id: c.id, status: c.status }));
    }
    if (files[url.pathname]) return send(200, files[url.pathname][1], fs.readFileSync(path.join(__dirname, files[url.pathname][0])));
    if (vendor[url.pathname]) return send(200, 'text/javascript', fs.readFileSync(vendor[url.pathname]));
    send(404, 'text/plain', 'Not found');
  } catch (e) {
    send(502, 'application/json', JSON.stringify({ error: String(e.message || e) }));
  }
});

server.listen(Number(process.env.PORT ?? 3001), '127.0.0.1', () => {
  console.log(`container dashboard on http://127.0.0.1:${server.address().port}/`);
});
process.on('SIGTERM', () => { for (const c of containers.values()) clearInterval(c.timer); server.close(); process.exit(0); });
