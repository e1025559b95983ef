// Proves: the committed vendor/ files are exactly what package-lock.json
// installs (run after `npm ci`), so the page the server embeds is the
// pinned library, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../bundle.mjs';

const HERE = join(dirname(fileURLToPath(import.meta.url)), '..');
const json = (file) => JSON.parse(readFileSync(join(HERE, file), 'utf8'));

test('the installed uPlot is the version the lock file pins', () => {
  const wanted = json('package.json').dependencies.uplot;
  const locked = json('package-lock.json').packages['node_modules/uplot'];
  const installed = json('node_modules/uplot/package.json').version;
  assert.equal(locked.version, wanted);
  assert.equal(installed, locked.version);
  assert.match(locked.integrity, /^sha512-/);
});

test('vendor/ holds exactly what the lock file produces', () => {
  for (const [file, bytes] of bundle()) {
    const committed = readFileSync(join(HERE, file));
    assert.ok(committed.equals(bytes), `${file} differs from the locked package: run \`npm run bundle\``);
  }
});

test('the script the page inlines cannot end its <script> element early', () => {
  const script = readFileSync(join(HERE, 'vendor/uPlot.iife.min.js'), 'utf8');
  assert.doesNotMatch(script, /<\/script/i);
});
