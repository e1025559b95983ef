'use strict';
// Proves: Pusher user authentication works with the real clients:
//  - pusher-js signin() → POST /broadcasting/user-auth (signed by the
//    `pusher` SDK's authenticateUser) → pusher:signin → the server answers
//    pusher:signin_success and pusher-js subscribes #server-to-user-{id}
//  - backend pusher.sendToUser('42', ...) reaches only that user
//    (pusher.user.bind), not another signed-in user
//  - backend pusher.terminateUserConnections('42') disconnects that user's
//    connection with code 4009, so pusher-js does not reconnect; other
//    users stay connected
//  - terminateUserConnections also disconnects a presence member with that
//    user id (Reverb's semantics, which Laravel apps rely on).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, collector, waitFor, connected, hasErrorCode } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

async function signedIn(user, name) {
  const p = env.pusher({ user, name });
  const success = p.rec.waitFrame((f) => f.event === 'pusher:signin_success', undefined, 'pusher:signin_success');
  const userChannel = p.rec.waitFrame(
    (f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === `#server-to-user-${user}`,
    undefined, `subscription_succeeded for #server-to-user-${user}`);
  p.signin();
  const frame = await success;
  await userChannel;
  return { p, frame };
}

/** Resolves true if the connection goes back to connecting/connected within ms. */
function reconnectsWithin(p, ms) {
  return waitFor((resolve) => {
    const cb = (s) => { if (s.current === 'connecting' || s.current === 'connected') resolve(true); };
    p.connection.bind('state_change', cb);
    return () => p.connection.unbind('state_change', cb);
  }, ms, 'reconnect').catch(() => false);
}

test('signin() → pusher:signin_success, then sendToUser reaches only that user', async () => {
  const { p, frame } = await signedIn(42, 'user42');
  const { p: other } = await signedIn(43, 'user43');

  const signin = p.rec.frames.find((f) => f.dir === 'out' && f.event === 'pusher:signin');
  assert.ok(signin, 'pusher-js sent pusher:signin');
  assert.match(signin.data.auth, /^app-key:[0-9a-f]{64}$/);
  assert.equal(JSON.parse(signin.data.user_data).id, '42');
  assert.equal(JSON.parse(frame.data.user_data).id, '42', 'signin_success echoes the user_data');
  await p.user.signinDonePromise;
  assert.equal(p.user.user_data.id, '42');
  assert.equal(p.user.user_data.name, 'Signed-in User');
  assert.ok(env.backend.requests.some((r) => r.path === '/broadcasting/user-auth' && r.socketId === p.connection.socket_id));

  const notice = collector('user 42 notice');
  const otherNotice = collector('user 43 notice');
  p.user.bind('notice', notice);
  other.user.bind('notice', otherNotice);
  const res = await env.sdk.sendToUser('42', 'notice', { a: 1 });
  assert.equal(res.status, 200);
  assert.deepEqual(await notice.next(), { a: 1 });
  await env.barrier(other);
  assert.equal(otherNotice.calls.length, 0, `user 43 must not get user 42's event\n${other.rec.dump()}`);
});

test('terminateUserConnections disconnects the user (4009, no reconnect); others stay', async () => {
  const { p } = await signedIn(44, 'user44');
  const { p: other } = await signedIn(45, 'user45');

  const firstChange = waitFor((resolve) => {
    const cb = (s) => resolve(s);
    p.connection.bind('state_change', cb);
    return () => p.connection.unbind('state_change', cb);
  }, undefined, 'user 44 connection state change');
  const res = await env.sdk.terminateUserConnections('44');
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});

  const change = await firstChange;
  assert.equal(change.previous, 'connected');
  assert.equal(change.current, 'disconnected',
    `pusher-js goes straight to "disconnected" (close code 4001-4099 = refused), not "connecting"\n${p.rec.dump()}\nerrors: ${JSON.stringify(p.rec.errors)}`);
  assert.ok(p.rec.errors.some((e) => hasErrorCode(e, 4009)),
    `an error with code 4009 was reported; got ${JSON.stringify(p.rec.errors)}`);
  assert.equal(await reconnectsWithin(p, 2000), false, 'pusher-js must not reconnect after a 4009 close');
  assert.equal(p.connection.state, 'disconnected');

  assert.equal(other.connection.state, 'connected');
  const otherNotice = collector('user 45 notice');
  other.user.bind('notice', otherNotice);
  await env.sdk.sendToUser('45', 'notice', { still: 'here' });
  assert.deepEqual(await otherNotice.next(), { still: 'here' });
});

test('terminateUserConnections also disconnects a presence member with that user id', async () => {
  const observer = await env.echo({ user: 1, name: 'observer' });
  const target = await env.echo({ user: 3, name: 'target(user 3)' });
  const chObs = observer.join('terminate.room');
  const chTarget = target.join('terminate.room');
  const leaving = collector('observer leaving()');
  chObs.leaving(leaving);
  await Promise.all([
    waitFor((resolve) => { chObs.here(resolve); }, undefined, 'observer here()'),
    waitFor((resolve) => { chTarget.here(resolve); }, undefined, 'target here()'),
  ]);
  const p = target.connector.pusher;
  const left = waitFor((resolve) => {
    const cb = (s) => { if (s.previous === 'connected') resolve(s); };
    p.connection.bind('state_change', cb);
    return () => p.connection.unbind('state_change', cb);
  }, undefined, 'target connection to leave "connected"');
  await env.sdk.terminateUserConnections('3');
  await left;
  assert.deepEqual(await leaving.next(), { id: 3, name: 'Nuno' });
});
