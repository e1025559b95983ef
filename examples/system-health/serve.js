'use strict';
// Serves the system-health widget and the browser builds of pusher-js and Laravel
// Echo from node_modules (no CDN), plus /config.js telling the page where
// Clarion is. Run: npm start (after `npm install`), with a Clarion running
// locally (`cargo run --release` in the repository root).
//
// Environment: PORT (default 3000; 0 picks a free one), CLARION_HOST
// (127.0.0.1), CLARION_PORT (8080), CLARION_KEY (app-key).

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const config = {
  key: process.env.CLARION_KEY || 'app-key',
  host: process.env.CLARION_HOST || '127.0.0.1',
  port: Number(process.env.CLARION_PORT || 8080),
};

// The directory of an installed package (its `exports` hide subpaths).
function packageDir(name) {
  let dir = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}

const files = {
  '/': [path.join(__dirname, 'public', 'index.html'), 'text/html'],
  '/app.js': [path.join(__dirname, 'public', 'app.js'), 'text/javascript'],
  '/style.css': [path.join(__dirname, 'public', 'style.css'), 'text/css'],
  '/vendor/pusher.js': [path.join(packageDir('pusher-js'), 'dist/web/pusher.min.js'), 'text/javascript'],
  '/vendor/echo.js': [path.join(packageDir('laravel-echo'), 'dist/echo.iife.js'), 'text/javascript'],
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/config.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(`window.SYSTEM_HEALTH = ${JSON.stringify(config)};`);
    return;
  }
  const file = files[url.pathname];
  if (!file) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not found');
    return;
  }
  res.writeHead(200, { 'content-type': file[1] });
  fs.createReadStream(file[0]).pipe(res);
});

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`system-health widget on http://127.0.0.1:${server.address().port}/`);
});
