#!/usr/bin/env bash
# Builds firmware/build/edgellm-fw: wasm3 from the crates.io crate wasm3x-sys (cargo caches
# it in firmware/target), then the C core + POSIX platform with make. Both steps are no-ops
# when nothing changed.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "build:firmware: cargo is missing (install rustup/cargo)" >&2; exit 1; }
cargo build --release --quiet --manifest-path wasm3-lib/Cargo.toml --target-dir target
# wasm3.h ships inside the crate (pinned in wasm3-lib/Cargo.toml): find its unpacked sources.
WASM3_INC="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wasm3x-sys-0.2.1/wasm3/source 2>/dev/null | head -n1)"
[ -f "$WASM3_INC/wasm3.h" ] || { echo "build:firmware: wasm3x-sys 0.2.1 sources not found under CARGO_HOME" >&2; exit 1; }
make -s WASM3_INC="$WASM3_INC" WASM3_LIB="target/release/libedgellm_wasm3.a" build/edgellm-fw
# The device profile: wasm3 configured as on the ESP32 (wasm3-device.defs, also read by
# esp32/components/wasm3), so its small-memory settings are exercised by the tests here.
DEVICE_CFLAGS="-O2 $(sed 's/^/-D/' wasm3-device.defs | tr '\n' ' ')"
CFLAGS="$DEVICE_CFLAGS" cargo build --release --quiet --manifest-path wasm3-lib/Cargo.toml --target-dir target/device
make -s WASM3_INC="$WASM3_INC" WASM3_LIB="target/device/release/libedgellm_wasm3.a" build/edgellm-fw-device
