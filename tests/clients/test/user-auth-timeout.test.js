'use strict';
// Proves: with the per-app option `user_authentication_timeout` set, a
// pusher-js client that never calls signin() is disconnected once the
// timeout passes (close code 4009, so pusher-js does not reconnect), while a
// client that signed in in time stays connected and keeps receiving
// sendToUser events.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, collector, waitFor, connected, hasErrorCode } = require('./helpers');

const TIMEOUT_S = 2;

let env;
before(async () => { env = await startEnv({ app: { user_authentication_timeout: TIMEOUT_S } }); });
after(async () => { await env?.close(); });

test('unsigned client is disconnected after user_authentication_timeout; signed-in client stays', async () => {
  // Signed-in client first: its deadline passes before the unsigned one's.
  const signed = env.pusher({ user: 42, name: 'signed(user 42)' });
  const userChannel = signed.rec.waitFrame(
    (f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === '#server-to-user-42',
    undefined, 'subscription to #server-to-user-42');
  signed.signin();
  await userChannel;

  const unsigned = env.pusher({ name: 'unsigned' });
  await connected(unsigned);
  const dropped = waitFor((resolve) => {
    const cb = (s) => { if (s.previous === 'connected') resolve(s); };
    unsigned.connection.bind('state_change', cb);
    return () => unsigned.connection.unbind('state_change', cb);
  }, (TIMEOUT_S + 5) * 1000, 'unsigned client to be disconnected');
  const change = await dropped;
  assert.equal(change.current, 'disconnected',
    `close code 4009 makes pusher-js stop, not reconnect\n${unsigned.rec.dump()}\nerrors: ${JSON.stringify(unsigned.rec.errors)}`);
  assert.ok(unsigned.rec.errors.some((e) => hasErrorCode(e, 4009)),
    `an error with code 4009 was reported; got ${JSON.stringify(unsigned.rec.errors)}`);

  assert.equal(signed.connection.state, 'connected', 'the signed-in client is still connected');
  const notice = collector('user 42 notice');
  signed.user.bind('notice', notice);
  await env.sdk.sendToUser('42', 'notice', { ok: true });
  assert.deepEqual(await notice.next(), { ok: true });
});
