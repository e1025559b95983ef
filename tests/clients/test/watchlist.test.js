'use strict';
// Proves: Pusher's watchlist events (online status) work with the real
// pusher-js API, `pusher.user.watchlist.bind('online' | 'offline', …)`,
// after `pusher.signin()` against a user-auth endpoint whose signed
// user_data (the `pusher` SDK's authenticateUser) carries a `watchlist`:
//  - right after sign-in, one 'online' event lists the watched users that
//    are already online (none online: no event)
//  - 'online' when a watched user's first connection signs in, 'offline'
//    only when their last one closes, once per transition
//  - users not on the watchlist cause no events
//  - a watchlist over 100 user ids refuses the sign-in: pusher:error 4009
//    with a message naming the limit, and pusher-js does not reconnect
//  - two nodes through a real Redis: a user signed in on node A is online
//    for a watcher on node B, offline once their last connection anywhere
//    closes; a SIGKILLed node's users go offline after the node timeout.
//
// "Did not arrive" proofs use ordering barriers (env.barrier on one node,
// crossBarrier between nodes): an event published after the thing that must
// not cause a watchlist event, on the same ordered path, is waited for.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startEnv, startRedis, collector, waitFor, eventually, onceBound, crossBarrier } = require('./helpers');

/** Resolves once `p` got pusher:signin_success (and pusher-js accepted it). */
async function signIn(p) {
  const success = p.rec.waitFrame((f) => f.event === 'pusher:signin_success', undefined, 'pusher:signin_success');
  p.signin();
  await success;
  await p.user.signinDonePromise;
  assert.ok(p.user.user_data, `pusher-js accepted the sign-in\n${p.rec.dump()}`);
}

/** A client signed in as `user` watching `watchlist`; collectors bound before signin(). */
async function watcher(env, user, watchlist, name) {
  const p = env.pusher({ user, watchlist, name });
  const online = collector(`${name} online`);
  const offline = collector(`${name} offline`);
  p.user.watchlist.bind('online', online);
  p.user.watchlist.bind('offline', offline);
  await signIn(p);
  return { p, online, offline };
}

/** A client signed in as `user`, watching nobody. */
async function user(env, id) {
  const p = env.pusher({ user: id, name: `user ${id}` });
  await signIn(p);
  return p;
}

async function connections(env) {
  const res = await env.sdk.get({ path: '/connections' });
  assert.equal(res.status, 200);
  return (await res.json()).connections;
}

/** Disconnects `p` and waits until the cluster no longer counts its connection. */
async function disconnected(env, p) {
  const before = await connections(env);
  p.disconnect();
  await eventually(async () => (await connections(env)) === before - 1, undefined,
    `the connection count to drop below ${before}`);
}

describe('one node', () => {
  let env;
  before(async () => { env = await startEnv(); });
  after(async () => { await env?.close(); });

  test('signin() is followed by one online event listing the watched users already online', async () => {
    await user(env, 501);
    await user(env, 502);
    const w = await watcher(env, 500, [503, 502, 501], 'watcher 500');
    assert.deepEqual(await w.online.next(), { name: 'online', user_ids: ['502', '501'] });
    const signin = w.p.rec.frames.find((f) => f.dir === 'out' && f.event === 'pusher:signin');
    assert.deepEqual(JSON.parse(signin.data.user_data).watchlist, ['503', '502', '501'],
      'the watchlist travelled in the signed user_data');
    await env.barrier(w.p);
    assert.equal(w.online.calls.length, 1);
    assert.equal(w.offline.calls.length, 0);

    // Nobody on the watchlist is online: no event at all.
    const lonely = await watcher(env, 504, [505], 'watcher 504');
    await env.barrier(lonely.p);
    assert.equal(lonely.online.calls.length + lonely.offline.calls.length, 0, lonely.p.rec.dump());
  });

  test('online when a watched user signs in; offline only when their last connection closes', async () => {
    const w = await watcher(env, 510, [511], 'watcher 510');
    const tab1 = await user(env, 511);
    assert.deepEqual(await w.online.next(), { name: 'online', user_ids: ['511'] });
    const tab2 = await user(env, 511);
    await env.barrier(w.p);
    assert.equal(w.online.calls.length, 1, 'a second tab is not a transition');

    await disconnected(env, tab1);
    await env.barrier(w.p);
    assert.equal(w.offline.calls.length, 0, `511 still has a connection\n${w.p.rec.dump()}`);

    await disconnected(env, tab2);
    assert.deepEqual(await w.offline.next(), { name: 'offline', user_ids: ['511'] });
    await env.barrier(w.p);
    assert.equal(w.offline.calls.length, 1);
    assert.equal(w.online.calls.length, 1);
  });

  test('users not on the watchlist cause no events', async () => {
    const w = await watcher(env, 520, [521], 'watcher 520');
    const other = await user(env, 522);
    await disconnected(env, other);
    await env.barrier(w.p);
    assert.equal(w.online.calls.length + w.offline.calls.length, 0, w.p.rec.dump());
  });

  test('a watchlist over 100 user ids refuses the sign-in with a clear pusher:error 4009', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => 1000 + i);
    const p = env.pusher({ user: 530, watchlist: ids, name: 'over the limit' });
    const error = p.rec.waitFrame((f) => f.event === 'pusher:error', undefined, 'pusher:error');
    const down = waitFor((resolve) => {
      const cb = (s) => { if (s.current === 'disconnected') resolve(s); };
      p.connection.bind('state_change', cb);
      return () => p.connection.unbind('state_change', cb);
    }, undefined, 'connection state "disconnected"');
    p.signin();
    const frame = await error;
    assert.deepEqual(frame.data, { code: 4009, message: 'Invalid signin: a watchlist holds at most 100 user ids' });
    await down;
    assert.equal(p.user.user_data, null, 'not signed in');

    // Exactly 100 is fine.
    const full = await watcher(env, 531, ids.slice(0, 100), 'watcher with 100');
    assert.equal(full.p.connection.state, 'connected');
  });
});

describe('two nodes through Redis', () => {
  let redis;
  let envA;
  let envB;
  let scaling;

  before(async () => {
    redis = await startRedis();
    scaling = {
      enabled: true,
      url: redis.url,
      channel: `clarion-watchlist-tests-${process.pid}-${crypto.randomBytes(4).toString('hex')}`,
      heartbeat_interval_ms: 300,
      node_timeout_ms: 2000,
    };
    envA = await startEnv({ scaling });
    envB = await startEnv({ scaling });
    await linked(envA, envB);
    await linked(envB, envA);
  });

  after(async () => {
    const errors = [];
    for (const env of [envA, envB]) {
      try { await env?.close(); } catch (e) { errors.push(e); }
    }
    try { await redis?.stop(); } catch (e) { errors.push(e); }
    if (errors.length) throw errors[0];
  });

  /** Re-triggers through `from` until a subscriber on `to` gets the event. */
  async function linked(from, to) {
    const channel = `watchlist-probe-${crypto.randomBytes(4).toString('hex')}`;
    const probe = to.pusher({ name: 'link probe' });
    const ch = probe.subscribe(channel);
    await onceBound(ch, 'pusher:subscription_succeeded', undefined, 'probe subscription');
    let arrived = false;
    const got = onceBound(ch, 'probe', 10000, 'a probe event to cross Redis');
    got.then(() => { arrived = true; }, () => { arrived = true; });
    while (!arrived) {
      from.sdk.trigger(channel, 'probe', {}).catch(() => { /* 503 until linked */ });
      await Promise.race([got.catch(() => {}), new Promise((r) => setTimeout(r, 100))]);
    }
    await got;
    probe.disconnect();
  }

  test('a user signed in on node A is online for a watcher on node B, offline after their last connection', async () => {
    const w = await watcher(envB, 600, [601], 'watcher on B');
    const onA = await user(envA, 601);
    assert.deepEqual(await w.online.next(), { name: 'online', user_ids: ['601'] });

    // A watcher signing in on B later gets 601 (on A) in its first event.
    const late = await watcher(envB, 602, [601], 'late watcher on B');
    assert.deepEqual(await late.online.next(), { name: 'online', user_ids: ['601'] });

    // A second connection of 601, on B: nobody is told again.
    const onB = await user(envB, 601);
    await envB.barrier(w.p);
    assert.equal(w.online.calls.length, 1, w.p.rec.dump());

    // The connection on A closes: 601 is still online (on B).
    await disconnected(envA, onA);
    await crossBarrier(envA, w.p);
    assert.equal(w.offline.calls.length, 0, `601 is still connected to B\n${w.p.rec.dump()}`);

    onB.disconnect();
    assert.deepEqual(await w.offline.next(), { name: 'offline', user_ids: ['601'] });
    assert.deepEqual(await late.offline.next(), { name: 'offline', user_ids: ['601'] });
    await envB.barrier(w.p);
    assert.equal(w.offline.calls.length, 1);
  });

  test("a SIGKILLed node's users go offline for watchers on the other node after the node timeout", async () => {
    const envC = await startEnv({ scaling });
    try {
      await linked(envC, envA);
      const w = await watcher(envA, 700, [701], 'watcher on A');
      await user(envC, 701);
      assert.deepEqual(await w.online.next(), { name: 'online', user_ids: ['701'] });

      const exited = new Promise((resolve) => envC.server.proc.once('exit', resolve));
      const killedAt = Date.now();
      envC.server.proc.kill('SIGKILL');
      await exited;
      assert.deepEqual(await w.offline.next(10000), { name: 'offline', user_ids: ['701'] });
      const took = Date.now() - killedAt;
      // node_timeout_ms is 2000; generous upper bound for a loaded machine.
      assert.ok(took >= 1500 && took <= 8000, `offline ${took} ms after the kill`);
    } finally {
      try {
        await envC.close();
      } catch (e) {
        if (!/already exited unexpectedly/.test(e.message)) throw e;
      }
    }
  });
});
