#!/usr/bin/env bash
# Floors and ratios: runs each pattern's floor probe (`clarion-bench floor`,
# a minimal server inside the bench process) and the server under test on the
# same load, back to back, ROUNDS times, then prints the medians and the
# server's ratio to its pattern's floor (scripts/bench-floor-summary.py).
#
#   cargo build --release --locked -p clarion -p clarion-bench
#   SERVER_CMD='$TARGET_DIR/release/clarion --config bench.toml' \
#   URL=ws://127.0.0.1:18080 OUT=bench-results/floor scripts/bench-floor.sh
#
# MODES lists the values of CLARION_RUNTIME the server is run with, each
# from a fresh process per run (default: "shared per_core"; "shared:1" also
# sets CLARION_WORKER_THREADS=1; "-" for a server that reads neither). FANOUT and CLIENT_EVENTS are the scenario
# options (defaults: 2,000 subscribers on 10 channels at 200 events/s, and
# 500 pairs at 10 events/s each, 10 s each). SERVER_CMD, URL, TARGET_DIR
# and BENCH as for scripts/bench-suite.sh.
set -euo pipefail
: "${SERVER_CMD:?set SERVER_CMD to the command that starts the server}"
URL=${URL:-ws://127.0.0.1:18080}
OUT=${OUT:-bench-results/floor}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-shared per_core}
FANOUT=${FANOUT:--s 2000 -c 10 -r 200 -d 10}
CLIENT_EVENTS=${CLIENT_EVENTS:--P 500 -r 10 -d 10}
PATTERNS=${PATTERNS:-fanout client-events}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
: "${TARGET_DIR:?cannot read target_directory from cargo metadata}"
export TARGET_DIR
if [ -z "${BENCH:-}" ]; then
  cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml" -p clarion-bench
  BENCH=$TARGET_DIR/release/clarion-bench
fi
PORT=${URL##*:}
PORT=${PORT%%/*}
mkdir -p "$OUT"

start_server() {
  local mode=$1 log=$2
  local runtime=${mode%%:*} threads=
  case $mode in *:*) threads=${mode#*:} ;; esac
  if [ "$runtime" = "-" ]; then
    bash -c "exec $SERVER_CMD" >"$log" 2>&1 &
  elif [ -n "$threads" ]; then
    CLARION_RUNTIME=$runtime CLARION_WORKER_THREADS=$threads \
      bash -c "exec $SERVER_CMD" >"$log" 2>&1 &
  else
    CLARION_RUNTIME=$runtime bash -c "exec $SERVER_CMD" >"$log" 2>&1 &
  fi
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server did not start; see $log" >&2
  exit 1
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

args_of() {
  case $1 in
    fanout) echo "$FANOUT" ;;
    client-events) echo "$CLIENT_EVENTS" ;;
    *) echo "unknown pattern $1" >&2; exit 2 ;;
  esac
}

for round in $(seq 1 "$ROUNDS"); do
  for pattern in $PATTERNS; do
    # shellcheck disable=SC2046 # the options are words
    set -- $(args_of "$pattern")
    echo "== round $round, $pattern: floor ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
    uptime >>"$OUT/load.txt"
    "$BENCH" --json --no-progress floor "$pattern" "$@" >"$OUT/$pattern-floor-$round.json" || true
    for mode in $MODES; do
      echo "== round $round, $pattern: server, runtime $mode" >&2
      start_server "$mode" "$OUT/server-$pattern-${mode/:/-}-$round.log"
      "$BENCH" --url "$URL" --server-pid "$SERVER_PID" --json --no-progress \
        "$pattern" "$@" >"$OUT/$pattern-${mode/:/-}-$round.json" || true
      stop_server
    done
  done
done
uptime >>"$OUT/load.txt"
python3 "$ROOT/scripts/bench-floor-summary.py" "$OUT"
