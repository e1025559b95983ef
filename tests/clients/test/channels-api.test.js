'use strict';
// Proves: the official `pusher` Node SDK can query Clarion's HTTP API
// (signed GET requests) and gets Pusher-shaped answers:
//  - GET /channels with no subscribers → {"channels":{}} (an object, not [])
//  - GET /channels?info=subscription_count, filter_by_prefix + user_count
//  - GET /channels/{name} → occupied + subscription_count / user_count;
//    unoccupied → {"occupied":false}
//  - GET /channels/presence-room.1/users → unique user ids
//  - channels disappear from the listing once their last client leaves.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, onceBound, eventually, connected } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

async function subscribe(p, name) {
  const ch = p.subscribe(name);
  await onceBound(ch, 'pusher:subscription_succeeded', undefined, `subscription to ${name}`);
  return ch;
}

test('no channels → {channels:{}}', async () => {
  // Runs first: nothing has subscribed on this server yet.
  assert.deepEqual(await env.getJson('/channels'), { channels: {} });
  assert.deepEqual(await env.getJson('/channels', { info: 'subscription_count' }), { channels: {} });
  const res = await env.sdk.get({ path: '/channels' });
  const text = await res.text();
  assert.match(text.replace(/\s/g, ''), /"channels":\{\}/, `channels must be a JSON object, got ${text}`);
});

test('a connected client without subscriptions creates no channel', async () => {
  const p = env.pusher();
  await connected(p);
  assert.deepEqual(await env.getJson('/channels'), { channels: {} });
});

test('channel listing, single channel info and presence users', async () => {
  const p1 = env.pusher({ user: 1, name: 'p1(user 1)' });
  const p1b = env.pusher({ user: 1, name: 'p1b(user 1, 2nd tab)' });
  const p2 = env.pusher({ user: 2, name: 'p2(user 2)' });
  await subscribe(p1, 'stats-public');
  await subscribe(p2, 'stats-public');
  await subscribe(p1, 'presence-room.1');
  await subscribe(p1b, 'presence-room.1');
  await subscribe(p2, 'presence-room.1');

  const all = await env.getJson('/channels', { info: 'subscription_count' });
  assert.deepEqual(Object.keys(all.channels).sort(), ['presence-room.1', 'stats-public']);
  assert.equal(all.channels['stats-public'].subscription_count, 2);

  const plain = await env.getJson('/channels');
  assert.deepEqual(Object.keys(plain.channels).sort(), ['presence-room.1', 'stats-public']);

  const presence = await env.getJson('/channels', { filter_by_prefix: 'presence-', info: 'user_count' });
  assert.deepEqual(presence, { channels: { 'presence-room.1': { user_count: 2 } } });

  const byPrefix = await env.getJson('/channels', { filter_by_prefix: 'stats-' });
  assert.deepEqual(Object.keys(byPrefix.channels), ['stats-public']);

  const one = await env.getJson('/channels/stats-public', { info: 'subscription_count' });
  assert.equal(one.occupied, true);
  assert.equal(one.subscription_count, 2);

  const room = await env.getJson('/channels/presence-room.1', { info: 'user_count' });
  assert.equal(room.occupied, true);
  assert.equal(room.user_count, 2, 'user 1 with two connections counts once');

  const users = await env.getJson('/channels/presence-room.1/users');
  assert.deepEqual(users.users.map((u) => String(u.id)).sort(), ['1', '2']);
  for (const u of users.users) assert.deepEqual(Object.keys(u), ['id']);

  assert.deepEqual(await env.getJson('/channels/nobody-here'), { occupied: false });
});

test('channels disappear once their last client disconnects', async () => {
  const p = env.pusher();
  await subscribe(p, 'ephemeral');
  const before = await env.getJson('/channels/ephemeral');
  assert.equal(before.occupied, true);
  env.disconnectAll();
  await eventually(async () => {
    const body = await env.getJson('/channels');
    return Object.keys(body.channels).length === 0 ? body : null;
  }, undefined, 'GET /channels to be empty after every client disconnected');
  assert.deepEqual(await env.getJson('/channels/ephemeral'), { occupied: false });
  assert.deepEqual(await env.getJson('/channels', { info: 'subscription_count' }), { channels: {} });
});
