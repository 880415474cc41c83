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
"$VENV/bin/pip" install -q 'pymodbus<4'

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
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

echo "== interop: pymodbus (Modbus TCP)"
PORT=$(free_port)
"$VENV/bin/python" tests/interop/pymodbus_building.py "$PORT" > target/interop-pymodbus.log 2>&1 &
PIDS+=($!)
wait_port "$PORT"
PORTVAKT_INTEROP_MODBUS="127.0.0.1:$PORT" cargo test --locked --test interop_pymodbus
