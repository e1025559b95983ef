'use strict';
// The status app's backend, with the official Pusher Node SDK pointed at
// Clarion: `node publish.js` plays the whole timeline (one step every 2 s);
// `node publish.js degrade incident` publishes just those steps (names in
// events.json). Environment: CLARION_HOST (127.0.0.1), CLARION_PORT
// (8080), CLARION_APP_ID (1000), CLARION_KEY (app-key), CLARION_SECRET
// (app-secret), ORG_ID (7).

const Pusher = require('pusher');
const events = require('./events.json');

const pusher = new Pusher({
  appId: process.env.CLARION_APP_ID || '1000',
  key: process.env.CLARION_KEY || 'app-key',
  secret: process.env.CLARION_SECRET || 'app-secret',
  host: process.env.CLARION_HOST || '127.0.0.1',
  port: process.env.CLARION_PORT || '8080',
  useTLS: false,
});
const channel = `organization.${process.env.ORG_ID || 7}`;

async function main() {
  const steps = process.argv.slice(2);
  const timeline = steps.length === 0;
  for (const step of timeline ? Object.keys(events) : steps) {
    const [name, data] = events[step] || [];
    if (!name) throw new Error(`unknown step ${step}; one of ${Object.keys(events).join(', ')}`);
    await pusher.trigger(channel, name, { ...data, timestamp: new Date().toISOString() });
    console.log(`${channel} ← ${name}`);
    if (timeline) await new Promise((r) => setTimeout(r, 2000));
  }
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
