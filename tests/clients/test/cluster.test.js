'use strict';
// Proves: two Clarion nodes scaled out through a real Redis behave as one
// Reverb server for the real client libraries (Laravel Echo 'reverb' on
// pusher-js, and the `pusher` Node SDK as the backend):
//  - presence is cluster-wide: the HTTP users list on node B shows a user
//    connected to node A; Echo here() on B lists that user (with user_info);
//    joining() on A fires once for a user who joined on B; leaving() on B
//    fires when the user on A disconnects
//  - an event triggered through node A's HTTP API reaches an Echo listener
//    on node B (and the API answers 200, not 503 "this node only")
//  - toOthers(): a trigger sent to A with the socket_id of a client on B
//    skips exactly that client, on every node
//  - channel queries sum subscriptions across nodes
//  - a gracefully stopped node's members leave
//    the other node's rosters at once.
//
// Setup: a throwaway redis-server on a free loopback port, two clarion
// processes with [scaling] enabled, the same app and a scaling channel unique
// to this run. Nodes link to Redis asynchronously after they start, so
// before() probes both directions (A→B and B→A) until an event crosses.
//
// Cross-node "did not arrive" proofs use a cross-node barrier: an event
// published through the *other* node travels the same ordered path as that
// node's earlier presence announcements (one ordered publisher per node, one
// Redis channel), so once it arrives, everything that node sent before it has
// been applied.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startEnv, startRedis, collector, waitFor, eventually, onceBound, crossBarrier } = require('./helpers');

const LINK_TIMEOUT_MS = 10000;

let redis;
let envA;
let envB;

before(async () => {
  redis = await startRedis();
  const scaling = {
    enabled: true,
    url: redis.url,
    channel: `clarion-client-tests-${process.pid}-${crypto.randomBytes(4).toString('hex')}`,
  };
  envA = await startEnv({ scaling });
  envB = await startEnv({ scaling });
  await linked(envA, envB, 'A→B');
  await linked(envB, envA, 'B→A');
});

after(async () => {
  const errors = [];
  // Nodes first (while Redis is up they can still announce their departure), Redis last.
  for (const env of [envA, envB]) {
    try { await env?.close(); } catch (e) { errors.push(e); }
  }
  try { await redis?.stop(); } catch (e) { errors.push(e); }
  if (errors.length) throw errors[0];
});

/**
 * Wait until an event triggered through `from`'s HTTP API reaches a
 * subscriber on `to`: both nodes are subscribed to Redis and `from` publishes.
 * Re-triggers every 100 ms (a trigger sent before the link is up is delivered
 * locally only, possibly with a 503), until LINK_TIMEOUT_MS.
 */
async function linked(from, to, label) {
  const channel = `cluster-probe-${crypto.randomBytes(4).toString('hex')}`;
  const probe = to.pusher({ name: `probe on ${label}` });
  const ch = probe.subscribe(channel);
  await onceBound(ch, 'pusher:subscription_succeeded', undefined, `probe subscription (${label})`);
  let arrived = false;
  const got = waitFor((resolve) => {
    const cb = (d) => resolve(d);
    ch.bind('probe', cb);
    return () => ch.unbind('probe', cb);
  }, LINK_TIMEOUT_MS, `a probe event to cross ${label} through Redis`);
  got.then(() => { arrived = true; }, () => { arrived = true; });
  const started = Date.now();
  let tries = 0;
  while (!arrived) {
    tries++;
    from.sdk.trigger(channel, 'probe', { tries }).catch(() => { /* 503 until linked */ });
    await Promise.race([got.catch(() => {}), new Promise((r) => setTimeout(r, 100))]);
  }
  try {
    await got;
  } catch (e) {
    e.message += ` (${tries} triggers)\nnode A log:\n${envA.server.output().slice(-2000)}`
      + `\nnode B log:\n${envB.server.output().slice(-2000)}\nredis log:\n${redis.output().slice(-1000)}`;
    throw e;
  }
  probe.disconnect();
  return { tries, ms: Date.now() - started };
}

/** Echo.join(room) as `user` on `env`'s node; collectors are bound before here() resolves. */
async function member(env, user, room, name) {
  const echo = await env.echo({ user, name });
  const ch = echo.join(room);
  const joining = collector(`${name} joining()`);
  const leaving = collector(`${name} leaving()`);
  const here = waitFor((resolve) => { ch.here(resolve); }, undefined, `${name} here()`);
  ch.joining(joining).leaving(leaving);
  const members = await here;
  return { echo, ch, joining, leaving, here: members, pusher: echo.connector.pusher };
}

function subscribed(echoChannel, label) {
  return waitFor((resolve) => { echoChannel.subscribed(resolve); }, undefined, label);
}

const byId = (infos) => [...infos].sort((x, y) => String(x.id).localeCompare(String(y.id)));

async function usersOn(env, channel) {
  const res = await env.sdk.get({ path: `/channels/${channel}/users` });
  assert.equal(res.status, 200, `GET /channels/${channel}/users on port ${env.server.port}`);
  const body = await res.json();
  return body.users.map((u) => String(u.id)).sort();
}

test('presence across nodes: users API and here() on B see a user on A; joining() on A; leaving() on B', async () => {
  const a = await member(envA, 1, 'room.1', 'A(user 1)');
  assert.deepEqual(a.here, [{ id: 1, name: 'Taylor' }]);

  // A's join crosses Redis asynchronously; B's replicated roster (served by
  // B's own HTTP API) lists user 1 once it has.
  await eventually(async () => JSON.stringify(await usersOn(envB, 'presence-room.1')) === '["1"]',
    undefined, 'GET /channels/presence-room.1/users on node B to list user 1 (connected to A)');
  const users = await (await envB.sdk.get({ path: '/channels/presence-room.1/users' })).json();
  assert.deepEqual(users, { users: [{ id: '1' }] });
  const info = await (await envB.sdk.get({ path: '/channels/presence-room.1', params: { info: 'user_count' } })).json();
  assert.equal(info.occupied, true, 'node B reports the room occupied although its only member is on A');
  assert.equal(info.user_count, 1);

  const b = await member(envB, 2, 'room.1', 'B(user 2)');
  assert.deepEqual(byId(b.here), [{ id: 1, name: 'Taylor' }, { id: 2, name: 'Joe' }],
    `here() on B lists the user on A with its user_info\n${b.echo.rec.dump()}`);
  const succeeded = b.echo.rec.frames.find((f) => f.event === 'pusher_internal:subscription_succeeded'
    && f.channel === 'presence-room.1');
  assert.equal(succeeded.data.presence.count, 2);

  assert.deepEqual(await a.joining.next(), { id: 2, name: 'Joe' }, 'joining() on A for the user who joined on B');
  assert.equal(a.pusher.channel('presence-room.1').members.count, 2);
  assert.deepEqual(await usersOn(envA, 'presence-room.1'), ['1', '2']);
  assert.deepEqual(await usersOn(envB, 'presence-room.1'), ['1', '2']);

  // Exactly once: anything else B announced before this barrier has reached A.
  await crossBarrier(envB, a.pusher);
  assert.deepEqual(a.joining.calls, [{ id: 2, name: 'Joe' }], `one joining() on A\n${a.echo.rec.dump()}`);
  await crossBarrier(envA, b.pusher);
  assert.equal(b.joining.calls.length, 0, `B must not see user 1 join again\n${b.echo.rec.dump()}`);

  a.echo.disconnect();
  assert.deepEqual(await b.leaving.next(), { id: 1, name: 'Taylor' }, 'leaving() on B when user 1 left A');
  assert.equal(b.pusher.channel('presence-room.1').members.count, 1);
  assert.deepEqual(await usersOn(envB, 'presence-room.1'), ['2']);
  await crossBarrier(envA, b.pusher);
  assert.equal(b.leaving.calls.length, 1, `exactly one leaving() on B\n${b.echo.rec.dump()}`);
});

test('an event triggered through node A reaches an Echo listener on node B', async () => {
  const echoB = await envB.echo({ name: 'listener on B' });
  const ch = echoB.channel('cluster.orders');
  const got = collector('OrderShipped on B');
  const namespaced = collector('App\\Events\\OrderPaid on B');
  ch.listen('.OrderShipped', got).listen('OrderPaid', namespaced);
  await subscribed(ch, 'listener on B subscribed');

  const res = await envA.sdk.trigger('cluster.orders', 'OrderShipped', { order: { id: 7 } });
  assert.equal(res.status, 200, 'delivered to the cluster, not "this node only" (503)');
  assert.deepEqual(await got.next(), { order: { id: 7 } });

  await envA.sdk.trigger('cluster.orders', 'App\\Events\\OrderPaid', { order: { id: 8 } });
  assert.deepEqual(await namespaced.next(), { order: { id: 8 } });
  assert.deepEqual(got.calls, [{ order: { id: 7 } }]);
});

test('toOthers(): trigger on A with the socket_id of a client on B skips only that client', async () => {
  const channel = 'cluster.others';
  const clients = {};
  for (const [key, env, name] of [['b1', envB, 'B1 (excluded)'], ['b2', envB, 'B2'], ['a1', envA, 'A1']]) {
    const echo = await env.echo({ name });
    const got = collector(`${name} Changed`);
    const ch = echo.channel(channel);
    ch.listen('.Changed', got);
    await subscribed(ch, `${name} subscribed`);
    clients[key] = { echo, got };
  }
  const { b1, b2, a1 } = clients;
  const excluded = b1.echo.socketId();
  assert.match(excluded, /^\d+\.\d+$/);

  const res = await envA.sdk.trigger(channel, 'Changed', { n: 1 }, { socket_id: excluded });
  assert.equal(res.status, 200);
  assert.deepEqual(await b2.got.next(), { n: 1 }, 'the other client on B gets it');
  assert.deepEqual(await a1.got.next(), { n: 1 }, 'the client on A gets it');

  await envA.sdk.trigger(channel, 'Changed', { n: 2 });
  // Both events leave A in order over one Redis channel: had B1 received n:1,
  // it would have arrived before n:2.
  assert.deepEqual(await b1.got.next(), { n: 2 });
  assert.deepEqual(b1.got.calls, [{ n: 2 }], `B1 must not get the event sent toOthers\n${b1.echo.rec.dump()}`);
  assert.deepEqual(await b2.got.next(), { n: 2 });
  assert.deepEqual(await a1.got.next(), { n: 2 });
});

test('channel queries count subscribers on both nodes', async () => {
  const onA = await envA.echo({ name: 'counted on A' });
  const onB = await envB.echo({ name: 'counted on B' });
  await Promise.all([
    subscribed(onA.channel('cluster.counted'), 'A subscribed'),
    subscribed(onB.channel('cluster.counted'), 'B subscribed'),
  ]);
  for (const env of [envA, envB]) {
    const one = await env.getJson('/channels/cluster.counted', { info: 'subscription_count' });
    assert.deepEqual(one, { occupied: true, subscription_count: 2 }, `GET /channels/cluster.counted on ${env.server.port}`);
    const all = await env.getJson('/channels', { filter_by_prefix: 'cluster.counted', info: 'subscription_count' });
    assert.deepEqual(all, { channels: { 'cluster.counted': { subscription_count: 2 } } });
  }
});

// Runs last: it stops node A.
// README ("Scaling out") and ARCHITECTURE.md ("Failures", "Shutdown"): a node
// that shuts down gracefully removes its members at once (it says `bye`
// after its sockets closed); only a killed node's members wait for
// node_timeout_ms (10 s): server::run calls `Adapter::shutdown`, which waits
// for the queued `leave` announcements to be published, then says `bye`.
test('graceful stop of node A: B sees its members leave at once, not after node_timeout_ms', async () => {
  const N = 20;
  const WITHIN_MS = 2000; // node_timeout_ms is 10000
  const b = await member(envB, 2, 'room.stop', 'B(user 2)');
  const onA = [];
  for (let u = 200; u < 200 + N; u++) onA.push(envA.pusher({ user: u, name: `A(user ${u})` }));
  await Promise.all(onA.map((p) => onceBound(p.subscribe('presence-room.stop'), 'pusher:subscription_succeeded')));
  await eventually(async () => (await usersOn(envB, 'presence-room.stop')).length === N + 1,
    undefined, `B's roster to list the ${N} users on A`);
  // A's clients are told 4200 and retry at once against the dead port; stop
  // them once they are connecting (a pending retry would outlive disconnect()).
  const retrying = onA.map((p) => waitFor((resolve) => {
    const cb = (s) => { if (s.current === 'connecting') resolve(); };
    p.connection.bind('state_change', cb);
    return () => p.connection.unbind('state_change', cb);
  }, undefined, 'A client to start reconnecting'));

  const started = Date.now();
  const exit = await envA.server.stop();
  assert.equal(exit.code, 0, `node A exit status after SIGTERM: ${JSON.stringify(exit)}`);
  await Promise.all(retrying);
  for (const p of onA) p.disconnect();

  const all = await eventually(async () => b.leaving.calls.length >= N, WITHIN_MS, 'leaving()', 20)
    .catch(() => false);
  assert.ok(all, `within ${WITHIN_MS} ms of node A's graceful stop, B saw leaving() for `
    + `${b.leaving.calls.length}/${N} of its users (${Date.now() - started} ms elapsed); `
    + `B's log shows no "node left the cluster":\n${envB.server.output().slice(-1500)}`);
  assert.deepEqual(await usersOn(envB, 'presence-room.stop'), ['2']);
});
