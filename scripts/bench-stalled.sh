#!/usr/bin/env bash
# One stalled subscriber among 1,000 (docs/performance.md, "One stalled
# subscriber"): runs the fanout scenario without and with `--stalled 1`,
# alternating, ROUNDS times each, a fresh server per run, and prints the
# others' latency percentiles and the server's peak RSS. Loopback only.
#
#   cargo build --release --locked -p clarion -p clarion-bench
#   SERVER_CMD='$TARGET_DIR/release/clarion --config bench.toml' \
#   URL=ws://127.0.0.1:18080 OUT=bench-results/stalled scripts/bench-stalled.sh
#
# FANOUT holds the fanout options (default: 1,000 subscribers on 10
# channels, 200 events/s for 20 s, so the stalled socket's queue overflows
# mid-run).
set -euo pipefail
: "${SERVER_CMD:?set SERVER_CMD to the command that starts the server}"
URL=${URL:-ws://127.0.0.1:18080}
OUT=${OUT:-bench-results/stalled}
ROUNDS=${ROUNDS:-3}
FANOUT=${FANOUT:--s 1000 -c 10 -r 200 -d 20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
export TARGET_DIR
BENCH=${BENCH:-$TARGET_DIR/release/clarion-bench}
PORT=${URL##*:}
PORT=${PORT%%/*}
mkdir -p "$OUT"

run() {
  local name=$1
  shift
  bash -c "exec $SERVER_CMD" >"$OUT/server-$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "== $name" >&2
  # shellcheck disable=SC2086
  "$BENCH" --url "$URL" --server-pid "$pid" --json --no-progress fanout $FANOUT "$@" \
    >"$OUT/$name.json" || true
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

for i in $(seq 1 "$ROUNDS"); do
  run "base-$i"
  run "stalled-$i" --stalled 1
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def get(d, path):
    for p in path.split('.'):
        d = d.get(p, {}) if isinstance(d, dict) else {}
    return d if d != {} else None
print("run | delivered | lost | p50 µs | p99 µs | p99.9 µs | max µs | RSS before→peak→after MiB | stalled closed")
for i in range(1, rounds + 1):
    for kind in ("base", "stalled"):
        with open(f"{out}/{kind}-{i}.json") as f:
            r = json.load(f)
        lat = r.get("latency_us", {})
        mib = lambda v: "?" if v is None else f"{v / 2**20:.1f}"
        print(f"{kind}-{i} | {get(r,'delivered.messages')} | {get(r,'delivered.lost')} | "
              f"{lat.get('p50')} | {lat.get('p99')} | {lat.get('p999')} | {lat.get('max')} | "
              f"{mib(get(r,'server.rss_before_bytes'))}→{mib(get(r,'server.rss_peak_bytes'))}→"
              f"{mib(get(r,'server.rss_bytes'))} | {get(r,'stalled.closed_by_server')}")
PY
