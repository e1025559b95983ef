#!/usr/bin/env bash
# Runs every `clarion-bench` scenario of docs/performance.md against one
# Pusher-protocol server, starting a fresh server process for each scenario
# so RSS and CPU figures are its own. Loopback only.
#
#   cargo build --release --locked -p clarion
#   SERVER_CMD='$TARGET_DIR/release/clarion --config bench.toml' \
#   URL=ws://127.0.0.1:18080 OUT=bench-results/clarion scripts/bench-suite.sh
#
# SERVER_CMD must start the server in the foreground (its pid is measured).
# The app must be 1000 / app-key / app-secret with client events allowed.
# TARGET_DIR is exported for SERVER_CMD: cargo's target directory as
# `cargo metadata` reports it (so CARGO_TARGET_DIR is honoured). Unless BENCH
# names a load-generator binary, `clarion-bench` is built in release mode
# first and taken from there.
set -euo pipefail
: "${SERVER_CMD:?set SERVER_CMD to the command that starts the server}"
URL=${URL:-ws://127.0.0.1:18080}
OUT=${OUT:-bench-results}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
: "${TARGET_DIR:?cannot read target_directory from cargo metadata}"
export TARGET_DIR
if [ -z "${BENCH:-}" ]; then
  cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml" -p clarion-bench
  BENCH=$TARGET_DIR/release/clarion-bench
fi
SCENARIOS=${SCENARIOS:-idle5k idle19k fanout200 fanoutmax clientevents churn presence}
PORT=${URL##*:}
PORT=${PORT%%/*}
mkdir -p "$OUT"

start_server() {
  bash -c "exec $SERVER_CMD" >"$OUT/server-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server did not start; see $OUT/server-$1.log" >&2
  exit 1
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

run() {
  local name=$1
  shift
  start_server "$name"
  echo "== $name: $*" >&2
  "$BENCH" --url "$URL" --server-pid "$SERVER_PID" --json --no-progress "$@" >"$OUT/$name.json" || true
  stop_server
}

for s in $SCENARIOS; do
  case $s in
    idle5k) run idle5k idle -n 5000 -c 100 -d 5 ;;
    idle19k) run idle19k --source-addrs 127.0.0.1,127.0.0.2 idle -n 19000 -c 100 -d 5 ;;
    fanout200) run fanout200 fanout -s 1000 -c 10 -r 200 -d 10 ;;
    fanoutmax) run fanoutmax fanout -s 1000 -c 10 -r 0 -p 4 -d 10 ;;
    clientevents) run clientevents client-events -P 500 -r 10 -d 10 ;;
    churn) run churn churn -k 50 -d 10 ;;
    presence) run presence presence -m 1000 ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done
echo "results in $OUT/" >&2
