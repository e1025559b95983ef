'use strict';
// Proves: Clarion's live dashboard in a real browser. Headless Chromium
// opens /dashboard with the operator token in ?token=; the page draws its
// charts from Clarion's own snapshot stream. Events published through the
// official `pusher` SDK to pusher-js subscribers make the delivered-per-second
// series rise; the inspector watches the channel and its "Trigger test
// event" form publishes an event that both the inspector and a pusher-js
// subscriber receive. A screenshot of the page is saved.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEnv, onceBound, waitFor } = require('./helpers');
const { launchChromium, screenshot } = require('./examples');

const TOKEN = 'operator-token-for-tests';

let env;
let browser;

before(async () => {
  env = await startEnv({
    env: { CLARION_DASHBOARD_ENABLED: 'true', CLARION_DASHBOARD_TOKEN: TOKEN },
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await env?.close();
});

/** A pusher-js client subscribed to `channel`, ready. */
async function subscriber(channel, opts = {}) {
  const pusher = env.pusher(opts);
  const ch = pusher.subscribe(channel);
  await onceBound(ch, 'pusher:subscription_succeeded', undefined, `${channel} subscribed`);
  return { pusher, ch };
}

/** The largest value of one series of one chart, read from the page. */
function maxOf(page, chart, series) {
  return page.evaluate(([c, s]) => {
    const values = window.clarionDashboard.charts[c].data[s] || [];
    return Math.max(0, ...values.filter((v) => v != null));
  }, [chart, series]);
}

test('the page is refused without the token', async () => {
  const res = await fetch(env.clarionUrl('/dashboard'));
  assert.equal(res.status, 401);
  const wrong = await fetch(env.clarionUrl('/dashboard?token=nope'));
  assert.equal(wrong.status, 401);
});

test('charts move with published events; the inspector sees a test event', async () => {
  const orders = [];
  for (let i = 0; i < 5; i++) orders.push(await subscriber('orders'));
  await subscriber('news');
  await subscriber('presence-lobby', { user: 1 });
  await subscriber('presence-lobby', { user: 2 });

  const page = await browser.newPage({ viewport: { width: 1360, height: 680 } });
  await page.goto(env.clarionUrl(`/dashboard?token=${TOKEN}`));
  await page.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: 10000 });
  assert.equal(await page.locator('#app').inputValue(), env.app.id);
  await page.waitForFunction(() => document.getElementById('tile-connections').textContent === '8', null, { timeout: 5000 });
  assert.equal(await page.locator('#tile-channels').textContent(), '3');
  assert.equal(await page.locator('#tile-members').textContent(), '2');
  assert.equal(await maxOf(page, 'throughput', 2), 0, 'nothing delivered yet');

  // Publish in bursts until the chart has drawn a rising delivered/s series.
  let published = 0;
  const publishing = setInterval(() => {
    for (let i = 0; i < 4; i++) {
      published += 1;
      env.sdk.trigger('orders', 'order-placed', { n: published }).catch(() => {});
    }
  }, 150);
  try {
    await page.waitForFunction(() => {
      const d = window.clarionDashboard.charts.throughput.data;
      const delivered = (d[2] || []).filter((v) => v != null);
      // Four snapshots in a row with deliveries: a line, not a dot.
      return delivered.slice(-4).length === 4 && delivered.slice(-4).every((v) => v > 0);
    }, null, { timeout: 15000 });
  } finally {
    clearInterval(publishing);
  }
  const delivered = await maxOf(page, 'throughput', 2);
  const publishedRate = await maxOf(page, 'throughput', 1);
  assert.ok(publishedRate > 0, `published/s rose to ${publishedRate}`);
  // Five subscribers per event (the two counters are read a moment apart).
  assert.ok(Math.abs(delivered - 5 * publishedRate) <= 0.1 * delivered, `${delivered} delivered/s for ${publishedRate} published/s`);
  assert.ok(await maxOf(page, 'latency', 2) > 0, 'a p99 latency was drawn');
  assert.notEqual(await page.locator('#tile-delivered').textContent(), '–');

  // Inspector: watch the channel, trigger a test event from the page.
  await page.fill('#channel', 'orders');
  await page.click('#watch button[type=submit]');
  await page.waitForFunction(() => document.getElementById('watching').textContent.startsWith('watching orders'), null, { timeout: 5000 });
  const received = waitFor((resolve) => {
    const cb = (data) => resolve(data);
    orders[0].ch.bind('dashboard-test', cb);
    return () => orders[0].ch.unbind('dashboard-test', cb);
  }, 5000, 'the test event at a pusher-js subscriber');
  await page.fill('#event', 'dashboard-test');
  await page.fill('#data', '{"from":"the dashboard"}');
  await page.click('#trigger button[type=submit]');
  assert.deepEqual(await received, { from: 'the dashboard' });
  await page.waitForFunction(() => Number(document.body.dataset.inspected) >= 1, null, { timeout: 5000 });
  const first = await page.locator('#log li').first().textContent();
  assert.match(first, /dashboard-test @ orders/);
  assert.match(first, /the dashboard/);
  assert.match(await page.locator('#triggered').textContent(), /^sent to orders/);

  await screenshot(page, 'dashboard', { fullPage: true });
  await page.close();
});
