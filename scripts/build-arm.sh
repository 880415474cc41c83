#!/usr/bin/env bash
# Builds Portvakt for the Raspberry Pi without Docker: rustup's target, Debian's cross
# gcc (for SQLite's C code and the link), then runs the binaries under qemu-user.
# Installs what it needs when run as root (idempotent).
#   scripts/build-arm.sh [aarch64|armv7] [--debug]
# The binaries land in target/<triple>/release/ (or debug/).
set -euo pipefail
cd "$(dirname "$0")/.."

arch=${1:-aarch64}
profile=release
[ "${2:-}" = "--debug" ] && profile=debug
case "$arch" in
    aarch64) triple=aarch64-unknown-linux-gnu gcc=aarch64-linux-gnu-gcc pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
             qemu=qemu-aarch64-static sysroot=/usr/aarch64-linux-gnu ;;
    armv7)   triple=armv7-unknown-linux-gnueabihf gcc=arm-linux-gnueabihf-gcc pkgs="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
             qemu=qemu-arm-static sysroot=/usr/arm-linux-gnueabihf ;;
    *) echo "usage: $0 [aarch64|armv7] [--debug]" >&2; exit 64 ;;
esac

if ! command -v "$gcc" >/dev/null || ! command -v "$qemu" >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq $pkgs qemu-user-static >/dev/null || {
            apt-get update -qq && apt-get install -y -qq $pkgs qemu-user-static >/dev/null
        }
    else
        echo "build-arm: needs $pkgs qemu-user-static (run as root to install them)" >&2
        exit 1
    fi
fi
rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"

upper=$(echo "$triple" | tr 'a-z-' 'A-Z_')
export "CARGO_TARGET_${upper}_LINKER=$gcc"
export "CC_${triple//-/_}=$gcc"
flags=(--locked --target "$triple" --bins)
[ "$profile" = release ] && flags+=(--release)
cargo build "${flags[@]}"

out=target/$triple/$profile
file "$out/portvakt" 2>/dev/null || true
# The binaries run under qemu-user; the loader and libc come from Debian's cross sysroot.
"$qemu" -L "$sysroot" "$out/portvakt" --version
"$qemu" -L "$sysroot" "$out/portvakt" check-config --config config/portvakt.toml >/dev/null
"$qemu" -L "$sysroot" "$out/portvakt-admin" --help >/dev/null
# The whole door path (threads, SQLite, Modbus TCP on loopback) under emulation.
"$qemu" -L "$sysroot" "$out/portvakt" demo | tail -1
echo "build-arm: $out/portvakt and portvakt-admin built for $triple and run under $qemu"
