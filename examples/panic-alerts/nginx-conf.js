'use strict';
// Writes deploy/nginx.conf, the configuration operators deploy, for two
// replicas on this machine: the upstream servers and the listen port are
// rewritten, and the file is wrapped with what a standalone, unprivileged
// nginx needs (pid, logs and temp paths in DIR).
//
//   node nginx-conf.js DIR LISTEN_PORT REPLICA_PORT_1 REPLICA_PORT_2
// prints the path of the written nginx.conf.

const fs = require('node:fs');
const path = require('node:path');

function write(dir, listen, replicas) {
  const deployed = fs.readFileSync(path.resolve(__dirname, '../../deploy/nginx.conf'), 'utf8');
  let upstreams = 0;
  const site = deployed
    .replace(/server clarion-\d+:8080/g, () => `server 127.0.0.1:${replicas[upstreams++]}`)
    .replace(/listen 80;/, `listen 127.0.0.1:${listen};`);
  if (upstreams !== replicas.length) throw new Error(`deploy/nginx.conf has ${upstreams} upstream servers, expected ${replicas.length}`);
  fs.mkdirSync(dir, { recursive: true });
  const conf = `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${site}
}
`;
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf);
  return file;
}

module.exports = { write };

if (require.main === module) {
  const [dir, listen, ...replicas] = process.argv.slice(2);
  console.log(write(path.resolve(dir), Number(listen), replicas.map(Number)));
}
