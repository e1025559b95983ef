'use strict';
// Proves: an unmodified pusher-js client connects to Clarion, subscribes to
// a public channel (pusher:subscription_succeeded), and receives events the
// official `pusher` Node SDK publishes through the HTTP API: a single
// trigger (data arrives as the same object), a trigger to several channels
// at once, and a triggerBatch whose events arrive in order.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, onceBound, collector, connected, waitFor } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

test('pusher-js connects and gets a protocol-7 handshake', async () => {
  const p = env.pusher();
  const socketId = await connected(p);
  assert.match(socketId, /^\d+\.\d+$/, 'socket_id looks like 123.456');
  // pusher-js consumes pusher:connection_established in its handshake and
  // keeps min(its own 120 s, server activity_timeout * 1000): the app's
  // default activity_timeout is 30 s, as in Reverb.
  assert.equal(p.connection.activityTimeout, 30000);
  const other = env.pusher();
  assert.notEqual(await connected(other), socketId, 'socket ids are unique');
});

test('subscribe to a public channel and receive a trigger', async () => {
  const p = env.pusher();
  const channel = p.subscribe('orders');
  await onceBound(channel, 'pusher:subscription_succeeded', undefined, 'subscription_succeeded on orders');
  assert.equal(channel.subscribed, true);

  const got = collector('OrderShipped on orders');
  channel.bind('OrderShipped', got);
  const res = await env.sdk.trigger('orders', 'OrderShipped', { id: 1 });
  assert.equal(res.status, 200);
  assert.deepEqual(await got.next(), { id: 1 });
  assert.deepEqual(p.rec.frames.filter((f) => f.event === 'OrderShipped').map((f) => f.channel), ['orders']);
});

test('trigger to several channels at once reaches each channel', async () => {
  const a = env.pusher();
  const b = env.pusher();
  const chA1 = a.subscribe('multi-1');
  const chA2 = a.subscribe('multi-2');
  const chB3 = b.subscribe('multi-3');
  await Promise.all([
    onceBound(chA1, 'pusher:subscription_succeeded'),
    onceBound(chA2, 'pusher:subscription_succeeded'),
    onceBound(chB3, 'pusher:subscription_succeeded'),
  ]);
  const got1 = collector('multi-1');
  const got2 = collector('multi-2');
  const got3 = collector('multi-3');
  chA1.bind('Ping', got1);
  chA2.bind('Ping', got2);
  chB3.bind('Ping', got3);

  await env.sdk.trigger(['multi-1', 'multi-2', 'multi-3'], 'Ping', { n: 7 });
  assert.deepEqual(await got1.next(), { n: 7 });
  assert.deepEqual(await got2.next(), { n: 7 });
  assert.deepEqual(await got3.next(), { n: 7 });

  // Each channel got it exactly once (checked after an ordering barrier).
  await env.barrier(a);
  await env.barrier(b);
  assert.equal(got1.calls.length, 1);
  assert.equal(got2.calls.length, 1);
  assert.equal(got3.calls.length, 1);
});

test('triggerBatch delivers both events, in order', async () => {
  const p = env.pusher();
  const ch = p.subscribe('batch-orders');
  await onceBound(ch, 'pusher:subscription_succeeded');
  const seen = [];
  const done = waitFor((resolve) => {
    const cb = (event, data) => {
      if (event.startsWith('pusher')) return;
      seen.push([event, data]);
      if (seen.length === 2) resolve();
    };
    ch.bind_global(cb);
    return () => ch.unbind_global(cb);
  }, undefined, 'both batch events');
  const res = await env.sdk.triggerBatch([
    { channel: 'batch-orders', name: 'OrderCreated', data: { id: 1 } },
    { channel: 'batch-orders', name: 'OrderShipped', data: { id: 1, carrier: 'ups' } },
  ]);
  assert.equal(res.status, 200);
  await done;
  assert.deepEqual(seen, [
    ['OrderCreated', { id: 1 }],
    ['OrderShipped', { id: 1, carrier: 'ups' }],
  ]);
});

test('string data is delivered verbatim (not re-encoded)', async () => {
  const p = env.pusher();
  const ch = p.subscribe('verbatim');
  await onceBound(ch, 'pusher:subscription_succeeded');
  const got = collector('verbatim event');
  ch.bind('Raw', got);
  // The SDK sends strings as-is; pusher-js parses JSON strings, leaves others.
  await env.sdk.trigger('verbatim', 'Raw', 'plain text, not JSON');
  assert.equal(await got.next(), 'plain text, not JSON');
});

test('unsubscribe stops delivery', async () => {
  const p = env.pusher();
  const ch = p.subscribe('unsub-test');
  await onceBound(ch, 'pusher:subscription_succeeded');
  const got = collector('unsub-test');
  ch.bind('E', got);
  await env.sdk.trigger('unsub-test', 'E', { n: 1 });
  assert.deepEqual(await got.next(), { n: 1 });
  p.unsubscribe('unsub-test');
  // The server processes this socket's frames in order, so once a later
  // frame from the same socket has been answered the unsubscribe is done.
  const pong = p.rec.waitFrame((f) => f.event === 'pusher:pong', undefined, 'pusher:pong');
  p.send_event('pusher:ping', {});
  await pong;
  await env.sdk.trigger('unsub-test', 'E', { n: 2 });
  await env.barrier(p);
  assert.equal(p.rec.frames.filter((f) => f.dir === 'in' && f.channel === 'unsub-test' && f.event === 'E').length, 1,
    `no event after unsubscribe\n${p.rec.dump()}`);
});
