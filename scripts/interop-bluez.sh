#!/usr/bin/env bash
# The BLE radio edge against a mocked BlueZ: Debian's python3-dbusmock `bluez5` template
# on a private D-Bus bus posing as the system bus (no Bluetooth hardware or kernel support
# needed). Installs python3-dbusmock and the D-Bus daemon when run as root, starts the
# bus and the mock, and runs tests/interop_bluez.rs, which adds, powers off, removes and
# re-adds the adapter itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

need=()
/usr/bin/python3 -c 'import dbusmock' 2>/dev/null || need+=(python3-dbusmock)
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus-daemon)
command -v dbus-send >/dev/null 2>&1 || need+=(dbus-bin)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "interop-bluez: missing ${need[*]}; run as root once to install them" >&2
        exit 1
    fi
fi

D="$PWD/target/interop-bluez"
rm -rf "$D"
mkdir -p "$D"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cat > "$D/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$D/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$D/bus.conf" --nofork --print-address=1 > "$D/address" 2> "$D/bus.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$D/bus" ] && break; sleep 0.1; done
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$D/bus"
/usr/bin/python3 -m dbusmock --system --template bluez5 > "$D/mock.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames 2>/dev/null \
        | grep -q '"org.bluez"' && break
    sleep 0.1
done
cargo test --locked --test interop_bluez -- --test-threads=1 --nocapture
