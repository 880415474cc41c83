#!/usr/bin/env bash
# Builds the Debian package for the Pi from the binaries scripts/build-arm.sh made, and
# checks its contents. Installs cargo-deb when missing.
#   scripts/build-deb.sh [aarch64|armv7]
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-aarch64}" in
    aarch64) triple=aarch64-unknown-linux-gnu ;;
    armv7) triple=armv7-unknown-linux-gnueabihf ;;
    *) echo "usage: $0 [aarch64|armv7]" >&2; exit 64 ;;
esac
[ -x "target/$triple/release/portvakt" ] || bash scripts/build-arm.sh "${1:-aarch64}"
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb --version "^3"
deb=$(cargo deb --no-build --no-strip --target "$triple" | tail -1)
echo "built $deb"
dpkg-deb --info "$deb" | grep -E 'Package|Version|Architecture|Depends'
contents=$(dpkg-deb --contents "$deb")
for want in ./usr/bin/portvakt ./usr/bin/portvakt-admin ./usr/lib/systemd/system/portvakt.service \
            ./usr/lib/sysusers.d/portvakt.conf ./usr/lib/tmpfiles.d/portvakt.conf \
            ./etc/portvakt/portvakt.toml ./usr/share/doc/portvakt/install.md; do
    grep -q " $want\$" <<< "$contents" || { echo "build-deb: $want is missing from $deb" >&2; exit 1; }
done
echo "build-deb: $deb has the binaries, the unit, sysusers/tmpfiles, the config and the guide"
