#!/usr/bin/env bash
# The one test command (README "Testing"): installs what is missing on a
# fresh machine, then runs every test: formatting, lints, Rust unit and
# integration tests, and the real-client suite (pusher-js, laravel-echo and
# the pusher Node SDK against a running Clarion).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee -a "$log"
if [ -f tests/clients/package.json ]; then
  echo "== real-client tests (pusher-js, laravel-echo, pusher SDK)"
  cargo build --locked -p clarion --bin clarion
  # Wherever cargo puts its output (CARGO_TARGET_DIR, .cargo/config.toml…).
  target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')
  (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error && CLARION_BIN="$target_dir/debug/clarion" npm test) 2>&1 | tee -a "$log"
fi
# One closing line for everything that ran (cargo's and node's own summaries above).
awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  /^# pass / { p += $3 }
  /^# fail / { f += $3 }
  END { printf "total: %d passed, %d failed\n", p, f }
' "$log"
