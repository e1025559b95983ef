'use strict';
// Shared by the example tests: start an example's own server (it prints
// its URL), run its scripts, and drive Debian's Chromium through
// playwright-core. Each example runs with NODE_PATH pointing at this suite's
// node_modules, so the examples need no `npm install` of their own here.

const path = require('node:path');
const fs = require('node:fs');
const { spawn, execFile } = require('node:child_process');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '../../..');
const NODE_PATH = path.resolve(__dirname, '../node_modules');
const SHOTS = path.resolve(__dirname, '../screenshots');

/** The example folder `name`. */
function exampleDir(name) {
  return path.join(ROOT, 'examples', name);
}

/** The environment an example's scripts get: Clarion's address and app. */
function exampleEnv(env, extra = {}) {
  return {
    ...process.env,
    NODE_PATH,
    CLARION_HOST: '127.0.0.1',
    CLARION_PORT: String(env.server.port),
    CLARION_APP_ID: env.app.id,
    CLARION_KEY: env.app.key,
    CLARION_SECRET: env.app.secret,
    ...extra,
  };
}

/**
 * Spawns `cmd args` in `cwd` and resolves once its output matches
 * `pattern`: { child, match, out() }. Rejects if it exits first or after
 * 15 s.
 */
function spawnReady(cmd, args, { cwd, env }, pattern, label) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => reject(new Error(`${label} did not start`)), 15000);
    let out = '';
    const onData = (d) => {
      out += String(d);
      const m = pattern.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, match: m, out: () => out }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { out += String(d); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${label} exited with ${code}: ${out}`)); });
  });
}

/** Starts an example's web server (`script` prints its URL); { child, url }. */
async function startSite(name, script, env) {
  const ready = await spawnReady(process.execPath, [script], { cwd: exampleDir(name), env: { ...env, PORT: '0' } },
    /(http:\/\/127\.0\.0\.1:\d+\/)/, `${name}/${script}`);
  return { child: ready.child, url: ready.match[1] };
}

/** Runs `file args` in the example folder; resolves with its stdout. */
function run(name, file, args, env) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: exampleDir(name), env, timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Headless Chromium (CLARION_CHROMIUM, else Debian's). */
function launchChromium() {
  return chromium.launch({ executablePath: process.env.CLARION_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
}

/** Saves a screenshot of `page` as screenshots/`name`.png. */
async function screenshot(page, name, options = {}) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), ...options });
}

module.exports = { exampleDir, exampleEnv, launchChromium, run, screenshot, spawnReady, startSite };
