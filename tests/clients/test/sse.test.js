'use strict';
// Proves: the npm `eventsource` package (the EventSource of Node) reads
// Clarion's Server-Sent Events streams as seed 001's dashboard does —
// es.addEventListener('metrics_updated', e => JSON.parse(e.data)) — for
// events published with the official pusher SDK, on one and several
// channels (envelope=1 tells them apart), and the stream counts as a
// subscriber in the HTTP API while it is open.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { EventSource } = require('eventsource');
const { startEnv, waitFor, eventually } = require('./helpers');

let env;
before(async () => { env = await startEnv(); });
after(async () => { await env?.close(); });

function open(query) {
  const url = `http://127.0.0.1:${env.server.port}/app/${env.app.key}/events?${query}`;
  const es = new EventSource(url);
  return es;
}

function opened(es) {
  return waitFor((resolve, reject) => {
    es.onopen = resolve;
    es.onerror = (e) => reject(new Error(`EventSource error: ${e.message || e.code}`));
  }, undefined, 'EventSource open');
}

test('addEventListener(name) gets the data string as published', async () => {
  const es = open('channels=containers.42');
  try {
    await opened(es);
    const got = waitFor((resolve) => {
      es.addEventListener('metrics_updated', (e) => resolve(JSON.parse(e.data)));
    }, undefined, 'metrics_updated');
    await env.sdk.trigger('containers.42', 'metrics_updated', { cpu: 12.5, memory: 512 });
    assert.deepEqual(await got, { cpu: 12.5, memory: 512 });
    await eventually(async () => {
      const res = await env.sdk.get({ path: '/channels/containers.42', params: { info: 'subscription_count' } });
      const body = await res.json();
      return body.occupied === true && body.subscription_count === 1;
    }, undefined, 'the stream counted as a subscriber');
  } finally {
    es.close();
  }
});

test('envelope=1 tells the channels of one stream apart', async () => {
  const es = open('channels=status,incidents&envelope=1');
  try {
    await opened(es);
    const seen = [];
    const both = waitFor((resolve) => {
      es.addEventListener('changed', (e) => {
        seen.push(JSON.parse(e.data));
        if (seen.length === 2) resolve(seen);
      });
    }, undefined, 'two events');
    await env.sdk.trigger(['status', 'incidents'], 'changed', { id: 1 });
    const got = await both;
    assert.deepEqual(got.map((m) => m.channel).sort(), ['incidents', 'status']);
    for (const m of got) assert.deepEqual(JSON.parse(m.data), { id: 1 });
  } finally {
    es.close();
  }
});

test('a stream opened after the last id it saw gets exactly the missed events', async () => {
  const first = open('channels=deployments.9');
  let lastId;
  try {
    await opened(first);
    const got = waitFor((resolve) => {
      first.addEventListener('deployment_progress', (e) => resolve(e));
    }, undefined, 'first progress event');
    await env.sdk.trigger('deployments.9', 'deployment_progress', { percent: 10 });
    const e = await got;
    assert.deepEqual(JSON.parse(e.data), { percent: 10 });
    assert.match(e.lastEventId, /^\d+-\d+$/);
    lastId = e.lastEventId;
  } finally {
    first.close();
  }
  await env.sdk.trigger('deployments.9', 'deployment_progress', { percent: 60 });
  await env.sdk.trigger('deployments.9', 'deployment_progress', { percent: 100 });
  const back = open(`channels=deployments.9&lastEventId=${encodeURIComponent(lastId)}`);
  try {
    const seen = [];
    const both = waitFor((resolve) => {
      back.addEventListener('deployment_progress', (ev) => {
        seen.push(JSON.parse(ev.data).percent);
        if (seen.length === 2) resolve(seen);
      });
    }, undefined, 'the missed events');
    assert.deepEqual(await both, [60, 100]);
  } finally {
    back.close();
  }
});
