'use strict';
// Shared harness for the real-client compatibility suite.
//
// - startServer(): writes a TOML config, spawns the clarion binary, waits for
//   its "listening on HOST:PORT" log line; stop() sends SIGTERM and asserts
//   that the process exits within a few seconds.
// - startAuthBackend(): a tiny node:http server playing the Laravel app
//   (POST /broadcasting/auth and /broadcasting/user-auth), signing with the
//   official `pusher` server SDK exactly as Laravel's broadcaster does.
// - Env: one server + one backend + one SDK per test file, plus factories for
//   pusher-js and laravel-echo clients that are all disconnected in close().
// - waitFor()/collector()/onceBound(): event-driven waiting with a timeout;
//   no test uses sleeps for synchronisation.
// - startRedis(): a throwaway redis-server on a free loopback port (for the
//   cluster tests; startServer({scaling}) points clarion at it).
// - signJwt(): an HS256 JWT from node:crypto, for Clarion's built-in
//   channel-authorisation endpoint (startServer({env}) turns it on with
//   CLARION_AUTH_JWT_SECRET).

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert/strict');

const PusherClient = require('pusher-js');
const PusherServer = require('pusher');

const APP = { id: '1000', key: 'app-key', secret: 'app-secret' };
const DEFAULT_TIMEOUT = Number(process.env.CLIENT_TEST_TIMEOUT_MS || 5000);
const PACKAGE_DIR = path.resolve(__dirname, '..');
const DEFAULT_BIN = path.resolve(PACKAGE_DIR, '../../target/debug/clarion');

// ---------------------------------------------------------------- waiting

/**
 * Resolve when `register(resolve, reject)` calls resolve; reject after `ms`.
 * `register` may return a cleanup function, always called once settled.
 */
function waitFor(register, ms = DEFAULT_TIMEOUT, label = 'event') {
  return new Promise((resolve, reject) => {
    let cleanup = null;
    let settled = false;
    const finish = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (typeof cleanup === 'function') {
        try { cleanup(); } catch (_) { /* ignore */ }
      }
      fn(value);
    };
    const timer = setTimeout(
      () => finish(reject, new Error(`timed out after ${ms} ms waiting for ${label}`)),
      ms,
    );
    try {
      cleanup = register((v) => finish(resolve, v), (e) => finish(reject, e));
      if (settled && typeof cleanup === 'function') cleanup();
    } catch (e) {
      finish(reject, e);
    }
  });
}

/** Wait for the next emission of `eventName` on a pusher-js bindable (channel, connection, user); resolves with its data. */
function onceBound(bindable, eventName, ms = DEFAULT_TIMEOUT, label) {
  return waitFor((resolve) => {
    const cb = (data) => resolve(data);
    bindable.bind(eventName, cb);
    return () => bindable.unbind(eventName, cb);
  }, ms, label || `'${eventName}'`);
}

/**
 * A callback that records every call's first argument in `.calls` (and the
 * second, pusher-js's metadata, in `.metas`); next() resolves with the next
 * not-yet-consumed first argument (already-received ones return at once).
 */
function collector(label = 'callback') {
  const calls = [];
  const metas = [];
  let consumed = 0;
  const waiters = [];
  const fn = (data, meta) => {
    calls.push(data);
    metas.push(meta);
    while (waiters.length && consumed < calls.length) {
      waiters.shift()(calls[consumed++]);
    }
  };
  fn.calls = calls;
  fn.metas = metas;
  fn.next = (ms = DEFAULT_TIMEOUT) => {
    if (consumed < calls.length) return Promise.resolve(calls[consumed++]);
    return waitFor((resolve) => {
      waiters.push(resolve);
      return () => {
        const i = waiters.indexOf(resolve);
        if (i >= 0) waiters.splice(i, 1);
      };
    }, ms, label);
  };
  return fn;
}

/** Poll an async predicate until it returns a truthy value (for HTTP-visible state). */
async function eventually(fn, ms = DEFAULT_TIMEOUT, label = 'condition', everyMs = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${label}; last: ${
        last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---------------------------------------------------------------- server

function tomlString(s) {
  return JSON.stringify(String(s));
}

function tomlValue(v) {
  if (typeof v === 'string') return tomlString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  throw new Error(`unsupported TOML value ${JSON.stringify(v)}`);
}

/**
 * apps: [{id,key,secret, ...flat per-app options}]
 * sections (optional): {name: {key: value}} → extra flat TOML tables
 * (`server` is merged into the [server] table),
 * e.g. {scaling: {enabled: true, url: 'redis://…', channel: '…'}}.
 */
function buildConfig(apps, sections = {}) {
  // No drain pause and no spread: SIGTERM closes every socket at once, so
  // stopping a test server takes no seconds (drain tests set their own).
  const server = { host: '127.0.0.1', port: 0, drain_pause: 0, drain_spread: 0, ...(sections.server || {}) };
  const lines = ['[server]'];
  for (const [k, v] of Object.entries(server)) {
    if (v === undefined || v === null) continue;
    lines.push(`${k} = ${tomlValue(v)}`);
  }
  lines.push('');
  for (const app of apps) {
    lines.push('[[apps]]');
    for (const [k, v] of Object.entries(app)) {
      if (v === undefined || v === null) continue;
      lines.push(`${k} = ${tomlValue(v)}`);
    }
    lines.push('');
  }
  for (const [name, table] of Object.entries(sections)) {
    if (!table || name === 'server') continue;
    lines.push(`[${name}]`);
    for (const [k, v] of Object.entries(table)) {
      if (v === undefined || v === null) continue;
      lines.push(`${k} = ${tomlValue(v)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function serverEnv(extra = {}) {
  // Clarion reads Reverb's environment variables (REVERB_*, REDIS_*) with
  // higher precedence than the TOML file; keep the host's ones out. `extra`
  // is the test's own (e.g. REVERB_APP_ID + CLARION_AUTH_JWT_SECRET).
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(REVERB_|REDIS_|PUSHER_|CLARION_)/.test(k)) continue;
    env[k] = v;
  }
  if (!env.RUST_LOG) env.RUST_LOG = 'info';
  return { ...env, ...extra };
}

/**
 * Start clarion. options.apps overrides the app list (default: the single
 * 1000/app-key/app-secret app, merged with options.app). options.scaling,
 * if given, becomes the [scaling] table (Redis clustering). options.server
 * adds [server] options (e.g. {drain_pause: 1, drain_spread: 2}).
 * options.env adds environment variables for the clarion process.
 */
async function startServer(options = {}) {
  const bin = process.env.CLARION_BIN
    ? path.resolve(process.env.CLARION_BIN)
    : DEFAULT_BIN;
  if (!fs.existsSync(bin)) {
    throw new Error(`clarion binary not found at ${bin}; run \`cargo build\` in the repo root or set CLARION_BIN`);
  }
  const apps = options.apps || [{ ...APP, ...(options.app || {}) }];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clarion-client-tests-'));
  const configPath = path.join(dir, 'clarion.toml');
  const sections = { server: options.server, scaling: options.scaling };
  const configText = buildConfig(apps, sections);
  fs.writeFileSync(configPath, configText);

  // cwd = the temp dir so that no stray .env file is picked up.
  const proc = spawn(bin, ['--config', configPath], {
    cwd: dir,
    env: serverEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let exitInfo = null;
  exited.then((info) => { exitInfo = info; });

  let port;
  let host;
  let startupListener = null;
  try {
    ({ host, port } = await waitFor((resolve, reject) => {
      const onData = (chunk) => {
        output += chunk.toString();
        const m = /listening on ([0-9.]+):(\d+)/.exec(output);
        if (m) resolve({ host: m[1], port: Number(m[2]) });
      };
      const onExit = (code, signal) => reject(new Error(
        `clarion exited before listening (code ${code}, signal ${signal}). Output:\n${output}`));
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('exit', onExit);
      proc.once('error', reject);
      startupListener = onData;
      return () => { proc.removeListener('exit', onExit); };
    }, 15000, 'clarion "listening on" log line'));
  } catch (e) {
    proc.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    e.message += `\nconfig:\n${configText}\noutput so far:\n${output}`;
    throw e;
  }
  // Keep draining output so the child never blocks on a full pipe.
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 1_000_000) output = output.slice(-500_000);
  };
  // `keep` takes over from the startup listener (both attached, every later
  // chunk would be recorded twice); swapped in one step so no chunk is lost.
  proc.stdout.removeListener('data', startupListener);
  proc.stderr.removeListener('data', startupListener);
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);

  let stopping = null;
  return {
    host,
    port,
    proc,
    configPath,
    output: () => output,
    /** SIGTERM, then assert exit within `ms`; SIGKILL as a last resort. Idempotent. */
    stop(ms = 5000) {
      if (!stopping) stopping = stopOnce(ms);
      return stopping;
    },
  };

  async function stopOnce(ms) {
    try {
      if (exitInfo) {
        throw new Error(`clarion had already exited unexpectedly: ${JSON.stringify(exitInfo)}\n${output.slice(-4000)}`);
      }
      proc.kill('SIGTERM');
      const result = await Promise.race([
        exited,
        new Promise((r) => setTimeout(() => r(null), ms).unref()),
      ]);
      if (result === null) {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`clarion did not exit within ${ms} ms of SIGTERM\n${output.slice(-4000)}`);
      }
      return result;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

// ---------------------------------------------------------------- JWTs (built-in auth endpoint)

function base64url(data) {
  return Buffer.from(data).toString('base64url');
}

/** An HS256 JWT of `claims` signed with `secret` (what an identity provider would issue). */
function signJwt(claims, secret) {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify(claims));
  const signature = crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

// ---------------------------------------------------------------- redis (cluster tests)

/** A loopback port that was free a moment ago (bind to :0, read it, close). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Send PING over a fresh TCP connection; resolves true on "+PONG", false on anything else. */
function redisPing(port, ms = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok) => { clearTimeout(timer); sock.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), ms);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (c) => {
      buf += c.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
  });
}

/**
 * Start a throwaway `redis-server` (no persistence) on a free 127.0.0.1 port
 * and wait until it answers PING. Throws, with a clear message, when
 * redis-server is not installed (REDIS_SERVER_BIN overrides the command).
 * Retries with a new port if another process grabbed the chosen one.
 * Returns {port, url, output(), stop()}; stop() is idempotent.
 */
async function startRedis({ attempts = 3, ms = 10000 } = {}) {
  const bin = process.env.REDIS_SERVER_BIN || 'redis-server';
  let lastError;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = await freePort();
    const proc = spawn(bin, [
      '--port', String(port), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', 'no',
      '--dir', os.tmpdir(),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    let exitInfo = null;
    let spawnError = null;
    const exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => { exitInfo = { code, signal }; resolve(exitInfo); });
      proc.once('error', (e) => { spawnError = e; exitInfo = exitInfo || { error: e }; resolve(exitInfo); });
    });
    const deadline = Date.now() + ms;
    let up = false;
    while (!exitInfo && Date.now() < deadline) {
      up = await redisPing(port);
      if (up) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    if (spawnError && spawnError.code === 'ENOENT') {
      throw new Error(`redis-server not found (tried \`${bin}\` on PATH): the cluster tests need a real Redis. `
        + 'Install it (e.g. `apt-get install redis-server`) or set REDIS_SERVER_BIN to its path.');
    }
    if (up && !exitInfo) {
      let stopping = null;
      return {
        port,
        url: `redis://127.0.0.1:${port}/0`,
        proc,
        output: () => output,
        stop(stopMs = 3000) {
          if (!stopping) {
            stopping = (async () => {
              if (exitInfo) return exitInfo;
              proc.kill('SIGTERM');
              const r = await Promise.race([exited, new Promise((res) => setTimeout(() => res(null), stopMs).unref())]);
              if (r === null) {
                proc.kill('SIGKILL');
                return exited;
              }
              return r;
            })();
          }
          return stopping;
        },
      };
    }
    if (!exitInfo) {
      proc.kill('SIGKILL');
      await exited;
    }
    lastError = new Error(`redis-server on port ${port} did not answer PING (attempt ${attempt}/${attempts}, `
      + `exit ${JSON.stringify(exitInfo)}${spawnError ? `, ${spawnError.message}` : ''}). Output:\n${output}`);
    // Only a lost race for the port is worth another try.
    if (!/address already in use/i.test(output)) break;
  }
  throw lastError;
}

// ---------------------------------------------------------------- auth backend (the "Laravel app")

const USERS = {
  1: { id: 1, name: 'Taylor' },
  2: { id: 2, name: 'Joe' },
  3: { id: 3, name: 'Nuno' },
  42: { id: 42, name: 'Signed-in User' },
  43: { id: 43, name: 'Other User' },
};

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/**
 * POST /broadcasting/auth?user=ID[&deny=1][&forge=1]
 *   private-*: pusher.authorizeChannel(socket_id, channel)
 *   presence-*: pusher.authorizeChannel(socket_id, channel, {user_id, user_info})
 *   no user or deny=1 → 403 (like Laravel's AccessDeniedHttpException)
 *   forge=1 → 200 with a well-formed but wrong signature
 * POST /broadcasting/user-auth?user=ID[&watch=ID,ID…] → pusher.authenticateUser(socket_id,
 *   {id, name[, watchlist]}); `watch` becomes the signed watchlist (string user ids)
 */
async function startAuthBackend(sdk) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const body = await readBody(req);
    const form = new URLSearchParams(body);
    const socketId = form.get('socket_id');
    const channel = form.get('channel_name');
    const userId = url.searchParams.get('user');
    const user = userId ? (USERS[userId] || { id: Number(userId), name: `User ${userId}` }) : null;
    requests.push({ path: url.pathname, user: userId, socketId, channel });
    const send = (status, obj) => {
      const text = JSON.stringify(obj);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      if (req.method !== 'POST') return send(405, { message: 'Method not allowed' });
      if (url.pathname === '/broadcasting/auth') {
        if (!user || url.searchParams.get('deny')) return send(403, { message: 'This action is unauthorized.' });
        if (!socketId || !channel) return send(422, { message: 'socket_id and channel_name required' });
        if (url.searchParams.get('forge')) {
          return send(200, { auth: `${APP.key}:${'0'.repeat(64)}` });
        }
        if (channel.startsWith('presence-')) {
          // Laravel: user_id = (string) getAuthIdentifierForBroadcasting(), user_info = channel callback result.
          return send(200, sdk.authorizeChannel(socketId, channel, { user_id: String(user.id), user_info: user }));
        }
        if (channel.startsWith('private-')) {
          return send(200, sdk.authorizeChannel(socketId, channel));
        }
        return send(403, { message: 'not an authorizable channel' });
      }
      if (url.pathname === '/broadcasting/user-auth') {
        if (!user || url.searchParams.get('deny')) return send(403, { message: 'Unauthenticated.' });
        const userData = { id: String(user.id), name: user.name };
        const watch = url.searchParams.get('watch');
        if (watch !== null) userData.watchlist = watch === '' ? [] : watch.split(',');
        return send(200, sdk.authenticateUser(socketId, userData));
      }
      return send(404, { message: 'Not found' });
    } catch (e) {
      return send(500, { message: String(e && e.message) });
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    requests,
    authUrl: (query = {}) => `${base}/broadcasting/auth?${new URLSearchParams(query)}`,
    userAuthUrl: (query = {}) => `${base}/broadcasting/user-auth?${new URLSearchParams(query)}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// ---------------------------------------------------------------- clients

// pusher-js's Node transport is faye-websocket. When the server closes a
// socket with a 4xxx code, pusher-js reacts by calling close() on the
// already-closed faye socket, which arms a 30 s close timer that is never
// cleared and keeps the test process alive. Track the sockets pusher-js
// creates so close() can clear that timer on sockets that are already
// CLOSED (sockets still closing are left alone: they clear it themselves
// when the server completes the close handshake).
const fayeSockets = new Set();
{
  const runtime = PusherClient.Runtime;
  const create = runtime.createWebSocket;
  runtime.createWebSocket = function createWebSocket(url) {
    const ws = create.call(this, url);
    fayeSockets.add(ws);
    return ws;
  };
}
function clearClosedSocketTimers() {
  for (const ws of fayeSockets) {
    if (ws.readyState !== 3 /* CLOSED */) continue;
    if (ws._closeTimer) clearTimeout(ws._closeTimer);
    fayeSockets.delete(ws);
  }
}

let echoModule = null;
async function loadEcho() {
  // laravel-echo is an ES module package; its CommonJS build cannot be
  // require()d from Node because the package is "type": "module".
  if (!echoModule) echoModule = await import('laravel-echo');
  return echoModule.default;
}

/** Record every frame a pusher-js instance receives and sends (for waiting and diagnostics). */
function instrument(pusher, name) {
  const frames = [];
  const listeners = new Set();
  pusher.connection.bind('message', (msg) => {
    const f = { dir: 'in', event: msg.event, channel: msg.channel, data: msg.data, user_id: msg.user_id };
    frames.push(f);
    for (const l of [...listeners]) l(f);
  });
  const conn = pusher.connection;
  const origSend = conn.send_event.bind(conn);
  conn.send_event = (event, data, channel) => {
    frames.push({ dir: 'out', event, channel, data });
    return origSend(event, data, channel);
  };
  const errors = [];
  pusher.connection.bind('error', (e) => errors.push(e));
  const states = [];
  pusher.connection.bind('state_change', (s) => states.push(s.current));
  return {
    name,
    frames,
    errors,
    states,
    /** Wait for a received frame matching pred (only frames arriving from now on, unless fromStart). */
    waitFrame(pred, ms = DEFAULT_TIMEOUT, label = 'frame', fromStart = false) {
      if (fromStart) {
        const hit = frames.find((f) => f.dir === 'in' && pred(f));
        if (hit) return Promise.resolve(hit);
      }
      return waitFor((resolve) => {
        const l = (f) => { if (pred(f)) resolve(f); };
        listeners.add(l);
        return () => listeners.delete(l);
      }, ms, `${label} on ${name}`);
    },
    dump(last = 30) {
      return frames.slice(-last).map((f) => `${f.dir === 'in' ? '<-' : '->'} ${JSON.stringify(f)}`).join('\n');
    },
  };
}

async function connected(pusher, ms = DEFAULT_TIMEOUT) {
  if (pusher.connection.state === 'connected') return pusher.connection.socket_id;
  await onceBound(pusher.connection, 'connected', ms, 'connection state "connected"');
  return pusher.connection.socket_id;
}

/** Deep search for {code: N} anywhere in a pusher-js error object. */
function hasErrorCode(obj, code, depth = 0) {
  if (!obj || typeof obj !== 'object' || depth > 5) return false;
  if (obj.code === code) return true;
  return Object.values(obj).some((v) => hasErrorCode(v, code, depth + 1));
}

async function startEnv(serverOptions = {}) {
  const server = await startServer(serverOptions);
  let backend;
  const clients = [];
  try {
    const sdk = new PusherServer({
      appId: APP.id,
      key: APP.key,
      secret: APP.secret,
      host: '127.0.0.1',
      port: String(server.port),
      useTLS: false,
      // For private-encrypted-* channels: the SDK encrypts event data and
      // returns shared_secret from authorizeChannel; the server never sees it.
      encryptionMasterKeyBase64: crypto.randomBytes(32).toString('base64'),
    });
    backend = await startAuthBackend(sdk);

    const clientOptions = (opts = {}) => ({
      wsHost: '127.0.0.1',
      wsPort: server.port,
      forceTLS: false,
      enabledTransports: ['ws'],
      cluster: 'mt1',
      disableStats: true,
      ...opts,
    });

    const env = {
      server,
      /** A URL on the Clarion server, e.g. clarionUrl('/app/app-key/auth'). */
      clarionUrl: (pathname) => `http://127.0.0.1:${server.port}${pathname}`,
      backend,
      sdk,
      app: APP,
      clients,
      /**
       * A pusher-js client. opts.user picks the auth user, opts.watchlist (user
       * ids) goes into its signed user_data; other opts go to pusher-js.
       */
      pusher(opts = {}) {
        const { user, key, name, watchlist, ...rest } = opts;
        const userQuery = user === undefined ? {} : { user: String(user) };
        const watchQuery = watchlist === undefined ? {} : { watch: watchlist.map(String).join(',') };
        const p = new PusherClient(key || APP.key, clientOptions({
          channelAuthorization: { endpoint: backend.authUrl(userQuery), transport: 'ajax' },
          userAuthentication: { endpoint: backend.userAuthUrl({ ...userQuery, ...watchQuery }), transport: 'ajax' },
          ...rest,
        }));
        p.rec = instrument(p, name || `pusher#${clients.length + 1}${user !== undefined ? `(user ${user})` : ''}`);
        clients.push({ kind: 'pusher', client: p, pusher: p });
        return p;
      },
      /** A Laravel Echo instance (broadcaster 'reverb' or 'pusher'). */
      async echo(opts = {}) {
        const Echo = await loadEcho();
        const { user, broadcaster = 'reverb', authQuery = {}, name, ...rest } = opts;
        const userQuery = user === undefined ? {} : { user: String(user) };
        const base = {
          broadcaster,
          key: APP.key,
          wsHost: '127.0.0.1',
          wsPort: server.port,
          wssPort: server.port,
          forceTLS: false,
          enabledTransports: ['ws'],
          disableStats: true,
          Pusher: PusherClient,
          authEndpoint: backend.authUrl({ ...userQuery, ...authQuery }),
          userAuthentication: { endpoint: backend.userAuthUrl(userQuery), headers: {} },
        };
        // Echo's 'reverb' broadcaster forces cluster '', the 'pusher' one needs a cluster.
        if (broadcaster === 'pusher') base.cluster = 'mt1';
        const echo = new Echo({ ...base, ...rest });
        const p = echo.connector.pusher;
        p.rec = instrument(p, name || `echo#${clients.length + 1}(${broadcaster}${user !== undefined ? `, user ${user}` : ''})`);
        echo.rec = p.rec;
        clients.push({ kind: 'echo', client: echo, pusher: p });
        return echo;
      },
      /**
       * Ordering barrier: trigger an event on a channel only `pusher` is
       * subscribed to and wait for it. Anything the server queued for that
       * socket before the barrier event has been delivered by then.
       */
      async barrier(pusher, ms = DEFAULT_TIMEOUT) {
        const channelName = `barrier-${pusher.connection.socket_id.replace('.', '-')}`;
        let ch = pusher.channel(channelName);
        if (!ch || !ch.subscribed) {
          ch = pusher.subscribe(channelName);
          await onceBound(ch, 'pusher:subscription_succeeded', ms, `subscription to ${channelName}`);
        }
        const token = `${Date.now()}-${Math.random()}`;
        const got = waitFor((resolve) => {
          const cb = (d) => { if (d && d.token === token) resolve(d); };
          ch.bind('barrier', cb);
          return () => ch.unbind('barrier', cb);
        }, ms, `barrier event on ${channelName}`);
        await sdk.trigger(channelName, 'barrier', { token });
        await got;
      },
      async getJson(pathname, params) {
        const res = await sdk.get({ path: pathname, params });
        assert.equal(res.status, 200, `GET ${pathname} status`);
        return res.json();
      },
      /** Disconnect every client created so far. */
      disconnectAll() {
        while (clients.length) {
          const { client } = clients.pop();
          try { client.disconnect(); } catch (_) { /* ignore */ }
        }
      },
      async close() {
        env.disconnectAll();
        clearClosedSocketTimers();
        const errors = [];
        try { await backend.close(); } catch (e) { errors.push(e); }
        try { await server.stop(); } catch (e) { errors.push(e); }
        if (errors.length) throw errors[0];
      },
    };
    return env;
  } catch (e) {
    for (const { client } of clients) { try { client.disconnect(); } catch (_) { /* ignore */ } }
    if (backend) await backend.close().catch(() => {});
    await server.stop().catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------- cluster barrier

/**
 * Cross-node barrier: trigger, through `via`'s HTTP API, an event on a channel
 * only `pusher` (connected to the other node) has joined, and wait for it.
 * Whatever `via` published before (events, presence joins/leaves) has been
 * applied on the other node by then.
 */
async function crossBarrier(via, pusher) {
  const name = `barrier-x-${pusher.connection.socket_id.replace('.', '-')}`;
  let ch = pusher.channel(name);
  if (!ch || !ch.subscribed) {
    ch = pusher.subscribe(name);
    await onceBound(ch, 'pusher:subscription_succeeded', undefined, `subscription to ${name}`);
  }
  const token = crypto.randomBytes(8).toString('hex');
  const got = waitFor((resolve) => {
    const cb = (d) => { if (d && d.token === token) resolve(d); };
    ch.bind('barrier', cb);
    return () => ch.unbind('barrier', cb);
  }, undefined, `cross-node barrier on ${name}`);
  const res = await via.sdk.trigger(name, 'barrier', { token });
  assert.equal(res.status, 200, 'barrier trigger reached the cluster');
  await got;
}

module.exports = {
  APP,
  DEFAULT_TIMEOUT,
  USERS,
  PusherClient,
  PusherServer,
  buildConfig,
  collector,
  connected,
  crossBarrier,
  eventually,
  freePort,
  hasErrorCode,
  loadEcho,
  onceBound,
  signJwt,
  startAuthBackend,
  startEnv,
  startRedis,
  startServer,
  waitFor,
};
