// Copies the charting library of Clarion's /dashboard (uPlot, MIT) from
// node_modules, as `npm ci` installs it from package-lock.json, into
// vendor/, which is committed: the server embeds vendor/ with include_str!,
// so `cargo build` needs neither npm nor the network.
//
//   cd dashboard && npm ci && npm run bundle   # after changing the version
//   npm test                                   # vendor/ matches the lock
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/** [installed file, committed copy], relative to this folder. */
export const FILES = [
  ['node_modules/uplot/dist/uPlot.iife.min.js', 'vendor/uPlot.iife.min.js'],
  ['node_modules/uplot/dist/uPlot.min.css', 'vendor/uPlot.min.css'],
  ['node_modules/uplot/LICENSE', 'vendor/uPlot.LICENSE'],
];

/** The bytes each committed file must hold, read from node_modules. */
export function bundle() {
  return FILES.map(([from, to]) => [to, readFileSync(join(HERE, from))]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [to, bytes] of bundle()) {
    mkdirSync(dirname(join(HERE, to)), { recursive: true });
    writeFileSync(join(HERE, to), bytes);
    console.log(`wrote ${to} (${bytes.length} bytes)`);
  }
}
