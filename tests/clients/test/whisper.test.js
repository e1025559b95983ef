'use strict';
// Proves: client events ("whispers") relay between Echo clients through
// Clarion and never echo back to the sender:
//  - private channel: A .whisper('typing', {name}) reaches B's
//    .listenForWhisper('typing'); B whispers back and A receives it; by then
//    neither sender has received its own whisper
//  - presence channel: the relayed client event carries the sender's
//    user_id (pusher-js passes it as metadata.user_id)
//  - a client that is not subscribed cannot inject a whisper (default
//    accept_client_events_from = members).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, collector, waitFor, connected } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

function subscribed(echoChannel, label) {
  return waitFor((resolve) => { echoChannel.subscribed(resolve); }, undefined, label);
}

test('private-channel whisper reaches the other client, never the sender', async () => {
  const a = await env.echo({ user: 1, name: 'A' });
  const b = await env.echo({ user: 2, name: 'B' });
  const chA = a.private('chat.1');
  const chB = b.private('chat.1');
  const aGot = collector('A typing');
  const bGot = collector('B typing');
  chA.listenForWhisper('typing', aGot);
  chB.listenForWhisper('typing', bGot);
  await Promise.all([subscribed(chA, 'A subscribed'), subscribed(chB, 'B subscribed')]);

  chA.whisper('typing', { name: 'Taylor' });
  assert.deepEqual(await bGot.next(), { name: 'Taylor' });
  const sent = a.rec.frames.find((f) => f.dir === 'out' && f.event === 'client-typing');
  assert.deepEqual(sent, { dir: 'out', event: 'client-typing', channel: 'private-chat.1', data: { name: 'Taylor' } });

  // Round trip: B answers; when A has it, A's own whisper would have arrived first.
  chB.whisper('typing', { name: 'Joe' });
  assert.deepEqual(await aGot.next(), { name: 'Joe' });
  assert.deepEqual(aGot.calls, [{ name: 'Joe' }], `A must not receive its own whisper\n${a.rec.dump()}`);
  await env.barrier(b.connector.pusher);
  assert.deepEqual(bGot.calls, [{ name: 'Taylor' }], `B must not receive its own whisper\n${b.rec.dump()}`);
});

test('presence-channel whisper carries the sender user_id', async () => {
  const a = await env.echo({ user: 1, name: 'A' });
  const b = await env.echo({ user: 2, name: 'B' });
  const chA = a.join('chat.2');
  const chB = b.join('chat.2');
  await Promise.all([
    waitFor((resolve) => { chA.here(resolve); }, undefined, 'A here()'),
    waitFor((resolve) => { chB.here(resolve); }, undefined, 'B here()'),
  ]);
  // Bind on the pusher-js channel to see the metadata Echo drops.
  const raw = collector('B client-typing');
  b.connector.pusher.channel('presence-chat.2').bind('client-typing', raw);
  chA.whisper('typing', { name: 'Taylor' });
  assert.deepEqual(await raw.next(), { name: 'Taylor' });
  assert.equal(String(raw.metas[0] && raw.metas[0].user_id), '1', `relayed frame has user_id "1"\n${b.rec.dump()}`);
});

test('a client not subscribed to the channel cannot whisper into it', async () => {
  const member = await env.echo({ user: 1, name: 'member' });
  const ch = member.private('chat.3');
  const got = collector('member typing');
  ch.listenForWhisper('typing', got);
  await subscribed(ch, 'member subscribed');

  const outsider = env.pusher({ name: 'outsider' });
  await connected(outsider);
  // Sent by pusher-js itself (its send_event), as a tampered page could do.
  outsider.send_event('client-typing', { name: 'intruder' }, 'private-chat.3');
  // Same-socket ordering: once the outsider gets a pong, its client event was handled.
  const pong = outsider.rec.waitFrame((f) => f.event === 'pusher:pong', undefined, 'pusher:pong');
  outsider.send_event('pusher:ping', {});
  await pong;
  await env.barrier(member.connector.pusher);
  assert.equal(got.calls.length, 0, `whisper from a non-member must not be relayed\n${member.rec.dump()}`);
});
