#!/usr/bin/env bash
# Soak runs (issue "Hardening"): one node, or two nodes on a redis-server of
# their own, under `clarion-bench soak` for DURATION seconds; writes each
# bench's JSON report and the servers' logs to OUT.
#
#   scripts/soak.sh single 1800 out/soak-single
#   scripts/soak.sh cluster 1800 out/soak-cluster
#
# Uses target/release/clarion and target/release/clarion-bench
# (cargo build --release -p clarion -p clarion-bench). Extra soak options
# (e.g. --subscribers 500) go in SOAK_ARGS.
set -euo pipefail
mode=${1:?single or cluster}
duration=${2:-1800}
out=${3:-soak-$mode}
root=$(cd "$(dirname "$0")/.." && pwd)
server="$root/target/release/clarion"
bench="$root/target/release/clarion-bench"
mkdir -p "$out"
out=$(cd "$out" && pwd)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
start_node() { # name port [env...]
  local name=$1 port=$2; shift 2
  (cd "$out" && env CLARION_DRAIN_PAUSE=0 "$@" "$server" --host 127.0.0.1 --port "$port" >"$out/$name.log" 2>&1) &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "listening on" "$out/$name.log" 2>/dev/null && return
    sleep 0.1
  done
  echo "node $name did not start" >&2; exit 1
}
pid_on() { # the server process listening on port $1
  pgrep -f -- "--port $1\$" | head -1
}
opts=(--json --no-progress)
case "$mode" in
  single)
    a=$(free_port)
    start_node a "$a"
    "$bench" --url "ws://127.0.0.1:$a" --server-pid "$(pid_on "$a")" "${opts[@]}" \
      soak -d "$duration" ${SOAK_ARGS:-} >"$out/bench.json" 2>"$out/bench.err"
    ;;
  cluster)
    r=$(free_port)
    redis-server --port "$r" --bind 127.0.0.1 --save "" --appendonly no >"$out/redis.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do redis-cli -p "$r" ping >/dev/null 2>&1 && break; sleep 0.1; done
    scale=(REVERB_SCALING_ENABLED=true "REDIS_URL=redis://127.0.0.1:$r/0")
    a=$(free_port); start_node a "$a" "${scale[@]}"
    b=$(free_port); start_node b "$b" "${scale[@]}"
    pa=$(pid_on "$a"); pb=$(pid_on "$b")
    # Subscribers on one node, publishing through the other: every event
    # crosses Redis. Two benches, one each way, on separate channels.
    "$bench" --url "ws://127.0.0.1:$b" --http-url "http://127.0.0.1:$a" --server-pid "$pb" \
      --channel-prefix ab- "${opts[@]}" soak -d "$duration" --pids "$pa,$pb" ${SOAK_ARGS:-} \
      >"$out/bench-ab.json" 2>"$out/bench-ab.err" &
    first=$!
    "$bench" --url "ws://127.0.0.1:$a" --http-url "http://127.0.0.1:$b" --server-pid "$pa" \
      --channel-prefix ba- "${opts[@]}" soak -d "$duration" --pids "$pa,$pb" ${SOAK_ARGS:-} \
      >"$out/bench-ba.json" 2>"$out/bench-ba.err"
    wait "$first"
    ;;
  *) echo "mode: single or cluster" >&2; exit 2 ;;
esac
echo "reports in $out"
