#!/usr/bin/env bash
# Runs Clarion's fuzz targets with cargo fuzz (libFuzzer).
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET…]
#
# SECONDS per target (default 600); TARGETs default to all of
# fuzz/fuzz_targets/. Installs cargo-fuzz when missing. Works on the stable
# toolchain: RUSTC_BOOTSTRAP=1 lets cargo fuzz pass its nightly-only flags.
# Set FUZZ_SANITIZER=none to build without AddressSanitizer (faster).
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/, read
# only) and grows a working corpus in fuzz/target/corpus/<target>/. A crash
# is saved by libFuzzer in fuzz/artifacts/<target>/: copy it to
# fuzz/regressions/<target>/ so `cargo test --test fuzz_regressions`
# replays it, and fix the parser. At the end the script prints the
# executions of each target and names any crash.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for file in fuzz/fuzz_targets/*.rs; do
        targets+=("$(basename "$file" .rs)")
    done
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz…"
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-address}"
logs="fuzz/target/logs"
mkdir -p "$logs"

# Build every requested target first, so the timed runs only fuzz.
for target in "${targets[@]}"; do
    (cd fuzz && cargo fuzz build -O --debug-assertions -s "$sanitizer" "$target")
done

summary=()
status=0
for target in "${targets[@]}"; do
    work="fuzz/target/corpus/$target"
    mkdir -p "$work" "fuzz/corpus/$target"
    log="$logs/$target.log"
    echo "fuzzing $target for ${seconds}s (log: $log)"
    set +e
    (cd fuzz && cargo fuzz run -O --debug-assertions -s "$sanitizer" "$target" \
        "target/corpus/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1) >"$log" 2>&1
    code=$?
    set -e
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)"
    if [ -z "$runs" ]; then
        runs="$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')"
    fi
    if [ "$code" -eq 0 ]; then
        verdict="ok"
    else
        status=1
        artifact="$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | sed 's/Test unit written to //')"
        verdict="CRASH ${artifact:-(see $log)}"
    fi
    summary+=("$(printf '%-16s %12s executions in %ss  %s' "$target" "${runs:-?}" "$seconds" "$verdict")")
done

echo
echo "target           executions"
printf '%s\n' "${summary[@]}"
exit "$status"
