'use strict';
// Proves: a backend using the official `pusher` server SDK accepts
// Clarion's webhooks as genuine. The receiver below validates every request
// with `pusher.webhook({headers, rawBody}).isValid()` (key, HMAC signature,
// exact Content-Type), as a Laravel or Node backend would, and reads the
// events with `getEvents()`. A pusher-js client joining and leaving a
// presence channel through Laravel Echo produces occupied/added and
// removed/vacated; a receiver that is down gets them once it is back.

const http = require('node:http');
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, freePort, waitFor, eventually } = require('./helpers');

/** A webhook receiver on `port` that validates with the SDK's webhook(). */
function receiver(port, sdk) {
  const requests = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    let rawBody = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { rawBody += c; });
    req.on('end', () => {
      const webhook = sdk().webhook({ headers: req.headers, rawBody });
      const tampered = sdk().webhook({ headers: req.headers, rawBody: rawBody.replace('"events"', '"events" ') });
      requests.push({ valid: webhook.isValid(), tamperedValid: tampered.isValid(), events: webhook.isValid() ? webhook.getEvents() : [], headers: req.headers });
      res.writeHead(200).end('ok');
      waiters.splice(0).forEach((w) => w());
    });
  });
  return {
    requests,
    url: `http://127.0.0.1:${port}/pusher/webhook`,
    listen: () => new Promise((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () => new Promise((resolve) => server.close(resolve)),
    events: () => requests.flatMap((r) => r.events),
    /** Waits until `n` events have arrived. */
    async atLeast(n, ms = 15000) {
      await eventually(() => requests.flatMap((r) => r.events).length >= n, ms, `${n} webhook events`);
      return requests.flatMap((r) => r.events);
    },
  };
}

async function withReceiver({ up, log }, body) {
  const port = await freePort();
  let env;
  const hooks = receiver(port, () => env.sdk);
  if (up) await hooks.listen();
  env = await startEnv({
    env: {
      REVERB_APP_ID: '1000',
      REVERB_APP_KEY: 'app-key',
      REVERB_APP_SECRET: 'app-secret',
      CLARION_WEBHOOK_URL: hooks.url,
      CLARION_WEBHOOK_EVENT_TYPES: 'channel_occupied,channel_vacated,member_added,member_removed',
      CLARION_WEBHOOKS_BATCH_WAIT_MS: '50',
      CLARION_WEBHOOKS_RETRY_INITIAL_MS: '200',
      CLARION_WEBHOOKS_RETRY_MAX_MS: '500',
      ...(log ? { RUST_LOG: log } : {}),
    },
  });
  try {
    await body(env, hooks);
  } finally {
    await env.close();
    await hooks.close();
  }
}

test('the pusher SDK validates webhooks for a presence join and leave', async () => {
  await withReceiver({ up: true }, async (env, hooks) => {
    const echo = await env.echo({ user: 7 });
    const room = echo.join('lobby');
    await waitFor((resolve) => { room.here(resolve); }, undefined, 'joined lobby');
    const joined = await hooks.atLeast(2);
    assert.deepEqual(joined.map((e) => [e.name, e.channel, e.user_id]), [
      ['channel_occupied', 'presence-lobby', undefined],
      ['member_added', 'presence-lobby', '7'],
    ]);
    echo.leave('lobby');
    const all = await hooks.atLeast(4);
    assert.deepEqual(all.slice(2).map((e) => e.name), ['member_removed', 'channel_vacated']);
    assert.ok(hooks.requests.every((r) => r.valid), 'every request is valid for the SDK');
    assert.ok(hooks.requests.every((r) => !r.tamperedValid), 'a changed body is refused by the SDK');
    assert.ok(hooks.requests.every((r) => r.headers['content-type'] === 'application/json'));
    const ids = new Set(all.map((e) => e.id));
    assert.equal(ids.size, 4, 'each event has its own id');
  });
});

test('a receiver that is down gets the events after it comes back', async () => {
  await withReceiver({ up: false, log: 'info,clarion::webhooks=debug' }, async (env, hooks) => {
    const echo = await env.echo({ user: 8 });
    const room = echo.join('night-shift');
    await waitFor((resolve) => { room.here(resolve); }, undefined, 'joined night-shift');
    // The first attempt fails (connection refused); then the receiver
    // comes up and a retry delivers.
    await eventually(() => env.server.output().includes('webhook delivery failed; retrying'), 10000, 'a failed attempt');
    await hooks.listen();
    const events = await hooks.atLeast(2);
    assert.deepEqual(events.slice(0, 2).map((e) => e.name), ['channel_occupied', 'member_added']);
    assert.ok(hooks.requests.every((r) => r.valid));
  });
});
