#!/usr/bin/env bash
# Portvakt Central on a three-node NATS JetStream cluster (Debian's nats-server) on
# loopback: the real gateway publishes over the cluster's MQTT listener with TLS and its
# client certificate, mapped to its site's user (verify_and_map) and confined to its
# prefix; two collectors share one durable pull consumer of a replicated (R3) stream and
# write to a throwaway PostgreSQL. Faults, each while records flow: a NATS node killed with
# SIGKILL and restarted, a collector killed with SIGKILL, PostgreSQL restarted. After
# each, Central's gap-free point equals the gateway's head and its outbox is empty; at the
# end the chain is intact, both collectors took records, and another site's certificate
# could not publish into this site's prefix. Installs nats-server, postgresql, openssl and
# mosquitto-clients as root when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
source scripts/lib-central.sh

need=()
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
install_missing "${need[@]}"

cargo build -q --locked -p portvakt -p portvakt-central
BIN="$PWD/target/debug"
work=$(mktemp -d /tmp/pv-nats.XXXXXX)
chmod 755 "$work"
trap cleanup EXIT

echo "== interop: $(nats-server --version), three nodes, TLS with certificates mapped to users"
certificates test-site other-site collector

declare -a CLIENT ROUTE MQTT NODE
for i in 1 2 3; do CLIENT[$i]=$(free_port); ROUTE[$i]=$(free_port); MQTT[$i]=$(free_port); done
routes="nats-route://127.0.0.1:${ROUTE[1]}, nats-route://127.0.0.1:${ROUTE[2]}, nats-route://127.0.0.1:${ROUTE[3]}"
tls="cert_file: \"$work/server.crt\", key_file: \"$work/server.key\", ca_file: \"$work/ca.crt\", verify_and_map: true"
# A gateway's user is its certificate's subjectAltName (its site id): it may publish and
# subscribe under its own prefix only; $MQTT.sub.> is where the MQTT listener delivers
# its QoS 1 subscriptions (an MQTT client cannot subscribe to $MQTT/... itself).
site_user() { echo "{ user: \"$1\", permissions: { publish: [\"portvakt.$1.>\"], subscribe: [\"portvakt.$1.>\", \"\$MQTT.sub.>\"] } }"; }
for i in 1 2 3; do
    cat > "$work/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${CLIENT[$i]}
jetstream { store_dir: "$work/n$i" }
cluster { name: portvakt, listen: 127.0.0.1:${ROUTE[$i]}, routes: [$routes] }
tls { $tls }
mqtt { listen: 127.0.0.1:${MQTT[$i]}, tls { $tls } }
authorization {
  users: [
    { user: "collector", permissions: { publish: [">"], subscribe: [">"] } }
    $(site_user test-site)
    $(site_user other-site)
  ]
}
CONF
done
node_start() { nats-server -c "$work/n$1.conf" >> "$work/n$1.log" 2>&1 & NODE[$1]=$!; PIDS+=("${NODE[$1]}"); }
for i in 1 2 3; do node_start "$i"; done
for i in 1 2 3; do wait_port "${CLIENT[$i]}"; wait_port "${MQTT[$i]}"; done

pg_setup
"$BIN/portvakt-admin" keygen --out "$work/signing.key" >/dev/null
urls() { echo "tls://localhost:${CLIENT[$1]},tls://localhost:${CLIENT[$2]},tls://localhost:${CLIENT[$3]}"; }
NATS_TLS=(--ca "$work/ca.crt" --cert "$work/collector.crt" --cert-key "$work/collector.key")

echo "== interop: two collectors on one durable pull consumer of the R3 stream"
# The collectors make the streams: before them, the cluster keeps nothing of a gateway's
# publishes (and still acknowledges them), as the operator's guide says.
collector one C1 --nats "$(urls 2 3 1)" "${NATS_TLS[@]}"
collector two C2 --nats "$(urls 3 2 1)" "${NATS_TLS[@]}"
for _ in $(seq 600); do grep -q "collecting from streams" "$work/collector-one.log" && break; sleep 0.1; done
grep -q "collecting from streams" "$work/collector-one.log" || fail "the collector made no streams: $(tail -3 "$work/collector-one.log")"
gateway_start PORTVAKT__UPLINK__BROKER="mqtts://localhost:${MQTT[1]}" PORTVAKT__UPLINK__CA_FILE="$work/ca.crt" \
    PORTVAKT__UPLINK__CERT_FILE="$work/test-site.crt" PORTVAKT__UPLINK__KEY_FILE="$work/test-site.key"
visits 3
drained "first records over the cluster" 600
echo "   $(through) records stored and acknowledged through the cluster, outbox empty"

echo "== interop: a NATS node killed with SIGKILL mid-stream, then restarted"
visits 15 &
V=$!
sleep 0.3
kill -9 "${NODE[2]}"
wait "$V"
drained "with node n2 down" 600
node_start 2
wait_port "${CLIENT[2]}"
visits 5
drained "after n2 came back" 600
echo "   through $(through) = gateway head"

echo "== interop: a collector killed with SIGKILL mid-stream, then restarted"
visits 15 &
V=$!
sleep 0.3
kill -9 "$C1"
wait "$V"
drained "with one collector left" 600
collector one C1 --nats "$(urls 2 3 1)" "${NATS_TLS[@]}"
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
visits 10
drained "after the PostgreSQL restart" 600
intact_and_unequivocal

fleet_checks

echo "== interop: a site's certificate is confined to its own prefix"
pub() { mosquitto_pub -h localhost -p "${MQTT[3]}" --cafile "$work/ca.crt" --cert "$work/$1.crt" --key "$work/$1.key" \
    -i "pub-$1" -q 1 -t "$2" -m 'not a record'; }
before=$(psql "SELECT count(*) FROM refused")
pub other-site portvakt/test-site/events
pub other-site portvakt/other-site/events
for _ in $(seq 100); do [ "$(psql "SELECT count(*) FROM refused")" -gt "$before" ] && break; sleep 0.1; done
[ "$(psql "SELECT count(*) FROM refused WHERE site = 'other-site'")" = 1 ] || fail "other-site's own malformed record was not refused and recorded"
[ "$(psql "SELECT count(*) FROM refused WHERE site = 'test-site'")" = 0 ] || fail "other-site published into test-site's prefix"
grep -q 'Publish Violation - User "other-site", Subject "portvakt.test-site.events"' "$work"/n3.log || fail "no publish violation logged"
echo "   other-site into test-site's prefix: dropped by the cluster (violation logged); into its own: refused by Central"
spy=$(mosquitto_sub -h localhost -p "${MQTT[2]}" --cafile "$work/ca.crt" --cert "$work/other-site.crt" --key "$work/other-site.key" \
    -i spy -q 1 -t '$MQTT/sub/#' -W 3 2>&1 || true)
case "$spy" in *"denied"*) echo "   an MQTT subscription to \$MQTT/sub/# (others' deliveries) is refused" ;; *) fail "\$MQTT/sub/# was not refused: $spy" ;; esac

echo "== interop: both collectors took part"
kill -INT "$C1" "$C2"
wait "$C1" "$C2" || true
for name in one two; do
    n=$(sed -n 's/.*stopping after taking \([0-9]*\) message(s).*/\1/p' "$work/collector-$name.log" | awk '{s+=$1} END {print s+0}')
    [ "$n" -gt 0 ] || fail "collector $name took nothing: $(tail -3 "$work/collector-$name.log")"
    echo "   collector $name took $n message(s)"
done
echo "interop-nats: ok"
