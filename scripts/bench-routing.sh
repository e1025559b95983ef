#!/usr/bin/env bash
# Interest routing against the one-channel design, in one run: three
# release nodes A, B and C on one redis-server; subscribers on node A only
# (`clarion-bench fanout` against A, publishing through A's HTTP API), B and
# C idle. For each routing mode (broadcast = every event to every node,
# channel = per-channel Redis channels) it prints the CPU each node spent
# (utime + stime from /proc), the bytes each received from Redis (the
# kernel's bytes_received of its Redis sockets, from `ss -ti`), B's and C's
# share of A's CPU, and Redis's own CPU.
#
#   scripts/bench-routing.sh                      # 1,000 subscribers × 10 channels × 500 events/s, 20 s
#   SUBS=2000 RATE=1000 DURATION=30 ROUNDS=3 scripts/bench-routing.sh
#
# Then, per mode, `clarion-bench churn` against A (50 workers, each cycle
# the first subscriber of its channel and then its last, so with channel
# routing every cycle links and unlinks a Redis channel): cycles/s and
# cycle latency, the cost of linking on the subscribe path. CHURN=0 skips it.
#
# Loopback only; redis-server must be installed. Uses cargo's target
# directory (CARGO_TARGET_DIR is honoured).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUBS=${SUBS:-1000}
CHANNELS=${CHANNELS:-10}
RATE=${RATE:-500}
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-1}
MODES=${MODES:-broadcast channel}
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml" -p clarion -p clarion-bench
CLARION=$TARGET_DIR/release/clarion
BENCH=$TARGET_DIR/release/clarion-bench
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  exit 1
}

# CPU ticks (utime + stime) of a pid and the bytes it received from Redis
# (its sockets to the Redis port, as the kernel counts them).
sample() {
  local ticks bytes
  ticks=$(awk '{print $14 + $15}' "/proc/$1/stat")
  bytes=$(ss -tinpH "( dport = :$REDIS_PORT )" | python3 -c '
import re, sys
pid, total, mine = sys.argv[1], 0, False
for line in sys.stdin:
    if line.startswith("ESTAB") or not line[:1].isspace():
        mine = f"pid={pid}," in line
    elif mine:
        m = re.search(r"bytes_received:(\d+)", line)
        total += int(m.group(1)) if m else 0
print(total)' "$1")
  echo "$ticks $bytes"
}

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
wait_port "$REDIS_PORT"
HZ=$(getconf CLK_TCK)
CHURN_LINES=()

start_node() { # mode name → sets NODE_PID, NODE_PORT
  NODE_PORT=$(free_port)
  env -i PATH="$PATH" REVERB_SERVER_HOST=127.0.0.1 REVERB_SERVER_PORT="$NODE_PORT" \
    REVERB_APP_ID=1000 REVERB_APP_KEY=app-key REVERB_APP_SECRET=app-secret \
    REVERB_SCALING_ENABLED=true REVERB_SCALING_CHANNEL=routing-bench REDIS_HOST=127.0.0.1 \
    REDIS_PORT="$REDIS_PORT" CLARION_SCALING_ROUTING="$1" RUST_LOG=warn \
    "$CLARION" >"$WORK/$2.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_port "$NODE_PORT"
}

printf '%-9s %5s %9s %9s %9s %12s %12s %12s %8s %8s %10s %s\n' mode round \
  "A cpu s" "B cpu s" "C cpu s" "A from R" "B from R" "C from R" "B/A cpu" "C/A cpu" \
  "redis cpu" "delivered (lost, dup)"
for round in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    start_node "$mode" a; A=$NODE_PID; A_PORT=$NODE_PORT
    start_node "$mode" b; B=$NODE_PID
    start_node "$mode" c; C=$NODE_PID
    # Subscribers connect first; the window opens with the publishing.
    "$BENCH" --url "ws://127.0.0.1:$A_PORT" --server-pid "$A" --json --no-progress \
      fanout -s "$SUBS" -c "$CHANNELS" -r "$RATE" -d "$DURATION" >"$WORK/fanout-$mode.json" &
    BENCH_PID=$!
    # Wait until every subscriber is connected (A's socket count), then sample.
    for _ in $(seq 1 300); do
      open=$(ls "/proc/$A/fd" 2>/dev/null | wc -l)
      [ "$open" -ge "$SUBS" ] && break
      sleep 0.1
    done
    read -r a0 ar0 <<<"$(sample "$A")"
    read -r b0 br0 <<<"$(sample "$B")"
    read -r c0 cr0 <<<"$(sample "$C")"
    r0=$(awk '{print $14 + $15}' "/proc/$REDIS_PID/stat")
    wait "$BENCH_PID"
    read -r a1 ar1 <<<"$(sample "$A")"
    read -r b1 br1 <<<"$(sample "$B")"
    read -r c1 cr1 <<<"$(sample "$C")"
    r1=$(awk '{print $14 + $15}' "/proc/$REDIS_PID/stat")
    python3 - "$mode" "$round" "$HZ" "$a0" "$a1" "$b0" "$b1" "$c0" "$c1" "$ar0" "$ar1" "$br0" "$br1" \
      "$cr0" "$cr1" "$r0" "$r1" "$WORK/fanout-$mode.json" <<'EOF'
import json, sys
mode, rnd, hz = sys.argv[1], sys.argv[2], float(sys.argv[3])
v = list(map(int, sys.argv[4:18]))
d = json.load(open(sys.argv[18]))["delivered"]
a, b, c = (v[1] - v[0]) / hz, (v[3] - v[2]) / hz, (v[5] - v[4]) / hz
ar, br, cr = v[7] - v[6], v[9] - v[8], v[11] - v[10]
redis = (v[13] - v[12]) / hz
print(f"{mode:<9} {rnd:>5} {a:9.2f} {b:9.2f} {c:9.2f} {ar:12d} {br:12d} {cr:12d} "
      f"{b / a if a else 0:8.3f} {c / a if a else 0:8.3f} {redis:10.2f} "
      f"{d['messages']}/{d['expected']} ({d['lost']}, {d['duplicates']})")
EOF
    if [ "${CHURN:-1}" != 0 ]; then
      "$BENCH" --url "ws://127.0.0.1:$A_PORT" --server-pid "$A" --json --no-progress \
        churn -k 50 -d 10 >"$WORK/churn-$mode.json"
      CHURN_LINES+=("$(python3 -c '
import json, sys
r = json.load(open(sys.argv[2]))
c, l, s = r["cycles"], r["cycle_latency_us"], r["server"]
row = (sys.argv[1], sys.argv[3], c["per_s"], l["p50"] / 1000, l["p99"] / 1000,
       s["cpu_us_per_cycle"], c["failed"])
print("%-9s %5s %9.0f %9.1f %9.1f %12.1f %7d" % row)' \
        "$mode" "$WORK/churn-$mode.json" "$round")")
    fi
    for p in "$A" "$B" "$C"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  done
done
if [ ${#CHURN_LINES[@]} -gt 0 ]; then
  printf '\nchurn on A (50 workers, 10 s)\n%-9s %5s %9s %9s %9s %12s %7s\n' mode round \
    "cycles/s" "p50 ms" "p99 ms" "cpu us/cyc" failed
  for line in "${CHURN_LINES[@]}"; do echo "$line"; done
fi
