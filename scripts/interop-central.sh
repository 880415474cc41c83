#!/usr/bin/env bash
# Portvakt Central against real peers: a throwaway PostgreSQL (Debian's initdb and pg_ctl,
# on a Unix socket), mosquitto on loopback with TLS, client certificates and a per-site
# ACL, and the real gateway daemon (simulated building) with confirm = "collector". Checks: every record reaches PostgreSQL with an
# intact chain and the collector's signed acknowledgements empty the gateway's outbox; a
# collector killed with SIGKILL mid-stream, and PostgreSQL restarted, leave no hole; a
# second collector instance beside the first changes nothing; a visit list is read and
# the read recorded; a row altered in the database is found by verify. Installs
# postgresql and mosquitto as root when missing. The NATS cluster: scripts/interop-nats.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
source scripts/lib-central.sh

need=()
command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
install_missing "${need[@]}"

cargo build -q --locked -p portvakt -p portvakt-central
BIN="$PWD/target/debug"
work=$(mktemp -d /tmp/pv-central.XXXXXX)
chmod 755 "$work"
trap cleanup EXIT

echo "== interop: Central on mosquitto (TLS, client certificates, per-site ACL)"
pg_setup
certificates test-site collector
MQ=$(free_port)
cat > "$work/acl" <<ACL
user collector
topic readwrite portvakt/#
pattern readwrite portvakt/%u/#
ACL
cat > "$work/mosquitto.conf" <<CONF
listener $MQ 127.0.0.1
cafile $work/ca.crt
certfile $work/server.crt
keyfile $work/server.key
require_certificate true
use_identity_as_username true
allow_anonymous false
acl_file $work/acl
CONF
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
PIDS+=($!)
wait_port "$MQ"
"$BIN/portvakt-admin" keygen --out "$work/signing.key" >/dev/null
gateway_start PORTVAKT__UPLINK__BROKER="mqtts://localhost:$MQ" PORTVAKT__UPLINK__CA_FILE="$work/ca.crt" \
    PORTVAKT__UPLINK__CERT_FILE="$work/test-site.crt" PORTVAKT__UPLINK__KEY_FILE="$work/test-site.key"
MQTT=(--broker "mqtts://localhost:$MQ" --ca "$work/ca.crt" --cert "$work/collector.crt" --cert-key "$work/collector.key")

echo "== interop: records reach PostgreSQL and the signed acknowledgements empty the outbox"
care_visits 4     # home care's, before the wrong PINs below lock the keypad
visits 3
[ "$(outbox)" -gt 0 ] || fail "nothing waited in the outbox before a collector ran"
collector one C1 "${MQTT[@]}"
drained "first collector"
echo "   $(through) records acknowledged, outbox empty"

echo "== interop: a collector killed with SIGKILL mid-stream, another beside it, then restarted"
collector two C2 "${MQTT[@]}"
visits 15 &
V=$!
sleep 0.3
kill -9 "$C1"
wait "$V"
collector one C1 "${MQTT[@]}"
drained "after SIGKILL"
echo "   through $(through) = gateway head"

echo "== interop: PostgreSQL restarted under load"
visits 10 &
V=$!
pg_stop
sleep 0.5
pg_start
wait "$V"
# A collector that lost its database connects to it again by itself.
for c in "$C1" "$C2"; do kill -0 "$c" 2>/dev/null || fail "a collector exited when PostgreSQL restarted"; done
drained "after the PostgreSQL restart"
intact_and_unequivocal

fleet_checks

echo "== interop: the municipality's visit list (home care's, opened with its reading key), and its read recorded"
"$BIN/portvakt-central" visits --db "$DB" --site test-site --csv --as interop-test --purpose invoicing > "$work/visits.csv"
rows=$(($(wc -l < "$work/visits.csv") - 1))
[ "$rows" = 4 ] || fail "$rows visits in the list, not home care's 4: $(cat "$work/visits.csv")"
[ "$(psql "SELECT who || ':' || records || ':' || purpose FROM reads ORDER BY id DESC LIMIT 1")" = "interop-test:$rows:invoicing" ] || fail "the read was not recorded with its purpose"
[ "$(grep -c "^test-site,.*,granted,entrance,hemtjanst-natt-5,care-5$" "$work/visits.csv")" = 4 ] || fail "$(cat "$work/visits.csv")"
[ "$(psql "SELECT count(*) FROM records WHERE site = 'test-site' AND holder IS NULL AND sealed IS NULL AND kind = 'access.granted' AND audience = 'kommunen'")" = 0 ] || fail "a home-care visit's part did not open"

echo "== interop: a row altered in PostgreSQL is found"
psql "UPDATE records SET door = 'rubbish' WHERE site = 'test-site' AND seq = 3"
if "$BIN/portvakt-central" verify --db "$DB" --site test-site > "$work/verify2.txt"; then fail "verify passed an altered row"; fi
grep -q "ALTERED in the database (content does not match its hash): 3" "$work/verify2.txt" || fail "$(cat "$work/verify2.txt")"
echo "== interop: the gateway's signed checkpoints, judged on arrival and by verify"
# The orderly stop in the fleet checks signed one after system.stop.
n=$(psql "SELECT count(*) FROM checkpoints WHERE site = 'test-site' AND outcome = 'verified'")
[ "$n" -ge 1 ] || fail "no checkpoint verified on arrival: $(psql "SELECT outcome, words FROM checkpoints")"
covered=$(psql "SELECT covers FROM checkpoints WHERE site = 'test-site' AND outcome = 'verified' ORDER BY seq DESC LIMIT 1")
psql "UPDATE records SET hash = sha256('rewritten'::bytea) WHERE site = 'test-site' AND seq = $covered"
if "$BIN/portvakt-central" verify --db "$DB" --site test-site > "$work/verify3.txt"; then fail "verify passed a rewritten checkpointed record"; fi
grep -q "of record $covered: MISMATCH: the stored record $covered has another hash" "$work/verify3.txt" || fail "$(cat "$work/verify3.txt")"
echo "   $n checkpoint(s) verified on arrival; record $covered rewritten in PostgreSQL: its checkpoint shows MISMATCH"

echo "interop-central: ok"
