'use strict';
// Proves: on SIGTERM Clarion closes connected pusher-js clients with close
// code 4200 ("reconnect immediately", so real clients move to another
// replica at once) and exits promptly (within 5 s) with status 0, even
// though clients are still connected and subscribed.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, waitFor, connected, onceBound, hasErrorCode } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

test('SIGTERM closes clients with 4200 and the server exits within 5 s', async () => {
  const p = env.pusher({ name: 'connected-at-shutdown' });
  await connected(p);
  await onceBound(p.subscribe('shutdown-test'), 'pusher:subscription_succeeded');

  const closed = waitFor((resolve) => {
    const cb = (e) => { if (hasErrorCode(e, 4200)) resolve(e); };
    p.connection.bind('error', cb);
    return () => p.connection.unbind('error', cb);
  }, undefined, 'pusher-js error carrying close code 4200');
  // 4200 means "reconnect immediately": pusher-js goes straight to connecting.
  const reconnecting = waitFor((resolve) => {
    const cb = (s) => { if (s.current === 'connecting') resolve(s); };
    p.connection.bind('state_change', cb);
    return () => p.connection.unbind('state_change', cb);
  }, undefined, 'pusher-js to start reconnecting');
  const started = Date.now();
  const exit = await env.server.stop(5000);
  assert.ok(Date.now() - started < 5000);
  assert.equal(exit.code, 0, `clean exit status after SIGTERM (got ${JSON.stringify(exit)})`);
  await closed;
  const change = await reconnecting;
  assert.equal(change.previous, 'connected', 'no intermediate "disconnected" state: an immediate retry');
  // pusher-js now retries against a dead port; stop it (only once it is
  // connecting, or its pending retry would restart it after disconnect()).
  p.disconnect();
});
