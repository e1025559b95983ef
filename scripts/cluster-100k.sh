#!/usr/bin/env bash
# A local cluster at scale (docs/performance.md, "A 95k-connection local
# cluster" and "Presence at cluster scale"): starts a redis-server of its
# own and NODES release nodes with scaling on (each on its own port, with
# `ulimit -n 20000`), runs one clarion-bench cluster scenario against them
# and writes its JSON report, the nodes' logs and the machine's load to OUT.
#
#   cargo build --release --locked -p clarion -p clarion-bench
#   scripts/cluster-100k.sh idle out/cluster-idle          # 5 x 19,000 sockets
#   scripts/cluster-100k.sh presence out/cluster-presence  # 10,000 members
#
# Settings (environment): NODES (5), PER_NODE sockets per node (19000),
# PUBLISHES (20), MEMBERS (10000), CHANNELS (1000 for presence, 100 spread
# channels for idle), RESTART_NODE (the node presence kills and restarts, 2),
# ROUTING (scaling.routing, "channel"), and BENCH_ARGS for more options.
set -euo pipefail
mode=${1:-idle}
out=${2:-cluster-$mode}
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
server="$target_dir/release/clarion"
bench="$target_dir/release/clarion-bench"
[ -x "$server" ] && [ -x "$bench" ] || {
  echo "build first: cargo build --release --locked -p clarion -p clarion-bench" >&2
  exit 1
}
nodes=${NODES:-5}
routing=${ROUTING:-channel}
# Every process started from here (nodes, bench, its children) may hold
# 20,000 descriptors: this machine's hard limit.
ulimit -n 20000
mkdir -p "$out"
out=$(cd "$out" && pwd)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1; see $out" >&2
  exit 1
}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$out/redis.log" 2>&1 &
pids+=($!)
wait_port "$redis_port"

# The command line of node $1 on port $2 (also the presence restart command).
node_cmd() {
  echo "ulimit -n 20000; exec env REVERB_APP_ID=1000 REVERB_APP_KEY=app-key" \
    "REVERB_APP_SECRET=app-secret REVERB_SCALING_ENABLED=true" \
    "REDIS_URL=redis://127.0.0.1:$redis_port/0 CLARION_SCALING_ROUTING=$routing" \
    "CLARION_DRAIN_PAUSE=0 RUST_LOG=warn $server --host 127.0.0.1 --port $2" \
    ">>$out/node-$1.log 2>&1"
}
urls=() node_pids=() ports=()
for i in $(seq 0 $((nodes - 1))); do
  port=$(free_port)
  bash -c "$(node_cmd "$i" "$port")" &
  pids+=($!)
  node_pids+=($!)
  ports+=("$port")
  urls+=("ws://127.0.0.1:$port")
done
for port in "${ports[@]}"; do wait_port "$port"; done
join() { local IFS=,; echo "$*"; }

uptime >"$out/load.txt"
case "$mode" in
  idle)
    "$bench" --json --no-progress cluster-idle --urls "$(join "${urls[@]}")" \
      --pids "$(join "${node_pids[@]}")" --redis "127.0.0.1:$redis_port" \
      -n "${PER_NODE:-19000}" -c "${CHANNELS:-100}" -p "${PUBLISHES:-20}" ${BENCH_ARGS:-} \
      >"$out/bench.json"
    ;;
  presence)
    k=${RESTART_NODE:-2}
    "$bench" --json --no-progress cluster-presence --urls "$(join "${urls[@]}")" \
      --pids "$(join "${node_pids[@]}")" --redis "127.0.0.1:$redis_port" \
      -m "${MEMBERS:-10000}" -c "${CHANNELS:-1000}" \
      --restart-node "$k" --restart-cmd "$(node_cmd "$k" "${ports[$k]}")" ${BENCH_ARGS:-} \
      >"$out/bench.json"
    ;;
  *) echo "mode: idle or presence" >&2; exit 2 ;;
esac
uptime >>"$out/load.txt"
cat "$out/bench.json"
echo
echo "load (before, after):" && cat "$out/load.txt"
echo "report in $out/bench.json"
