#!/usr/bin/env bash
# Portvakt Central against real peers: a throwaway PostgreSQL (Debian's initdb and pg_ctl,
# on a Unix socket), mosquitto on loopback, and the real gateway daemon (simulated
# building) with confirm = "collector". Checks: every record reaches PostgreSQL with an
# intact chain and the collector's signed acknowledgements empty the gateway's outbox; a
# collector killed with SIGKILL mid-stream, and PostgreSQL restarted, leave no hole; a
# second collector instance beside the first changes nothing; a visit list is read and
# the read recorded; a row altered in the database is found by verify. Installs
# postgresql and mosquitto as root when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

need=()
command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then echo "interop-central: ${need[*]} missing; run as root once" >&2; exit 1; fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

cargo build -q --locked -p portvakt -p portvakt-central
BIN="$PWD/target/debug"
work=$(mktemp -d /tmp/pv-central.XXXXXX)
chmod 755 "$work"
PIDS=()
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "interop-central: FAILED: $*" >&2; exit 1; }

echo "== interop: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), throwaway, on a Unix socket"
mkdir -p "$work/pg" "$work/sock"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg" "$work/sock"
as_pg "$PGBIN/initdb" -D "$work/pg" -A trust -U portvakt >/dev/null
pg_start() { as_pg "$PGBIN/pg_ctl" -D "$work/pg" -o "-k $work/sock -c listen_addresses=''" -l "$work/pg/log" -w start >/dev/null; }
pg_start
as_pg "$PGBIN/createdb" -h "$work/sock" -U portvakt portvakt
DB="host=$work/sock user=portvakt dbname=portvakt"
psql() { as_pg "$PGBIN/psql" -h "$work/sock" -U portvakt -d portvakt -tAq -c "$1"; }

MQ=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mosquitto -p "$MQ" > "$work/mosquitto.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$MQ") 2>/dev/null && break; sleep 0.1; done

"$BIN/portvakt-admin" keygen --out "$work/collector.key" >/dev/null
COLLECTOR_PUB=$(cat "$work/collector.key.pub")

# The gateway: the test fixture's site (test-site), uplink to mosquitto, collector mode.
cp -r tests/fixtures/config/good "$work/etc"
chmod 600 "$work/etc/secrets/"*
touch "$work/synchronized"
export PORTVAKT__STORE__PATH="$work/gw.db" PORTVAKT__CREDENTIALS__INBOX="$work/inbox" \
       PORTVAKT__DAEMON__CONTROL_SOCKET="$work/control.sock" PORTVAKT__CLOCK__SYNCHRONIZED_FLAG="$work/synchronized" \
       PORTVAKT__UPLINK__BROKER="mqtt://127.0.0.1:$MQ" PORTVAKT__UPLINK__ALLOW_PLAINTEXT=true \
       PORTVAKT__UPLINK__CONFIRM=collector PORTVAKT__UPLINK__COLLECTOR_KEY="$COLLECTOR_PUB"
mkdir -p "$work/inbox"
gw() { "$BIN/portvakt" --config "$work/etc/portvakt.toml" "$@"; }
gw run --simulate 2> "$work/gateway.log" &
PIDS+=($!)
for _ in $(seq 100); do gw status >/dev/null 2>&1 && break; sleep 0.1; done
visits() { for i in $(seq "$1"); do gw sim entrance code "90$i" >/dev/null; done; }
outbox() { gw status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["outbox_depth"])'; }
head_seq() { gw status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["head_seq"])'; }
through() { psql "SELECT coalesce((SELECT through FROM sites WHERE site = 'test-site'), 0)"; }
drained() {  # waits until the gateway's outbox is empty and Central holds everything
    for _ in $(seq 300); do
        if [ "$(outbox)" = 0 ] && [ "$(through)" = "$(head_seq)" ]; then return 0; fi
        sleep 0.1
    done
    fail "$1: outbox $(outbox), gateway head $(head_seq), Central through $(through)"
}
collector() {  # collector NAME VAR: starts instance NAME, its pid in VAR
    "$BIN/portvakt-central" collect --db "$DB" --broker "mqtt://127.0.0.1:$MQ" \
        --signing-key "$work/collector.key" --client-id "$1" >> "$work/collector-$1.log" 2>&1 &
    PIDS+=($!)
    printf -v "$2" '%s' "$!"
}

echo "== interop: records reach PostgreSQL and the signed acknowledgements empty the outbox"
visits 3
[ "$(outbox)" -gt 0 ] || fail "nothing waited in the outbox before a collector ran"
collector one C1
drained "first collector"
echo "   $(through) records acknowledged, outbox empty"

echo "== interop: a collector killed with SIGKILL mid-stream, another beside it, then restarted"
collector two C2
visits 15 &
V=$!
sleep 0.3
kill -9 "$C1"
wait "$V"
collector one C1
drained "after SIGKILL"
echo "   through $(through) = gateway head"

echo "== interop: PostgreSQL restarted under load"
visits 10 &
V=$!
as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m fast stop >/dev/null
sleep 0.5
pg_start
wait "$V"
# A collector that lost its database exits (69) and is restarted, as systemd would.
for name in one two; do
    pid_var=$([ "$name" = one ] && echo C1 || echo C2)
    if ! kill -0 "${!pid_var}" 2>/dev/null; then collector "$name" "$pid_var"; fi
done
drained "after the PostgreSQL restart"
"$BIN/portvakt-central" verify --db "$DB" --site test-site | tee "$work/verify.txt"
grep -q "chain intact" "$work/verify.txt" || fail "verify does not say intact"
[ "$(psql "SELECT count(*) FROM equivocations")" = 0 ] || fail "equivocations after restarts"

echo "== interop: a visit list, and its read recorded"
"$BIN/portvakt-central" visits --db "$DB" --site test-site --csv --as interop-test > "$work/visits.csv"
rows=$(($(wc -l < "$work/visits.csv") - 1))
[ "$rows" -ge 28 ] || fail "only $rows visits in the list"
[ "$(psql "SELECT who || ':' || records FROM reads ORDER BY id DESC LIMIT 1")" = "interop-test:$rows" ] || fail "the read was not recorded"
grep -q "^test-site,.*,refused,entrance," "$work/visits.csv" || fail "no refused entrance visit in the CSV"

echo "== interop: a row altered in PostgreSQL is found"
psql "UPDATE records SET door = 'rubbish' WHERE site = 'test-site' AND seq = 3"
if "$BIN/portvakt-central" verify --db "$DB" --site test-site > "$work/verify2.txt"; then fail "verify passed an altered row"; fi
grep -q "ALTERED in the database (content does not match its hash): 3" "$work/verify2.txt" || fail "$(cat "$work/verify2.txt")"
echo "interop-central: ok"
