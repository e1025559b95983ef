'use strict';
// Proves: presence channels behave for Laravel Echo exactly as Laravel apps
// expect (Reverb/Pusher semantics, members counted per user, not per tab):
//  - Echo.join() authorizes via /broadcasting/auth with channel_data;
//    here() lists every user once, even when user 1 has two tabs
//  - joining() fires on the others when a new user joins, once per user
//  - leaving() fires when a user's only connection goes away
//  - leaving() does NOT fire when one of a user's two tabs leaves
//    (disconnect or Echo.leave), only when the last one does.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, collector, waitFor, eventually, onceBound } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

/** Join a presence room as `user`; returns handles with collectors already bound. */
async function member(user, room, name) {
  const echo = await env.echo({ user, name });
  const ch = echo.join(room);
  const joining = collector(`${name} joining()`);
  const leaving = collector(`${name} leaving()`);
  const here = waitFor((resolve) => { ch.here(resolve); }, undefined, `${name} here()`);
  ch.joining(joining).leaving(leaving);
  const members = await here;
  return { echo, ch, joining, leaving, here: members, pusher: echo.connector.pusher };
}

const ids = (infos) => infos.map((i) => String(i.id)).sort();

async function usersOf(channel) {
  const res = await env.sdk.get({ path: `/channels/${channel}/users` });
  if (res.status !== 200) return null;
  const body = await res.json();
  return body.users.map((u) => String(u.id)).sort();
}

test('here() lists each user once; joining() fires on the others, once per user', async () => {
  const a1 = await member(1, 'room.1', 'A1(user 1)');
  assert.deepEqual(ids(a1.here), ['1']);
  assert.deepEqual(a1.here[0], { id: 1, name: 'Taylor' }, 'user_info from the auth endpoint');

  const a2 = await member(1, 'room.1', 'A2(user 1)');
  assert.deepEqual(ids(a2.here), ['1'], 'a second tab of the same user is not listed twice');

  const succeeded = a2.echo.rec.frames.find((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === 'presence-room.1');
  assert.equal(succeeded.data.presence.count, 1);
  assert.deepEqual(succeeded.data.presence.ids.map(String), ['1']);
  assert.deepEqual(succeeded.data.presence.hash['1'], { id: 1, name: 'Taylor' });

  const b = await member(2, 'room.1', 'B(user 2)');
  assert.deepEqual(ids(b.here), ['1', '2']);
  const bMembers = b.pusher.channel('presence-room.1').members;
  assert.equal(bMembers.count, 2);
  assert.equal(String(bMembers.me.id), '2');

  assert.deepEqual(await a1.joining.next(), { id: 2, name: 'Joe' });
  assert.deepEqual(await a2.joining.next(), { id: 2, name: 'Joe' });

  // A third tab of user 1 must not make B (or anyone) see user 1 join again.
  const a3 = await member(1, 'room.1', 'A3(user 1)');
  assert.deepEqual(ids(a3.here), ['1', '2']);
  await env.barrier(b.pusher);
  await env.barrier(a1.pusher);
  assert.equal(b.joining.calls.length, 0, `B saw user 1 join again\n${b.echo.rec.dump()}`);
  assert.deepEqual(a1.joining.calls, [{ id: 2, name: 'Joe' }],
    `A1 saw only user 2 join (not its own user's other tabs)\n${a1.echo.rec.dump()}`);
  assert.equal(a1.pusher.channel('presence-room.1').members.count, 2);
  assert.deepEqual(await usersOf('presence-room.1'), ['1', '2']);
});

test('leaving() fires when a user with one connection disconnects', async () => {
  const a = await member(1, 'room.2', 'A(user 1)');
  const b = await member(2, 'room.2', 'B(user 2)');
  assert.deepEqual(await a.joining.next(), { id: 2, name: 'Joe' });
  b.echo.disconnect();
  assert.deepEqual(await a.leaving.next(), { id: 2, name: 'Joe' });
  assert.equal(a.pusher.channel('presence-room.2').members.count, 1);
  await eventually(async () => JSON.stringify(await usersOf('presence-room.2')) === JSON.stringify(['1']),
    undefined, 'HTTP users list to drop user 2');
});

test('leaving() does not fire when one of two tabs disconnects, only when the last one does', async () => {
  const a1 = await member(1, 'room.3', 'A1(user 1)');
  const a2 = await member(1, 'room.3', 'A2(user 1)');
  const c = await member(3, 'room.3', 'C(user 3)');
  assert.deepEqual(ids(c.here), ['1', '3']);

  // A2 also holds a channel no one else has: once the server reports it
  // unoccupied, the server has processed A2's disconnect.
  const probe = 'probe-room3-a2';
  const probeCh = a2.pusher.subscribe(probe);
  await onceBound(probeCh, 'pusher:subscription_succeeded');
  a2.echo.disconnect();
  await eventually(async () => {
    const res = await env.sdk.get({ path: `/channels/${probe}` });
    return res.status === 200 && (await res.json()).occupied === false;
  }, undefined, `${probe} to become unoccupied after A2 disconnected`);
  await env.barrier(c.pusher);
  assert.equal(c.leaving.calls.length, 0, `user 1 still has a tab open: no leaving()\n${c.echo.rec.dump()}`);
  assert.equal(c.pusher.channel('presence-room.3').members.count, 2);

  a1.echo.disconnect();
  assert.deepEqual(await c.leaving.next(), { id: 1, name: 'Taylor' });
  await eventually(async () => JSON.stringify(await usersOf('presence-room.3')) === JSON.stringify(['3']),
    undefined, 'HTTP users list to drop user 1');
  await env.barrier(c.pusher);
  assert.equal(c.leaving.calls.length, 1, `exactly one leaving() for user 1\n${c.echo.rec.dump()}`);
});

test('Echo.leave() on one of two tabs keeps the user; leaving the last tab fires leaving()', async () => {
  const a1 = await member(1, 'room.4', 'A1(user 1)');
  const a2 = await member(1, 'room.4', 'A2(user 1)');
  const c = await member(3, 'room.4', 'C(user 3)');

  a2.echo.leave('room.4');
  // Same-socket ordering: the pong proves the unsubscribe was processed.
  const pong = a2.echo.rec.waitFrame((f) => f.event === 'pusher:pong', undefined, 'pusher:pong');
  a2.pusher.send_event('pusher:ping', {});
  await pong;
  await env.barrier(c.pusher);
  assert.equal(c.leaving.calls.length, 0, `user 1 still has a tab subscribed\n${c.echo.rec.dump()}`);

  a1.echo.leave('room.4');
  assert.deepEqual(await c.leaving.next(), { id: 1, name: 'Taylor' });
  await env.barrier(c.pusher);
  assert.equal(c.leaving.calls.length, 1);
  assert.deepEqual(await usersOf('presence-room.4'), ['3']);
});
