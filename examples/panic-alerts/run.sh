#!/usr/bin/env bash
# Seed 002 as deployed, on one machine, with one command: a redis-server,
# two Clarion replicas scaling through it (the built-in auth endpoint on,
# CLARION_AUTH_JWT_SECRET=dev-jwt-secret), nginx running deploy/nginx.conf
# in front of them on :8080, and the backend + dashboard on :3002.
# Ctrl-C stops everything. Needs redis-server, nginx, node and a built
# clarion (cargo build --release in the repository root).
#
#   examples/panic-alerts/run.sh
#   python examples/panic-alerts/mobile.py      # the mobile client (pip install pysher)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
clarion=${CLARION_BIN:-$target/release/clarion}
run=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$run"' EXIT INT TERM

redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no >"$run/redis.log" 2>&1 &
pids+=($!)
for port in 8081 8082; do
  REVERB_APP_ID=1000 REVERB_APP_KEY=app-key REVERB_APP_SECRET=app-secret \
  REVERB_SERVER_HOST=127.0.0.1 REVERB_SERVER_PORT=$port \
  REVERB_SCALING_ENABLED=true REDIS_HOST=127.0.0.1 REDIS_PORT=6390 \
  CLARION_AUTH_JWT_SECRET=dev-jwt-secret "$clarion" >"$run/clarion-$port.log" 2>&1 &
  pids+=($!)
done
conf=$(node "$here/nginx-conf.js" "$run/nginx" 8080 8081 8082)
nginx -p "$run/nginx" -c "$conf" &
pids+=($!)
(cd "$here" && BALANCER_PORT=8080 JWT_SECRET=dev-jwt-secret node server.js) &
pids+=($!)
echo "dashboard: http://127.0.0.1:3002/   balancer: http://127.0.0.1:8080/up   logs: $run"
wait
