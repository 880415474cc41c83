#!/usr/bin/env bash
# Checks systemd/portvakt.service (and the re-issue timer in docs/examples): `systemd-analyze verify` must be clean (no output on
# stderr either: unknown keys are only warnings there) and the offline security exposure
# must be at most 2.5. Usage: scripts/check-systemd.sh [PORTVAKT-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq systemd >/dev/null 2>&1 || {
            apt-get update -qq && apt-get install -y -qq systemd >/dev/null
        }
    else
        echo "check-systemd: systemd-analyze is missing (apt-get install systemd)" >&2
        exit 1
    fi
fi

bin=${1:-target/debug/portvakt}
[ -x "$bin" ] || cargo build --locked --bin portvakt
bin=$(realpath "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify needs ExecStart's binary to exist: point it at the one just built.
sed "s|/usr/bin/portvakt|$bin|" systemd/portvakt.service > "$work/portvakt.service"

if ! systemd-analyze verify "$work/portvakt.service" 2> "$work/verify.err"; then
    cat "$work/verify.err" >&2
    echo "check-systemd: systemd-analyze verify failed" >&2
    exit 1
fi
if [ -s "$work/verify.err" ]; then
    cat "$work/verify.err" >&2
    echo "check-systemd: systemd-analyze verify printed warnings" >&2
    exit 1
fi
echo "systemd-analyze verify: clean"

# The authority's re-issue timer (docs/examples), with portvakt-admin where it was built.
admin=$(dirname "$bin")/portvakt-admin
[ -x "$admin" ] || cargo build --locked --bin portvakt-admin
sed "s|/usr/bin/portvakt-admin|$admin|; s|^User=.*|User=root|" docs/examples/portvakt-admin-renew.service > "$work/portvakt-admin-renew.service"
cp docs/examples/portvakt-admin-renew.timer "$work/"
if ! systemd-analyze verify "$work/portvakt-admin-renew.timer" "$work/portvakt-admin-renew.service" 2> "$work/renew.err" || [ -s "$work/renew.err" ]; then
    cat "$work/renew.err" >&2
    echo "check-systemd: the re-issue timer example does not verify cleanly" >&2
    exit 1
fi
echo "systemd-analyze verify (re-issue timer example): clean"

systemd-analyze security --offline=true "$work/portvakt.service" > "$work/security.txt"
exposure=$(grep -o 'Overall exposure level for portvakt.service: [0-9.]*' "$work/security.txt" | awk '{print $NF}')
if [ -z "$exposure" ]; then
    cat "$work/security.txt" >&2
    echo "check-systemd: no exposure level in the security report" >&2
    exit 1
fi
echo "systemd-analyze security --offline=true: exposure $exposure (limit 2.5)"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }' || {
    grep '✗' "$work/security.txt" >&2
    echo "check-systemd: exposure $exposure is above 2.5" >&2
    exit 1
}
