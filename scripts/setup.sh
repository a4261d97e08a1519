#!/usr/bin/env bash
# Sets up a fresh machine (Debian, Node 20, cargo) and builds everything:
# Debian packages, npm dependencies, the WebAssembly module (SIMD + MVP), the TypeScript host,
# the C baseline and the wasm3 firmware (POSIX build).
set -euo pipefail
cd "$(dirname "$0")/.."

# mosquitto: production broker and integration tests; libmosquitto-dev: firmware MQTT client;
# libclang-dev: bindgen for the wasm3x-sys crate; valgrind: memory and instruction counts.
PKGS="mosquitto libmosquitto-dev libclang-dev valgrind"
# cargo builds wasm3 from the crates.io crate wasm3x-sys; machines of this kind have rustup's,
# anything else gets Debian's.
command -v cargo >/dev/null 2>&1 || PKGS="$PKGS cargo"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing Debian packages:$missing" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi
# Tests start their own brokers; a system service would only hold port 1883.
if command -v systemctl >/dev/null 2>&1; then systemctl stop mosquitto 2>/dev/null || true; fi

npm ci --no-audit --no-fund
npm run build
