'use strict';
// Proves: Clarion's built-in channel-authorisation endpoint (turned on with
// CLARION_AUTH_JWT_SECRET for the REVERB_APP_ID app) works for real clients
// with no Laravel backend: the page holds a JWT, sends it as
// `Authorization: Bearer …`, and
//  - pusher-js 8 (channelAuthorization / userAuthentication with headers,
//    endpoint /app/{key}/auth and /app/{key}/user-auth) subscribes to a
//    private and a presence channel, receives events and signs in;
//  - a channel the token's `channels` claim does not grant is a 403
//    subscription error;
//  - Laravel Echo (authEndpoint /broadcasting/auth + auth.headers) joins a
//    private and a presence channel and receives events.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  startEnv, collector, waitFor, connected, onceBound, signJwt,
} = require('./helpers');

const JWT_SECRET = 'client-tests-jwt-secret';

let env;
before(async () => {
  env = await startEnv({ env: { REVERB_APP_ID: '1000', CLARION_AUTH_JWT_SECRET: JWT_SECRET } });
});
after(async () => { await env?.close(); });

function tokenFor(sub, channels, userInfo) {
  return signJwt({
    sub,
    exp: Math.floor(Date.now() / 1000) + 600,
    channels,
    user_info: userInfo,
  }, JWT_SECRET);
}

function subscribed(channel, label) {
  return onceBound(channel, 'pusher:subscription_succeeded', undefined, label);
}

test('pusher-js: private and presence channels and sign-in through /app/{key}/auth with a bearer JWT', async () => {
  const jwt = tokenFor('42', ['private-jwt.{sub}', 'presence-jwt-*'], { name: 'Ada' });
  const headers = { Authorization: `Bearer ${jwt}` };
  const p = env.pusher({
    name: 'pusher-js with JWT',
    channelAuthorization: { endpoint: env.clarionUrl('/app/app-key/auth'), transport: 'ajax', headers },
    userAuthentication: { endpoint: env.clarionUrl('/app/app-key/user-auth'), transport: 'ajax', headers },
  });
  await connected(p);

  const priv = p.subscribe('private-jwt.42');
  const privGot = collector('private Update');
  priv.bind('Update', privGot);
  await subscribed(priv, 'subscribed to private-jwt.42');
  const sub = p.rec.frames.find((f) => f.dir === 'out' && f.event === 'pusher:subscribe'
    && f.data.channel === 'private-jwt.42');
  assert.match(sub.data.auth, /^app-key:[0-9a-f]{64}$/);

  const presence = p.subscribe('presence-jwt-room');
  const members = await subscribed(presence, 'subscribed to presence-jwt-room');
  assert.equal(members.count, 1);
  assert.equal(members.me.id, '42');
  assert.deepEqual(members.me.info, { name: 'Ada' });
  const presenceGot = collector('presence Update');
  presence.bind('Update', presenceGot);

  await env.sdk.trigger('private-jwt.42', 'Update', { v: 1 });
  assert.deepEqual(await privGot.next(), { v: 1 });
  await env.sdk.trigger('presence-jwt-room', 'Update', { v: 2 });
  assert.deepEqual(await presenceGot.next(), { v: 2 });

  const signedIn = p.rec.waitFrame((f) => f.event === 'pusher:signin_success', undefined, 'signin_success');
  p.signin();
  const frame = await signedIn;
  const data = typeof frame.data === 'string' ? JSON.parse(frame.data) : frame.data;
  assert.deepEqual(JSON.parse(data.user_data), { id: '42', user_info: { name: 'Ada' } });
});

test('pusher-js: a channel the token does not grant is a 403 subscription error', async () => {
  const jwt = tokenFor('7', ['private-jwt.{sub}']);
  const p = env.pusher({
    name: 'pusher-js with a narrow JWT',
    channelAuthorization: {
      endpoint: env.clarionUrl('/app/app-key/auth'),
      transport: 'ajax',
      headers: { Authorization: `Bearer ${jwt}` },
    },
  });
  await connected(p);
  const ch = p.subscribe('private-jwt.8');
  const error = await onceBound(ch, 'pusher:subscription_error', undefined, 'subscription_error');
  assert.equal(error.status, 403);
  assert.equal(ch.subscribed, false);
  assert.equal(p.rec.frames.filter((f) => f.dir === 'out' && f.event === 'pusher:subscribe'
    && f.data.channel === 'private-jwt.8').length, 0, 'pusher-js never sent the subscribe');
});

test('Laravel Echo: authEndpoint /broadcasting/auth with auth.headers joins private and presence channels', async () => {
  const jwt = tokenFor('5', ['private-echo.jwt.{sub}', 'presence-echo-room'], { name: 'Echo User' });
  const echo = await env.echo({
    name: 'Echo with JWT',
    authEndpoint: env.clarionUrl('/broadcasting/auth'),
    auth: { headers: { Authorization: `Bearer ${jwt}` } },
  });

  const priv = echo.private('echo.jwt.5');
  const privGot = collector('.Notice');
  priv.listen('.Notice', privGot);
  await waitFor((resolve) => { priv.subscribed(resolve); }, undefined, 'Echo subscribed to private-echo.jwt.5');

  const room = echo.join('echo-room');
  const here = await waitFor((resolve) => { room.here(resolve); }, undefined, 'Echo here()');
  assert.deepEqual(here, [{ name: 'Echo User' }]);
  const roomGot = collector('.Said');
  room.listen('.Said', roomGot);

  await env.sdk.trigger('private-echo.jwt.5', 'Notice', { text: 'hello' });
  assert.deepEqual(await privGot.next(), { text: 'hello' });
  await env.sdk.trigger('presence-echo-room', 'Said', { text: 'hi all' });
  assert.deepEqual(await roomGot.next(), { text: 'hi all' });
});
