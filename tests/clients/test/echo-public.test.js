'use strict';
// Proves: Laravel Echo (with pusher-js underneath), configured with
// broadcaster 'reverb' and again with broadcaster 'pusher', receives events
// a Laravel backend broadcasts through Clarion's HTTP API:
//  - a custom event name (broadcastAs) via .listen('.OrderShipped')
//  - a Laravel class-named event `App\Events\OrderShipped` via
//    .listen('OrderShipped') with Echo's default namespace 'App.Events'
//  - Echo.leave() stops delivery.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, collector, waitFor } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

function subscribed(echoChannel, label) {
  return waitFor((resolve) => { echoChannel.subscribed(resolve); }, undefined, label);
}

for (const broadcaster of ['reverb', 'pusher']) {
  describe(`Echo broadcaster '${broadcaster}'`, () => {
    test('listen(".OrderShipped") receives a custom-named event', async () => {
      const echo = await env.echo({ broadcaster });
      const channelName = `orders-${broadcaster}`;
      const ch = echo.channel(channelName);
      const got = collector('.OrderShipped');
      ch.listen('.OrderShipped', got);
      await subscribed(ch, `Echo subscribed to ${channelName}`);
      await env.sdk.trigger(channelName, 'OrderShipped', { id: 1 });
      assert.deepEqual(await got.next(), { id: 1 });
      assert.match(echo.socketId(), /^\d+\.\d+$/);
      assert.equal(echo.connectionStatus(), 'connected');
    });

    test('listen("OrderShipped") receives App\\Events\\OrderShipped (default namespace)', async () => {
      const echo = await env.echo({ broadcaster });
      const channelName = `ns-orders-${broadcaster}`;
      const ch = echo.channel(channelName);
      const namespaced = collector('App\\Events\\OrderShipped');
      const custom = collector('.OrderShipped');
      ch.listen('OrderShipped', namespaced);
      ch.listen('.OrderShipped', custom);
      await subscribed(ch, `Echo subscribed to ${channelName}`);
      await env.sdk.trigger(channelName, 'App\\Events\\OrderShipped', { order: { id: 5 } });
      assert.deepEqual(await namespaced.next(), { order: { id: 5 } });
      // The un-namespaced listener must not see the class-named event.
      await env.barrier(echo.connector.pusher);
      assert.equal(custom.calls.length, 0);
      const frame = echo.rec.frames.find((f) => f.dir === 'in' && f.channel === channelName && f.event !== 'pusher_internal:subscription_succeeded');
      assert.equal(frame.event, 'App\\Events\\OrderShipped', 'event name arrives unchanged, with backslashes');
    });

    test('Echo.leave() stops delivery', async () => {
      const echo = await env.echo({ broadcaster });
      const channelName = `leave-${broadcaster}`;
      const ch = echo.channel(channelName);
      const got = collector('.Tick');
      ch.listen('.Tick', got);
      await subscribed(ch, `Echo subscribed to ${channelName}`);
      await env.sdk.trigger(channelName, 'Tick', { n: 1 });
      assert.deepEqual(await got.next(), { n: 1 });
      echo.leave(channelName);
      // Wait until the server has processed the unsubscribe (same-socket ordering).
      const p = echo.connector.pusher;
      const pong = p.rec.waitFrame((f) => f.event === 'pusher:pong', undefined, 'pusher:pong');
      p.send_event('pusher:ping', {});
      await pong;
      await env.sdk.trigger(channelName, 'Tick', { n: 2 });
      await env.barrier(p);
      const ticks = p.rec.frames.filter((f) => f.dir === 'in' && f.event === 'Tick');
      assert.equal(ticks.length, 1, `only the event before leave() arrives\n${p.rec.dump()}`);
    });
  });
}
