'use strict';
// Proves: Laravel's broadcast(...)->toOthers() works. Echo exposes the
// client's socket id (sent to Laravel as X-Socket-ID); the backend passes it
// as socket_id to the HTTP API (pusher.trigger(channel, event, data,
// {socket_id})) and Clarion skips exactly that connection. Proof that A did
// not get the excluded event: a second, unexcluded event is the only one A
// receives. Also for triggerBatch items carrying socket_id.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, collector, waitFor } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

function subscribed(echoChannel, label) {
  return waitFor((resolve) => { echoChannel.subscribed(resolve); }, undefined, label);
}

async function twoClients(channelName, event) {
  const a = await env.echo({ name: 'A' });
  const b = await env.echo({ name: 'B' });
  const chA = a.channel(channelName);
  const chB = b.channel(channelName);
  const aGot = collector(`A ${event}`);
  const bGot = collector(`B ${event}`);
  chA.listen(`.${event}`, aGot);
  chB.listen(`.${event}`, bGot);
  await Promise.all([subscribed(chA, 'A subscribed'), subscribed(chB, 'B subscribed')]);
  return { a, b, aGot, bGot };
}

test('trigger with socket_id skips that socket only (toOthers)', async () => {
  const { a, aGot, bGot } = await twoClients('orders.others', 'OrderShipped');
  const socketA = a.socketId();
  assert.match(socketA, /^\d+\.\d+$/);

  await env.sdk.trigger('orders.others', 'OrderShipped', { n: 1 }, { socket_id: socketA });
  assert.deepEqual(await bGot.next(), { n: 1 });
  await env.sdk.trigger('orders.others', 'OrderShipped', { n: 2 });
  assert.deepEqual(await bGot.next(), { n: 2 });
  // Same-socket ordering: had A received n:1, it would come before n:2.
  assert.deepEqual(await aGot.next(), { n: 2 });
  assert.deepEqual(aGot.calls, [{ n: 2 }], `A must not get the event sent toOthers\n${a.rec.dump()}`);
});

test('triggerBatch item with socket_id skips that socket only', async () => {
  const { a, aGot, bGot } = await twoClients('orders.batch-others', 'Changed');
  await env.sdk.triggerBatch([
    { channel: 'orders.batch-others', name: 'Changed', data: { n: 1 }, socket_id: a.socketId() },
    { channel: 'orders.batch-others', name: 'Changed', data: { n: 2 } },
  ]);
  assert.deepEqual(await bGot.next(), { n: 1 });
  assert.deepEqual(await bGot.next(), { n: 2 });
  assert.deepEqual(await aGot.next(), { n: 2 });
  assert.deepEqual(aGot.calls, [{ n: 2 }], `A must not get the excluded batch item\n${a.rec.dump()}`);
});

test('an unknown socket_id excludes nobody', async () => {
  const { aGot, bGot } = await twoClients('orders.unknown-socket', 'Ping');
  await env.sdk.trigger('orders.unknown-socket', 'Ping', { n: 1 }, { socket_id: '1.1' });
  assert.deepEqual(await aGot.next(), { n: 1 });
  assert.deepEqual(await bGot.next(), { n: 1 });
});
