#!/usr/bin/env bash
# Portvakt Central's console in a real browser: Debian's chromium, headless, driven by
# playwright-core from npm (pinned in tests/browser/package-lock.json; no browser
# download) through node's test runner, against `portvakt-central demo --keep-running`
# (real gateways against simulated buildings, a three-node NATS cluster, collectors and a
# throwaway PostgreSQL). A team leader's account is added with the CLI first.
# Screenshots of every page: target/browser/. Installs chromium, nats-server, postgresql
# and npm as root when missing. Then the console serving TLS itself, checked with curl.
# The staff app's protocol module (tests/browser/protocol.test.mjs) runs beside it.
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
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
install_missing "${need[@]}"
export PATH="$PATH:/usr/sbin"

cargo build -q --locked -p portvakt -p portvakt-central
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
BIN="$PWD/target/debug"
work=$(mktemp -d /tmp/pv-browser.XXXXXX)
# (set -e holds inside the trap too: every step may fail, and the script's status is kept.)
trap 'rc=$?; kill -INT "$DEMO" 2>/dev/null || true; wait "$DEMO" 2>/dev/null || true
      [ -n "${SERVE:-}" ] && { kill "$SERVE" 2>/dev/null || true; }; rm -rf "$work"; exit "$rc"' EXIT

"$BIN/portvakt-central" demo --keep-running > "$work/demo.log" 2>&1 &
DEMO=$!
for _ in $(seq 1800); do grep -q "^Everything keeps running" "$work/demo.log" && break; kill -0 "$DEMO" || break; sleep 0.1; done
grep -q "^Everything keeps running" "$work/demo.log" || { cat "$work/demo.log"; fail "the demo did not come up"; }
line=$(grep "^Everything keeps running" "$work/demo.log")
CONSOLE_URL=$(sed -E 's#.*(http://[0-9.:]+)/.*#\1#' <<< "$line")
DEMO_PASSWORD=$(sed -E 's#.*\(demo / ([0-9a-f]+)\).*#\1#' <<< "$line")
DB=$(sed -n 's/^PostgreSQL: //p' "$work/demo.log")
DOOR_COMMAND=$(sed -n "s/^At storgatan-12's doors: \(.*\) sim laundry open$/\1/p" "$work/demo.log")
LEADER_PASSWORD="lena-$(date +%s%N)"
printf '%s\n' "$LEADER_PASSWORD" | "$BIN/portvakt-central" account add --db "$DB" --name lena --role team_leader --sites ekvagen-3
AUDITOR_PASSWORD="greta-$(date +%s%N)"
printf '%s\n' "$AUDITOR_PASSWORD" | "$BIN/portvakt-central" account add --db "$DB" --name greta --role auditor
# The demo's story, as it told it: the municipality's Central never saw a resident's name,
# the owner opened its residents' passages and the municipality's key none, and retention
# erased the residents' parts 15 days on with every chain still intact.
grep -q "holder (none in clear)" "$work/demo.log" || fail "the demo did not show a resident's entry sealed: $(cat "$work/demo.log")"
grep -Eq "^   [0-9]+ opened with .*owner.reading.key, 0 not" "$work/demo.log" || fail "the owner did not open its residents' passages"
grep -Eq "^   0 opened with .*municipality.reading.key, [1-9][0-9]* not" "$work/demo.log" || fail "the municipality's key opened a resident's part"
grep -Eq "^   [1-9][0-9]* personal part\(s\) erased" "$work/demo.log" || fail "retention erased nothing at the period's end"
grep -q "personal part(s) erased (by retention or on request), their commitments kept" "$work/demo.log" \
    || fail "verify did not say intact with the erased parts counted"

echo "== browser: the console at $CONSOLE_URL in $(/usr/bin/chromium --version 2>/dev/null | head -1), playwright-core $(node -p 'require("./tests/browser/node_modules/playwright-core/package.json").version')"
mkdir -p target/browser
CONSOLE_URL="$CONSOLE_URL" DEMO_PASSWORD="$DEMO_PASSWORD" LEADER_PASSWORD="$LEADER_PASSWORD" \
    AUDITOR_PASSWORD="$AUDITOR_PASSWORD" DOOR_COMMAND="$DOOR_COMMAND" \
    ACCOUNT_COMMAND="$BIN/portvakt-central account add --db '$DB'" \
    SHOTS="$PWD/target/browser" node --test --test-concurrency=1 tests/browser/
echo "   screenshots: target/browser/"

echo "== slow clients: 300 connections that never finish their request's header, 100 that say nothing, 50 whose body never ends"
python3 - "$CONSOLE_URL" <<'PY' || fail "slow clients were not dropped in time, or held up a normal request"
import socket, sys, time, urllib.request
host, port = sys.argv[1].split("//")[1].rstrip("/").split(":")
slow = []
for i in range(400):
    s = socket.create_connection((host, int(port)))
    if i < 300:
        s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nX-Slow: ")   # never ends
    slow.append(s)
bodies = []
for i in range(50):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"POST /login HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: 1000\r\n\r\nname=de")   # 993 bytes never come
    bodies.append(s)
start = time.monotonic()
body = urllib.request.urlopen(sys.argv[1] + "/login", timeout=5).read().decode()
served = time.monotonic() - start
assert "Logga in" in body and served < 2, f"a normal request took {served:.1f} s beside 400 slow ones"
time.sleep(12)   # the header-read timeout is 10 s
open_ = 0
for s in slow:
    s.settimeout(0.2)
    try:
        if s.recv(1024) == b"":
            continue   # closed by the server
        # The server may answer 408 first; what counts is that it closes.
        s.settimeout(1)
        if s.recv(1024) != b"":
            open_ += 1
    except (socket.timeout, BlockingIOError):
        open_ += 1
    except OSError:
        pass
print(f"   a normal request served in {served*1000:.0f} ms; after 12 s, {open_} of 400 slow connections still open")
assert open_ == 0, f"{open_} slow connections still open after the 10 s header-read timeout"
time.sleep(10)   # the request deadline is 20 s
unanswered = 0
for s in bodies:
    s.settimeout(1)
    try:
        if not s.recv(1024).startswith(b"HTTP/1.1 408"):
            unanswered += 1
    except (socket.timeout, BlockingIOError, OSError):
        unanswered += 1
print(f"   after 22 s, {unanswered} of 50 requests whose body never ends unanswered (408 for the others)")
assert unanswered == 0, f"{unanswered} requests with a body that never ends were not answered 408 within 20 s"
PY

echo "== the console serving TLS itself (--tls-cert/--tls-key), checked with curl"
certificates
TLS_PORT=$(free_port)
"$BIN/portvakt-central" serve --db "$DB" --listen "127.0.0.1:$TLS_PORT" --tls-cert "$work/server.crt" --tls-key "$work/server.key" \
    > "$work/serve-tls.log" 2>&1 &
SERVE=$!
wait_port "$TLS_PORT"
page=$(curl -sS --cacert "$work/ca.crt" "https://localhost:$TLS_PORT/login")
grep -q "Logga in" <<< "$page" || fail "no login page over TLS: $page"
curl -s --max-time 5 "http://127.0.0.1:$TLS_PORT/login" >/dev/null && fail "plain HTTP answered on the TLS port"
cookie=$(curl -sS --cacert "$work/ca.crt" -o /dev/null -D - --data-urlencode "name=demo" --data-urlencode "password=$DEMO_PASSWORD" \
    "https://localhost:$TLS_PORT/login" | tr -d '\r' | grep -i '^set-cookie: portvakt_session=')
grep -q "; Secure" <<< "$cookie" && grep -q "HttpOnly" <<< "$cookie" && grep -q "SameSite=Strict" <<< "$cookie" \
    || fail "the session cookie over TLS is not Secure, HttpOnly, SameSite=Strict: $cookie"
hsts=$(curl -sS --cacert "$work/ca.crt" -o /dev/null -D - "https://localhost:$TLS_PORT/login" | tr -d '\r' | grep -i '^strict-transport-security:')
grep -q "max-age=31536000" <<< "$hsts" || fail "no HSTS over TLS: $hsts"
# A login form posted from another site (a page elsewhere logging the victim in as the
# attacker) is refused, and so is any change a browser says comes from another site.
status=$(curl -sS --cacert "$work/ca.crt" -o /dev/null -w '%{http_code}' -H "Origin: https://elsewhere.example" \
    --data-urlencode "name=demo" --data-urlencode "password=$DEMO_PASSWORD" "https://localhost:$TLS_PORT/login")
[ "$status" = 403 ] || fail "a cross-site login form was answered $status"
status=$(curl -sS --cacert "$work/ca.crt" -o /dev/null -w '%{http_code}' -H "Sec-Fetch-Site: cross-site" \
    --data-urlencode "name=demo" --data-urlencode "password=$DEMO_PASSWORD" "https://localhost:$TLS_PORT/login")
[ "$status" = 403 ] || fail "a login the browser marked cross-site was answered $status"
kill "$SERVE"
echo "   https://localhost:$TLS_PORT/: the login page, no plain HTTP, a Secure HttpOnly SameSite=Strict session cookie, HSTS;"
echo "   cross-site posts refused"
