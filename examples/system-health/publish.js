'use strict';
// The scheduled job of seed 000, on Clarion: every few seconds it gathers
// the system's health (simulated here: database, redis and two services
// with their latency, the server's CPU and memory) and broadcasts it as
// Laravel does `broadcast(new SystemHealthUpdated($health))` — event
// `App\Events\SystemHealthUpdated` on the public channel `system-health`,
// data `{"health": …}` — with the official pusher Node SDK.
//
//   node publish.js            # every EVERY_MS (3000) until stopped
//   node publish.js --once     # one update
//   node publish.js --once --degraded   # one update with a slow service
//
// Environment: CLARION_HOST (127.0.0.1), CLARION_PORT (8080),
// CLARION_APP_ID (1000), CLARION_KEY (app-key), CLARION_SECRET (app-secret).

const Pusher = require('pusher');

const pusher = new Pusher({
  appId: process.env.CLARION_APP_ID || '1000',
  key: process.env.CLARION_KEY || 'app-key',
  secret: process.env.CLARION_SECRET || 'app-secret',
  host: process.env.CLARION_HOST || '127.0.0.1',
  port: process.env.CLARION_PORT || '8080',
  useTLS: false,
});

function health(degraded) {
  const service = (base, slow) => {
    const latency = Math.round(base + Math.random() * base);
    return { status: slow ? 'degraded' : 'healthy', latency_ms: slow ? latency * 20 : latency };
  };
  const services = {
    database: service(3),
    redis: service(1),
    ai_service: service(40, degraded),
    scraper_service: service(25),
  };
  const statuses = Object.values(services).map((s) => s.status);
  return {
    global_status: statuses.includes('down') ? 'down' : statuses.includes('degraded') ? 'degraded' : 'healthy',
    timestamp: new Date().toISOString(),
    services,
    droplet: { cpu_usage: +(10 + Math.random() * 40).toFixed(1), memory: Math.round(900 + Math.random() * 300), region: 'fra1' },
  };
}

async function once(degraded) {
  await pusher.trigger('system-health', 'App\\Events\\SystemHealthUpdated', { health: health(degraded) });
}

const args = process.argv.slice(2);
if (args.includes('--once')) {
  once(args.includes('--degraded')).catch((e) => { console.error(e.message || e); process.exit(1); });
} else {
  const every = Number(process.env.EVERY_MS || 3000);
  const tick = () => once(false).then(() => console.log('system-health ← SystemHealthUpdated'), (e) => console.error(e.message || e));
  tick();
  setInterval(tick, every);
}
