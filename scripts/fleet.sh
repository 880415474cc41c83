#!/usr/bin/env bash
# The fleet campaign (scripts/fleet.py): a three-node NATS JetStream cluster with TLS, a
# throwaway PostgreSQL, two collectors and a fleet of gateways (some the gateway's own
# store and uplink, the rest generated on its chain and payload code), with a NATS node,
# a collector, PostgreSQL and the real gateways killed or restarted while they publish;
# then every site's gap-free point in PostgreSQL must be its gateway's last record.
# Installs nats-server, postgresql and openssl as root when missing.
#
#   bash scripts/fleet.sh            # short: 100 gateways (20 real), debug build, about 3 min (CI)
#   bash scripts/fleet.sh --long     # 1 000 gateways (100 real), release build (docs/performance.md)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
source scripts/lib-central.sh

need=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
install_missing "${need[@]}"
export PATH="$PATH:/usr/sbin"

if [ "${1:-}" = --long ]; then
    shift
    cargo build -q --release --locked -p portvakt --example fleet --bin portvakt-admin --bin portvakt-central -p portvakt-central
    python3 scripts/fleet.py --bin target/release --gateways 1000 --real 100 --burst 20 --interval 10 --settle 30 \
        --out target/fleet.json "$@"
else
    cargo build -q --locked -p portvakt --example fleet --bin portvakt-admin --bin portvakt-central -p portvakt-central
    python3 scripts/fleet.py --bin target/debug --gateways 100 --real 20 --burst 30 --interval 2 --settle 8 \
        --limit 180 --console-users 10 --out target/fleet-short.json "$@"
fi
