#!/usr/bin/env bash
# Walks the README's "Try it" section as a newcomer would: every ```sh block in it, in
# order, typed into one shell, in a fresh clone of HEAD (so nothing of this checkout that
# is not committed helps). A failing command stops the walk and names its README line.
#
# Two things a newcomer's machine does that a CI container may not, done here and only
# here: as root without sudo, `sudo` runs the command itself; and where nothing starts
# the broker's service after `apt install mosquitto` (no systemd), the walk starts one on
# localhost:1883 for its own duration. Everything it started is stopped at the end.
# The clone shares this checkout's target/ so that only Portvakt itself is rebuilt.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/readme-walk.XXXXXX)"
trap 'rm -rf "$work"' EXIT

git clone -q "$repo" "$work/portvakt"
mkdir -p "$repo/target"
ln -s "$repo/target" "$work/portvakt/target"
rm -rf /tmp/pv # the README's scratch folder, as on a machine that never ran it

{
    cat <<'PRELUDE'
set -eE -o pipefail
trap 'echo "readme-walk: README.md line $((WALK_BLOCK + LINENO - WALK_AT - 1)) failed (exit $?): $BASH_COMMAND" >&2' ERR
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" = 0 ] && ! command -v sudo >/dev/null 2>&1; then
    sudo() { "$@"; }
fi
walk_broker() {
    if command -v mosquitto >/dev/null 2>&1 && ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
        echo "readme-walk: no broker listens on localhost:1883 (no systemd here); starting one" >&2
        mosquitto -p 1883 >/dev/null 2>&1 &
        for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.1; done
    fi
}
PRELUDE
    awk '
        /^## / { in_try = ($0 ~ /^## Try it/) }
        in_try && /^```sh$/ { block = 1; print "WALK_BLOCK=" NR + 1 "; WALK_AT=$LINENO"; next }
        block && /^```$/ { block = 0; print "walk_broker"; next }
        block { print }
    ' "$work/portvakt/README.md"
    echo 'echo "readme-walk: every block of the README'\''s Try it ran"'
} > "$work/walk.sh"

blocks=$(grep -c '^WALK_BLOCK=' "$work/walk.sh")
[ "$blocks" -ge 8 ] || { echo "readme-walk: only $blocks blocks found in README's Try it" >&2; exit 1; }
echo "readme-walk: $blocks blocks from README.md, in $work/portvakt"

# Its own process group, so that what the README leaves in the background is stopped.
set +e
(cd "$work/portvakt" && exec setsid bash "$work/walk.sh") &
walker=$!
wait "$walker"
rc=$?
kill -- "-$walker" 2>/dev/null
sleep 0.2
kill -9 -- "-$walker" 2>/dev/null
exit "$rc"
