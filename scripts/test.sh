#!/usr/bin/env bash
# The one test command (README "Testing"): installs what is missing on a
# fresh machine, then runs every test: formatting, lints, Rust unit and
# integration tests, the dashboard's vendored chart library against its lock
# file, the real-client suite (pusher-js, laravel-echo and the pusher Node
# SDK against a running Clarion, the dashboard in Chromium) and the official
# Python SDK suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
# Example pages are tested in Debian's Chromium, driven by playwright-core.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# examples/panic-alerts runs deploy/nginx.conf in front of two replicas.
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx)
# Debian's python3 has no venv/pip until python3-venv is installed.
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' >/dev/null 2>&1 ||
  need_apt+=(python3-venv)
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
echo "== cargo test, one runtime per core (CLARION_RUNTIME=per_core)"
CLARION_RUNTIME=per_core cargo test --locked -p clarion \
  --test smoke --test channels --test client_events --test presence --test cluster_routing 2>&1 | tee -a "$log"
cargo build --locked -p clarion --bin clarion
# Wherever cargo puts its output (CARGO_TARGET_DIR, .cargo/config.toml…).
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export CLARION_BIN="$target_dir/debug/clarion"
venv="$target_dir/sdk-python-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/sdk-python/requirements.txt
# The examples' Python publishers run with the official SDK installed here.
export CLARION_PYTHON="$venv/bin/python"
export CLARION_CHROMIUM="${CLARION_CHROMIUM:-$(command -v chromium)}"
echo "== dashboard assets (dashboard/vendor/ is what dashboard/package-lock.json installs)"
(cd dashboard && npm ci --no-audit --no-fund --loglevel=error && npm test) 2>&1 | tee -a "$log"
echo "== real-client tests (pusher-js, laravel-echo, pusher SDK, eventsource, example pages in Chromium)"
(cd tests/clients && npm ci --no-audit --no-fund --loglevel=error && npm test) 2>&1 | tee -a "$log"
echo "== official Python SDK tests (pusher 3.3.4)"
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/sdk-python 2>&1 | tee -a "$log"
# One closing line for everything that ran (cargo's, node's and pytest's own
# summaries above).
awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  /^=* *[0-9]+ (passed|failed)/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  /^# pass / { p += $3 }
  /^# fail / { f += $3 }
  END { printf "total: %d passed, %d failed\n", p, f }
' "$log"
