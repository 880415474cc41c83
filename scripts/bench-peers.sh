#!/usr/bin/env bash
# Portvakt side by side with modbus2mqtt (PyPI), doing the same work in one run: poll a
# pymodbus device every 50 ms and publish input changes to mosquitto (scripts/
# bench_peers.py). Installs mosquitto when run as root, and a venv with the peer.
# Prints CPU, RSS and change-to-publish latency for each and the ratios; writes them to
# target/bench-peers.json. Arguments go to bench_peers.py (--changes N, --period S).
#
#   bash scripts/bench-peers.sh                 # 300 changes each, about 2 x 100 s
#   bash scripts/bench-peers.sh --changes 20    # the smoke run of the interop suite
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" python3-venv >/dev/null
    else
        echo "bench-peers: missing ${need[*]}; run as root once to install them" >&2
        exit 1
    fi
fi

VENV=target/peers-venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# modbus2mqtt 0.73 calls pymodbus with `slave=`, which pymodbus 3.10 renamed: pin 3.8.
"$VENV/bin/pip" install -q 'modbus2mqtt==0.73' 'pymodbus==3.8.6'

cargo build --release --locked --bin portvakt
PATH="$PATH:/usr/sbin" "$VENV/bin/python" scripts/bench_peers.py --portvakt target/release/portvakt \
    --out target/bench-peers.json "$@"
