'use strict';
// The security app's backend of seed 002, reduced to what the dashboard
// needs: POST /api/alerts raises a panic alert and POST
// /api/alerts/:id/acknowledge updates it; each publishes
// `panic-alert.triggered` / `panic-alert.updated` on the private channel
// `security-dashboard` (full details, for guards) and the public channel
// `panic-alerts` (location and state only), through the balancer, with the
// official pusher Node SDK — as Laravel's PanicAlertTriggered and
// PanicAlertUpdated events do. /api/session is a demo login that issues
// the guard's bearer token: a JWT Clarion's built-in endpoint accepts for
// private-security-dashboard.
//
// Environment: PORT (3002; 0 picks one), BALANCER_HOST (127.0.0.1),
// BALANCER_PORT (8080: nginx in front of the replicas), CLARION_APP_ID
// (1000), CLARION_KEY (app-key), CLARION_SECRET (app-secret), JWT_SECRET
// (dev-jwt-secret, as the replicas' CLARION_AUTH_JWT_SECRET).

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const Pusher = require('pusher');

const balancer = { host: process.env.BALANCER_HOST || '127.0.0.1', port: Number(process.env.BALANCER_PORT || 8080) };
const app = { id: process.env.CLARION_APP_ID || '1000', key: process.env.CLARION_KEY || 'app-key', secret: process.env.CLARION_SECRET || 'app-secret' };
const jwtSecret = process.env.JWT_SECRET || 'dev-jwt-secret';

const pusher = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: balancer.host, port: String(balancer.port), useTLS: false });

function jwt(claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${crypto.createHmac('sha256', jwtSecret).update(body).digest('base64url')}`;
}

const alerts = new Map();
let nextId = 1;

async function broadcast(event, alert) {
  await pusher.trigger('private-security-dashboard', event, { alert });
  const { id, location, status, triggered_at } = alert;
  await pusher.trigger('panic-alerts', event, { alert: { id, location, status, triggered_at } });
}

function packageDir(name) {
  let dir = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const files = {
  '/': ['public/index.html', 'text/html'],
  '/app.js': ['public/app.js', 'text/javascript'],
  '/style.css': ['public/style.css', 'text/css'],
};
const vendor = {
  '/vendor/pusher.js': path.join(packageDir('pusher-js'), 'dist/web/pusher.min.js'),
  '/vendor/echo.js': path.join(packageDir('laravel-echo'), 'dist/echo.iife.js'),
};

function readJson(req) {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { try { resolve(JSON.parse(body || '{}')); } catch { resolve({}); } });
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const send = (status, type, body) => { res.writeHead(status, { 'content-type': type }); res.end(body); };
  try {
    if (req.method === 'GET' && url.pathname === '/api/session') {
      const guard = { id: 'guard-7', name: 'Night shift' };
      const token = jwt({ sub: guard.id, exp: Math.floor(Date.now() / 1000) + 3600, channels: ['private-security-dashboard'], user_info: { name: guard.name } });
      return send(200, 'application/json', JSON.stringify({ guard, token, balancer, key: app.key }));
    }
    if (req.method === 'POST' && url.pathname === '/api/alerts') {
      const input = await readJson(req);
      const alert = { id: nextId++, location: input.location || 'Tower B, floor 3', resident: input.resident || 'Apartment 304', status: 'active', triggered_at: new Date().toISOString() };
      alerts.set(alert.id, alert);
      await broadcast('panic-alert.triggered', alert);
      return send(201, 'application/json', JSON.stringify(alert));
    }
    const ack = /^\/api\/alerts\/(\d+)\/acknowledge$/.exec(url.pathname);
    if (req.method === 'POST' && ack && alerts.has(Number(ack[1]))) {
      const alert = { ...alerts.get(Number(ack[1])), status: 'acknowledged', acknowledged_at: new Date().toISOString() };
      alerts.set(alert.id, alert);
      await broadcast('panic-alert.updated', alert);
      return send(200, 'application/json', JSON.stringify(alert));
    }
    if (files[url.pathname]) return send(200, files[url.pathname][1], fs.readFileSync(path.join(__dirname, files[url.pathname][0])));
    if (vendor[url.pathname]) return send(200, 'text/javascript', fs.readFileSync(vendor[url.pathname]));
    send(404, 'text/plain', 'Not found');
  } catch (e) {
    send(502, 'application/json', JSON.stringify({ error: String(e.message || e) }));
  }
});

server.listen(Number(process.env.PORT ?? 3002), '127.0.0.1', () => {
  console.log(`security dashboard on http://127.0.0.1:${server.address().port}/`);
});
