'use strict';
// Proves: with [server.tls] (here through CLARION_TLS_CERT/CLARION_TLS_KEY)
// Clarion serves wss:// and https:// on its one port, and the published
// clients use it as they would use Pusher or Reverb behind TLS: pusher-js
// with forceTLS (wssPort), Laravel Echo's reverb broadcaster with forceTLS,
// and the `pusher` SDK with useTLS for the HTTP API.
//
// Node reads NODE_EXTRA_CA_CERTS only at start-up, and pusher-js takes no
// CA option, so this file runs twice: the outer run makes a throwaway CA
// and a certificate for 127.0.0.1/localhost with openssl, then runs this
// same file in a child `node --test` that trusts that CA (and nothing
// is ever told to skip certificate checks).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const https = require('node:https');

const CHILD = process.env.CLARION_TLS_TEST_DIR;

if (!CHILD) {
  test('the TLS suite passes in a node that trusts the test CA', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clarion-tls-'));
    try {
      makeCertificates(dir);
      // Without the runner's marker, so the child runs its tests itself.
      const { NODE_TEST_CONTEXT: _marker, ...env } = process.env;
      const child = spawnSync(process.execPath, ['--test', '--test-reporter=tap', __filename], {
        env: { ...env, CLARION_TLS_TEST_DIR: dir, NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') },
        encoding: 'utf8',
        timeout: 120_000,
      });
      const output = `${child.stdout}\n${child.stderr}`;
      assert.equal(child.status, 0, `the TLS suite failed:\n${output}`);
      const passed = /# pass (\d+)/.exec(output);
      assert.ok(passed && Number(passed[1]) >= 4, `expected the TLS tests to run:\n${output}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
} else {
  childSuite(CHILD);
}

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** ca.pem/ca.key, and cert.pem/key.pem for localhost and 127.0.0.1 signed by it. */
function makeCertificates(dir) {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=clarion-node-test-ca', '-keyout', 'ca.key', '-out', 'ca.pem']);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost',
    '-keyout', 'key.pem', '-out', 'server.csr']);
  fs.writeFileSync(path.join(dir, 'san.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-CAcreateserial', '-days', '1', '-extfile', 'san.ext', '-out', 'cert.pem']);
}

function childSuite(dir) {
  const {
    APP, PusherClient, PusherServer, collector, connected, loadEcho, onceBound,
    startAuthBackend, startServer, waitFor,
  } = require('./helpers');

  let server;
  let sdk;
  let backend;
  const clients = [];

  before(async () => {
    server = await startServer({
      env: { CLARION_TLS_CERT: path.join(dir, 'cert.pem'), CLARION_TLS_KEY: path.join(dir, 'key.pem') },
    });
    sdk = new PusherServer({
      appId: APP.id, key: APP.key, secret: APP.secret,
      host: 'localhost', port: String(server.port), useTLS: true,
    });
    backend = await startAuthBackend(sdk);
  });

  after(async () => {
    for (const c of clients) { try { c.disconnect(); } catch (_) { /* ignore */ } }
    await backend?.close();
    await server?.stop();
  });

  function pusher(opts = {}) {
    const p = new PusherClient(APP.key, {
      wsHost: 'localhost',
      wssPort: server.port,
      forceTLS: true,
      // pusher-js's transport is called 'ws'; forceTLS makes it wss://.
      enabledTransports: ['ws'],
      cluster: 'mt1',
      disableStats: true,
      channelAuthorization: { endpoint: backend.authUrl({ user: '1' }), transport: 'ajax' },
      ...opts,
    });
    clients.push(p);
    return p;
  }

  test('pusher-js with forceTLS connects over wss:// and receives an event the SDK publishes with useTLS', async () => {
    const p = pusher();
    await connected(p);
    assert.match(p.connection.socket_id, /^\d+\.\d+$/);
    const ch = p.subscribe('news');
    await onceBound(ch, 'pusher:subscription_succeeded');
    const got = collector('headline');
    ch.bind('headline', got);
    const res = await sdk.trigger('news', 'headline', { text: 'over TLS' });
    assert.equal(res.status, 200);
    assert.deepEqual(await got.next(), { text: 'over TLS' });
  });

  test('a private channel is authorised and a client event reaches the other member over wss://', async () => {
    const [a, b] = [pusher(), pusher()];
    const [chA, chB] = [a.subscribe('private-tls'), b.subscribe('private-tls')];
    await Promise.all([
      onceBound(chA, 'pusher:subscription_succeeded'),
      onceBound(chB, 'pusher:subscription_succeeded'),
    ]);
    const got = collector('client-typing');
    chB.bind('client-typing', got);
    chA.trigger('client-typing', { who: 'a' });
    assert.deepEqual(await got.next(), { who: 'a' });
  });

  test('Echo (reverb broadcaster) with forceTLS receives a broadcast', async () => {
    const Echo = await loadEcho();
    const echo = new Echo({
      broadcaster: 'reverb',
      key: APP.key,
      wsHost: 'localhost',
      wsPort: server.port,
      wssPort: server.port,
      forceTLS: true,
      enabledTransports: ['ws'],
      disableStats: true,
      Pusher: PusherClient,
    });
    clients.push(echo);
    const got = collector('.OrderShipped');
    const ch = echo.channel('orders');
    ch.listen('.OrderShipped', got);
    await waitFor((resolve) => { ch.subscribed(resolve); }, undefined, 'Echo subscribed over wss');
    await sdk.trigger('orders', 'OrderShipped', { id: 7 });
    assert.deepEqual(await got.next(), { id: 7 });
  });

  test('the SDK queries the HTTP API over https://, and a plain http:// request gets no answer', async () => {
    const res = await sdk.get({ path: '/channels', params: {} });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(typeof body.channels, 'object');
    // /up over https with the CA from NODE_EXTRA_CA_CERTS.
    const up = await new Promise((resolve, reject) => {
      https.get({ host: 'localhost', port: server.port, path: '/up' }, (r) => {
        let text = '';
        r.on('data', (c) => { text += c; });
        r.on('end', () => resolve({ status: r.statusCode, text }));
      }).on('error', reject);
    });
    assert.deepEqual(up, { status: 200, text: '{"health":"OK"}' });
    // Plain HTTP to the TLS port fails instead of being answered in clear.
    const plain = new PusherServer({
      appId: APP.id, key: APP.key, secret: APP.secret,
      host: 'localhost', port: String(server.port), useTLS: false, timeout: 3000,
    });
    await assert.rejects(plain.trigger('news', 'nope', {}));
  });
}
