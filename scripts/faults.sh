#!/usr/bin/env bash
# Fault campaigns against the real daemon (scripts/faults.py): kill -9 under load, broker
# outage and flapping, Modbus devices that die, answer garbage or lose their serial port,
# clock jumps and a boot in 1970, a soak (memory and open files flat). Installs
# mosquitto, socat and libfaketime when run as root, and a venv with pymodbus for the
# devices. The short versions run in CI; pass --long for the documented long ones, and
# campaign names to run only those.
#
#   bash scripts/faults.sh                 # every campaign, short (about 3.5 minutes)
#   bash scripts/faults.sh --long kill9    # 200 kills
#   bash scripts/faults.sh --long soak     # the 1-hour soak
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v socat >/dev/null 2>&1 || need+=(socat)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 ] \
    || need+=(faketime)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "faults: missing ${need[*]}; run as root once to install them" >&2
        exit 1
    fi
fi

VENV=target/interop-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q 'pymodbus<4' pyserial

cargo build --release --locked --bin portvakt --bin portvakt-admin
PATH="$PATH:/usr/sbin" python3 scripts/faults.py --portvakt target/release/portvakt --python "$VENV/bin/python" \
    --out target/faults.json "$@"
