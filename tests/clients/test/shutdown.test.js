'use strict';
// Proves: on SIGTERM Clarion closes connected pusher-js clients with close
// code 4200 ("reconnect immediately", so real clients move to another
// replica at once) and exits promptly (within 5 s) with status 0, even
// though clients are still connected and subscribed. With a drain pause,
// /ready turns 503 while /up stays 200, and pusher-js stays connected and
// keeps receiving events until its 4200 arrives after the pause.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  startEnv, waitFor, connected, onceBound, hasErrorCode, eventually,
} = require('./helpers');

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

test('with a drain pause pusher-js is served until its 4200, then reconnects at once', async () => {
  const PAUSE_MS = 1000;
  const drained = await startEnv({ server: { drain_pause: PAUSE_MS / 1000, drain_spread: 1, shutdown_grace_period: 3 } });
  try {
    const p = drained.pusher({ name: 'connected-while-draining' });
    await connected(p);
    const channel = p.subscribe('drain-test');
    await onceBound(channel, 'pusher:subscription_succeeded');
    const closed = waitFor((resolve) => {
      const cb = (e) => { if (hasErrorCode(e, 4200)) resolve(Date.now()); };
      p.connection.bind('error', cb);
      return () => p.connection.unbind('error', cb);
    }, 6000, 'pusher-js error carrying close code 4200');
    const reconnecting = waitFor((resolve) => {
      const cb = (s) => { if (s.current === 'connecting') resolve(s); };
      p.connection.bind('state_change', cb);
      return () => p.connection.unbind('state_change', cb);
    }, 6000, 'pusher-js to start reconnecting');

    const started = Date.now();
    const stopped = drained.server.stop(8000);
    await eventually(async () => (await fetch(drained.clarionUrl('/ready'))).status === 503,
      PAUSE_MS, '/ready to answer 503');
    const up = await fetch(drained.clarionUrl('/up'));
    assert.equal(up.status, 200, '/up stays 200 while draining');
    const event = onceBound(channel, 'during-the-pause');
    await drained.sdk.trigger('drain-test', 'during-the-pause', { n: 1 });
    assert.deepEqual(await event, { n: 1 });
    assert.equal(p.connection.state, 'connected');

    const closedAt = await closed;
    assert.ok(closedAt - started >= PAUSE_MS * 0.9, `4200 after the pause (${closedAt - started} ms)`);
    const change = await reconnecting;
    assert.equal(change.previous, 'connected', 'an immediate retry');
    const exit = await stopped;
    assert.equal(exit.code, 0, `clean exit status after SIGTERM (got ${JSON.stringify(exit)})`);
    p.disconnect();
  } finally {
    await drained.close();
  }
});
