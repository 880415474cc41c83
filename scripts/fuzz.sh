#!/usr/bin/env bash
# Fuzzes every parser of outside bytes with cargo fuzz (libFuzzer), on the stable
# toolchain (RUSTC_BOOTSTRAP lets cargo fuzz pass its flags; no nightly is needed).
# Installs cargo-fuzz when missing. Each target starts from the committed seeds
# (fuzz/seeds/<target>) and replays every earlier finding (fuzz/regressions/<target>)
# before it fuzzes for FUZZ_SECONDS (default 20: the short run CI does). A crash stops
# the script with the input's path under fuzz/artifacts/<target>/.
#
#   bash scripts/fuzz.sh                         # every target, 20 s each
#   FUZZ_SECONDS=1800 bash scripts/fuzz.sh bundle # a long run of one target
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never RUSTC_BOOTSTRAP=1

SECONDS_EACH="${FUZZ_SECONDS:-20}"
TARGETS=(config mqtt_command mqtt_update bundle revocations certificate ble_frames modbus_reply csv_import)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version '^0.13'
fi

# Rust with `unsafe_code = "forbid"`: panics, overflows and hangs are what there is to
# find, so no sanitizer (AddressSanitizer halves the speed and finds nothing new here).
FUZZ=(cargo fuzz run --fuzz-dir fuzz --sanitizer none)
cargo fuzz build --fuzz-dir fuzz --sanitizer none

for target in "${TARGETS[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
    if [ -d "fuzz/regressions/$target" ]; then
        echo "== fuzz: $target: replaying earlier findings"
        "${FUZZ[@]}" "$target" "fuzz/regressions/$target" -- -runs=0 2>&1 | tail -n 2
    fi
    echo "== fuzz: $target for ${SECONDS_EACH} s"
    log="target/fuzz-$target.log"
    mkdir -p target
    if ! "${FUZZ[@]}" "$target" "$corpus" -- -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz: $target found a failing input (above); keep it in fuzz/regressions/$target/" >&2
        exit 1
    fi
    grep -E '^Done|DONE' "$log" | tail -n 2
done
