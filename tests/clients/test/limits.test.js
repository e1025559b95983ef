'use strict';
// Proves what pusher-js does when Clarion's limits refuse something:
//  - a subscribe beyond max_channels_per_socket gets pusher:error 4004; the
//    library reports it as a connection 'error' event, the connection stays
//    'connected' (no reconnect, which would ask for the same channels
//    again), the refused channel stays unsubscribed and the others keep
//    receiving events;
//  - client events beyond client_events_per_second (Pusher's 10/s rule,
//    here 5/s) are dropped with pusher:error 4301, one per dropped event,
//    reported the same way; the connection stays up and the peer receives
//    exactly the admitted events, in order.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, onceBound, collector, connected, waitFor } = require('./helpers');

const MAX_CHANNELS = 3;
const CLIENT_EVENT_RATE = 5;

let env;
before(async () => {
  env = await startEnv({
    app: { max_channels_per_socket: MAX_CHANNELS, client_events_per_second: CLIENT_EVENT_RATE },
  });
});
after(async () => { await env?.close(); });

function subscribed(pusher, name) {
  const ch = pusher.subscribe(name);
  return onceBound(ch, 'pusher:subscription_succeeded', undefined, `subscription to ${name}`).then(() => ch);
}

/** Waits for the next connection 'error' event whose Pusher code is `code`. */
function pusherError(pusher, code) {
  return waitFor((resolve) => {
    const cb = (e) => { if (e && e.type === 'PusherError' && e.data && e.data.code === code) resolve(e); };
    pusher.connection.bind('error', cb);
    return () => pusher.connection.unbind('error', cb);
  }, undefined, `pusher:error ${code}`);
}

test('a subscribe over max_channels_per_socket is reported as error 4004; the connection and its channels stay', async () => {
  const p = env.pusher({ name: 'channel hog' });
  await connected(p);
  const held = [];
  for (let i = 0; i < MAX_CHANNELS; i++) held.push(await subscribed(p, `limits-${i}`));

  const refused = pusherError(p, 4004);
  const extra = p.subscribe('limits-extra');
  const error = await refused;
  assert.equal(error.data.message, 'Subscription refused: the connection is at its channel limit');
  assert.equal(extra.subscribed, false);

  // Still connected, never reconnected, and the held channels work.
  const got = collector('event on a held channel');
  held[0].bind('still', got);
  await env.sdk.trigger('limits-0', 'still', { ok: true });
  assert.deepEqual(await got.next(), { ok: true });
  assert.equal(p.connection.state, 'connected');
  assert.deepEqual([...p.rec.states], ['connected'], `states: ${p.rec.states}`);

  // Another client of the app is not affected by this socket's quota.
  const other = env.pusher({ name: 'bystander' });
  await connected(other);
  for (let i = 0; i < MAX_CHANNELS; i++) await subscribed(other, `limits-${i}`);
  assert.deepEqual(other.rec.errors, []);
});

test('client events over client_events_per_second are dropped with 4301; the connection stays', async () => {
  const flooder = env.pusher({ user: 1, name: 'flooder' });
  const peer = env.pusher({ user: 2, name: 'peer' });
  await Promise.all([connected(flooder), connected(peer)]);
  const chF = await subscribed(flooder, 'private-limits');
  const chP = await subscribed(peer, 'private-limits');
  const relayed = [];
  chP.bind('client-move', (d) => relayed.push(d.i));

  const SENT = 30;
  for (let i = 0; i < SENT; i++) chF.trigger('client-move', { i });
  // The server answers frames of one socket in order: once the pong is in,
  // every refusal for the flood has arrived too.
  const pong = flooder.rec.waitFrame((f) => f.event === 'pusher:pong', undefined, 'pong');
  flooder.send_event('pusher:ping', {});
  await pong;
  const refusals = flooder.rec.errors.filter((e) => e.type === 'PusherError' && e.data.code === 4301);
  assert.ok(refusals.length > 0, 'some client events were refused');
  for (const e of refusals) assert.equal(e.data.message, 'Client event rejected due to rate limit');
  // Every relay the server queued reaches the peer before its barrier.
  await env.barrier(peer);
  assert.equal(relayed.length + refusals.length, SENT, `relayed ${relayed}`);
  assert.ok(relayed.length >= CLIENT_EVENT_RATE && relayed.length < SENT / 2, `relayed ${relayed}`);
  assert.deepEqual(relayed.slice(0, CLIENT_EVENT_RATE), [0, 1, 2, 3, 4]);

  // pusher-js reported the errors and changed nothing else.
  assert.equal(flooder.connection.state, 'connected');
  assert.deepEqual([...flooder.rec.states], ['connected'], `states: ${flooder.rec.states}`);
  const got = collector('event after the flood');
  chF.bind('after', got);
  await env.sdk.trigger('private-limits', 'after', { n: 1 });
  assert.deepEqual(await got.next(), { n: 1 });
});
