#!/usr/bin/env bash
# The staff app end to end, as a nurse uses it (docs/central.md, "The staff app"): Debian's
# chromium, headless, driven by playwright-core through node's test runner
# (tests/browser/staff-app.e2e.mjs), against `portvakt-central demo --keep-running --staff`:
# the staff side, signing in at a real OpenID provider the demo starts (the certified
# `oidc-provider` package, tests/browser/idp.mjs; npm packages from
# tests/browser/package-lock.json). Chromium's Bluetooth emulation stands in for the radio
# and is bridged by the test to the real gateway's simulated BLE socket. Installs chromium,
# nats-server, postgresql and npm as root when missing. Screenshots: target/browser-staff/.
# Part of the interop suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
source scripts/lib-central.sh

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v npm >/dev/null 2>&1 || need+=(npm)
install_missing "${need[@]}"
export PATH="$PATH:/usr/sbin"

cargo build -q --locked -p portvakt -p portvakt-central
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
BIN="$PWD/target/debug"
work=$(mktemp -d /tmp/pv-staff.XXXXXX)
trap 'rc=$?; [ -n "${DEMO:-}" ] && { kill -INT "$DEMO" 2>/dev/null || true; wait "$DEMO" 2>/dev/null || true; }
      [ "$rc" = 0 ] || { echo "--- demo.log"; tail -n 40 "$work/demo.log" 2>/dev/null; }
      [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"; exit "$rc"' EXIT

RUST_LOG="${RUST_LOG:-error,portvakt_central::staff::revocations=info}" \
    "$BIN/portvakt-central" demo --gateways 1 --keep-running --staff > "$work/demo.log" 2>&1 &
DEMO=$!
for _ in $(seq 1800); do grep -q "^The staff app" "$work/demo.log" && break; kill -0 "$DEMO" || break; sleep 0.1; done
grep -q "^The staff app" "$work/demo.log" || fail "the demo did not come up with the staff side"
line=$(grep "^Everything keeps running" "$work/demo.log")
CONSOLE_URL=$(sed -E 's#.*(http://[0-9.:]+)/.*#\1#' <<< "$line")
DEMO_PASSWORD=$(sed -E 's#.*\(demo / ([0-9a-f]+)\).*#\1#' <<< "$line")
DB=$(sed -n 's/^PostgreSQL: //p' "$work/demo.log")
BLE_SOCKET=$(sed -n 's/^BLE at storgatan-12: //p' "$work/demo.log")
DOOR_COMMAND=$(sed -n "s/^At storgatan-12's doors: \(.*\) sim laundry open$/\1/p" "$work/demo.log")

echo "== the staff app at $CONSOLE_URL/personal in $(/usr/bin/chromium --version 2>/dev/null | head -1), oidc-provider $(node -p 'require("./tests/browser/node_modules/oidc-provider/package.json").version')"
mkdir -p target/browser-staff
CONSOLE_URL="$CONSOLE_URL" DEMO_PASSWORD="$DEMO_PASSWORD" DB="$DB" BLE_SOCKET="$BLE_SOCKET" \
    DOOR_COMMAND="$DOOR_COMMAND" CENTRAL="$BIN/portvakt-central" SHOTS="$PWD/target/browser-staff" \
    node --test --test-concurrency=1 tests/browser/staff-app.e2e.mjs
echo "   screenshots: target/browser-staff/"
