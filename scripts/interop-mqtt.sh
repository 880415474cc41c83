#!/usr/bin/env bash
# The MQTT part of the interop suite: Portvakt against mosquitto with TLS, client
# certificates and an ACL confining each gateway to its own prefix. Installs mosquitto
# and openssl when run as root, makes a throwaway CA with server and client certificates
# (EC P-256, v3 with subjectAltName and extendedKeyUsage), writes the broker's config,
# and runs tests/interop_mosquitto.rs, which starts, kills and restarts the broker itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "interop-mqtt: missing ${need[*]}; run as root once to install them" >&2
        exit 1
    fi
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

D="$PWD/target/interop-mqtt"
rm -rf "$D"
mkdir -p "$D"
chmod 755 "$D"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/$1.key" 2>/dev/null; }
key ca
openssl req -x509 -new -key "$D/ca.key" -sha256 -days 30 -subj "/CN=Portvakt interop CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$D/ca.crt"
leaf() { # name, CN, extensions
    key "$1"
    openssl req -new -key "$D/$1.key" -subj "/CN=$2" -out "$D/$1.csr"
    printf '%b' "$3" > "$D/$1.ext"
    openssl x509 -req -in "$D/$1.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" -CAcreateserial -days 30 -sha256 \
        -extfile "$D/$1.ext" -out "$D/$1.crt" 2>/dev/null
}
leaf server localhost "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
for who in test-site other-site collector; do
    leaf "$who" "$who" "basicConstraints=CA:FALSE\nsubjectAltName=DNS:$who\nextendedKeyUsage=clientAuth\n"
done
chmod 644 "$D"/*.key  # test keys: mosquitto drops to its own user when started as root

free_port() { python3 scripts/free_port.py "$D/ports"; }
TLS_PORT=$(free_port)
PLAIN_PORT=$(free_port)
cat > "$D/acl" <<ACL
# The collector reads and acknowledges every site.
user collector
topic readwrite portvakt/#

# Each gateway (its certificate's CN is its user name) only under its own prefix.
pattern readwrite portvakt/%u/#
ACL
cat > "$D/mosquitto.conf" <<CONF
per_listener_settings true
persistence false
log_dest file $D/mosquitto.log
log_type all

listener $TLS_PORT 127.0.0.1
cafile $D/ca.crt
certfile $D/server.crt
keyfile $D/server.key
tls_version tlsv1.2
require_certificate true
use_identity_as_username true
allow_anonymous false
acl_file $D/acl

# Plain loopback listener for the throughput benchmark only.
listener $PLAIN_PORT 127.0.0.1
allow_anonymous true
CONF
touch "$D/mosquitto.log"
chmod 666 "$D/mosquitto.log"

echo "== interop: mosquitto $("$MOSQUITTO" -h 2>/dev/null | head -1 | awk '{print $3}') with TLS, client certificates and ACL"
PORTVAKT_INTEROP_MOSQUITTO="$MOSQUITTO" PORTVAKT_INTEROP_MQTT_DIR="$D" \
PORTVAKT_INTEROP_MQTT_TLS_PORT="$TLS_PORT" PORTVAKT_INTEROP_MQTT_PLAIN_PORT="$PLAIN_PORT" \
    cargo test --locked --test interop_mosquitto -- --test-threads=1
