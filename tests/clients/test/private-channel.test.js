'use strict';
// Proves: private channels work end to end the Laravel way. Echo.private()
// makes pusher-js POST socket_id/channel_name to the app's
// /broadcasting/auth (signed here by the official `pusher` SDK), sends the
// token in pusher:subscribe, Clarion verifies it and the client receives
// events. A client whose auth endpoint answers 403 gets Echo's .error()
// (pusher:subscription_error, status 403) and never receives the channel's
// events. A client presenting a forged signature is refused by Clarion
// (pusher:error 4009 as Reverb does, or pusher:subscription_error) and
// never receives the channel's events either. End-to-end encrypted
// channels (Echo.encryptedPrivate) are relayed untouched and decrypted by
// pusher-js with the shared_secret from the auth endpoint.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, collector, waitFor, connected } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

function subscribed(echoChannel, label) {
  return waitFor((resolve) => { echoChannel.subscribed(resolve); }, undefined, label);
}

test('Echo.private() authorizes through /broadcasting/auth and receives events', async () => {
  const echo = await env.echo({ user: 1 });
  const ch = echo.private('App.Models.User.1');
  const got = collector('.Notice');
  ch.listen('.Notice', got);
  await subscribed(ch, 'Echo subscribed to private-App.Models.User.1');

  const sub = echo.rec.frames.find((f) => f.dir === 'out' && f.event === 'pusher:subscribe'
    && f.data.channel === 'private-App.Models.User.1');
  assert.ok(sub, 'pusher:subscribe was sent');
  assert.match(sub.data.auth, /^app-key:[0-9a-f]{64}$/);
  assert.ok(env.backend.requests.some((r) => r.path === '/broadcasting/auth'
    && r.channel === 'private-App.Models.User.1' && r.socketId === echo.socketId()),
  'the auth endpoint was asked with this socket id');

  await env.sdk.trigger('private-App.Models.User.1', 'Notice', { text: 'hello' });
  assert.deepEqual(await got.next(), { text: 'hello' });
});

test('auth endpoint 403 → subscription error, and no events are received', async () => {
  const allowed = await env.echo({ user: 2, name: 'allowed' });
  const denied = await env.echo({ name: 'denied' }); // no user → backend answers 403
  const allowedCh = allowed.private('orders.2');
  const deniedCh = denied.private('orders.2');
  const allowedGot = collector('allowed .Update');
  const deniedGot = collector('denied .Update');
  allowedCh.listen('.Update', allowedGot);
  deniedCh.listen('.Update', deniedGot);
  const allowedSubscribed = subscribed(allowedCh, 'allowed client subscribed');
  const deniedError = waitFor((resolve) => { deniedCh.error(resolve); }, undefined, 'Echo .error() on denied client');

  const error = await deniedError;
  assert.equal(error.type, 'AuthError');
  assert.equal(error.status, 403);
  await allowedSubscribed;

  await env.sdk.trigger('private-orders.2', 'Update', { v: 1 });
  assert.deepEqual(await allowedGot.next(), { v: 1 });
  // Anything queued for the denied socket before the barrier has arrived.
  await env.barrier(denied.connector.pusher);
  assert.equal(deniedGot.calls.length, 0, 'denied client must not receive the event');
  assert.equal(denied.rec.frames.filter((f) => f.dir === 'in' && f.channel === 'private-orders.2').length, 0,
    `no frame for private-orders.2 reaches the denied socket\n${denied.rec.dump()}`);
  assert.equal(denied.rec.frames.filter((f) => f.dir === 'out' && f.event === 'pusher:subscribe'
    && f.data.channel === 'private-orders.2').length, 0, 'pusher-js never sent the subscribe');
});

test('forged signature is refused by the server and no events are received', async () => {
  const good = env.pusher({ user: 3, name: 'good' });
  const forged = env.pusher({
    user: 3,
    name: 'forged',
    channelAuthorization: { endpoint: env.backend.authUrl({ user: '3', forge: '1' }), transport: 'ajax' },
  });
  await Promise.all([connected(good), connected(forged)]);
  const goodCh = good.subscribe('private-forged.1');
  const goodGot = collector('good Update');
  goodCh.bind('Update', goodGot);
  await waitFor((resolve) => { goodCh.bind('pusher:subscription_succeeded', resolve); }, undefined, 'good subscribed');

  const refused = forged.rec.waitFrame(
    (f) => (f.event === 'pusher:error' && f.data && f.data.code === 4009)
      || (f.event === 'pusher:subscription_error' && f.channel === 'private-forged.1')
      || (f.event === 'pusher_internal:subscription_succeeded' && f.channel === 'private-forged.1'),
    undefined, 'refusal of forged subscription');
  const forgedCh = forged.subscribe('private-forged.1');
  const forgedGot = collector('forged Update');
  forgedCh.bind('Update', forgedGot);
  const frame = await refused;
  assert.notEqual(frame.event, 'pusher_internal:subscription_succeeded',
    `server accepted a forged signature\n${forged.rec.dump()}`);
  assert.equal(forgedCh.subscribed, false);

  await env.sdk.trigger('private-forged.1', 'Update', { v: 2 });
  assert.deepEqual(await goodGot.next(), { v: 2 });
  await env.barrier(forged);
  assert.equal(forgedGot.calls.length, 0);
  assert.equal(forged.rec.frames.filter((f) => f.dir === 'in' && f.event === 'Update').length, 0,
    `forged socket must not get the event\n${forged.rec.dump()}`);
  assert.equal(forged.connection.state, 'connected', 'a refused subscription does not close the connection');
});

test('Echo.encryptedPrivate(): ciphertext on the wire, plaintext in the listener', async () => {
  const echo = await env.echo({ user: 1 });
  const ch = echo.encryptedPrivate('secret.1');
  const got = collector('.Secret');
  ch.listen('.Secret', got);
  await subscribed(ch, 'Echo subscribed to private-encrypted-secret.1');
  await env.sdk.trigger('private-encrypted-secret.1', 'Secret', { card: '4242' });
  assert.deepEqual(await got.next(), { card: '4242' });
  const frame = echo.rec.frames.find((f) => f.dir === 'in' && f.event === 'Secret');
  assert.equal(typeof frame.data.nonce, 'string');
  assert.equal(typeof frame.data.ciphertext, 'string');
  assert.ok(!JSON.stringify(frame.data).includes('4242'), 'the server only ever relays ciphertext');
});
