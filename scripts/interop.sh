#!/usr/bin/env bash
# The interop suite: Portvakt against peers written elsewhere. Installs what it needs
# (a Python venv with pymodbus; as root it also installs python3-venv if missing), starts
# each peer on a free loopback port, runs the matching test, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

VENV=target/interop-venv
if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$VENV"
        else
            echo "interop: python3 -m venv failed; run as root once to install python3-venv" >&2
            exit 1
        fi
    fi
fi
"$VENV/bin/pip" install -q 'pymodbus==3.16.1' pyserial   # the door building uses 3.16's device action hook
if ! command -v socat >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq socat >/dev/null
    else
        echo "interop: socat is missing; run as root once to install it" >&2
        exit 1
    fi
fi

free_port() { "$VENV/bin/python" scripts/free_port.py target/interop-ports.$$; }
wait_port() {
    for _ in $(seq 100); do
        if "$VENV/bin/python" -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "interop: nothing listens on port $1" >&2
    return 1
}

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "== interop: pymodbus over Modbus TCP and over RTU (socat pseudo-terminal pair)"
PORT=$(free_port)
"$VENV/bin/python" tests/interop/pymodbus_building.py tcp "$PORT" > target/interop-pymodbus-tcp.log 2>&1 &
PIDS+=($!)
PTY_A="$PWD/target/interop-pty-a"
PTY_B="$PWD/target/interop-pty-b"
rm -f "$PTY_A" "$PTY_B"
socat pty,raw,echo=0,link="$PTY_A" pty,raw,echo=0,link="$PTY_B" > target/interop-socat.log 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -e "$PTY_A" ] && [ -e "$PTY_B" ] && break; sleep 0.1; done
"$VENV/bin/python" tests/interop/pymodbus_building.py rtu "$PTY_A" > target/interop-pymodbus-rtu.log 2>&1 &
PIDS+=($!)
wait_port "$PORT"
sleep 1  # the serial server has no port to wait for
PORTVAKT_INTEROP_MODBUS="127.0.0.1:$PORT" PORTVAKT_INTEROP_RTU="$PTY_B" \
    cargo test --locked --test interop_pymodbus -- --test-threads=1

echo "== interop: the daemon against a pymodbus door building (strikes put right, frozen panel, intake beside it)"
PORTVAKT_INTEROP_PYTHON="$PWD/$VENV/bin/python" cargo test --locked --test interop_daemon -- --nocapture

echo "== interop: MQTT against mosquitto (TLS, client certificates, ACL, outages)"
bash scripts/interop-mqtt.sh

echo "== interop: the BLE edge against a mocked BlueZ (python3-dbusmock, private D-Bus)"
bash scripts/interop-bluez.sh

echo "== interop: systemd-analyze verify and security (exposure <= 2.5)"
bash scripts/check-systemd.sh

echo "== interop: the aarch64 build, run under qemu-user"
bash scripts/build-arm.sh aarch64

echo "== interop: the Debian package for arm64"
bash scripts/build-deb.sh aarch64

echo "== interop: Central's ingest in Rust against a real PostgreSQL (quarantine, splitting, door alarms, no deadlock; the staff side, its revocation lists through mosquitto)"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v mosquitto >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql mosquitto >/dev/null
    else
        echo "interop: PostgreSQL or mosquitto is missing; run as root once to install them" >&2
        exit 1
    fi
fi
cargo test --locked -p portvakt-central --test pg_ingest --test pg_runs --test pg_privacy --test pg_batches --test pg_staff --test pg_staff_web --test pg_staff_revocations --test pg_console

echo "== interop: Portvakt Central against PostgreSQL and mosquitto, with the real gateway"
bash scripts/interop-central.sh

echo "== interop: Portvakt Central on a three-node NATS JetStream cluster (TLS, certificate mapping, faults)"
bash scripts/interop-nats.sh

echo "== interop: Portvakt Central's fleet campaign, short (100 gateways, a node, a collector, PostgreSQL and gateways killed)"
bash scripts/fleet.sh

echo "== interop: Portvakt Central's console in a real browser (Debian's chromium, playwright-core)"
bash scripts/browser-console.sh

echo "== interop: the staff app end to end (chromium, a real OpenID provider, Bluetooth emulation, the demo's gateway)"
bash scripts/browser-staff.sh
