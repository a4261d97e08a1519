#!/usr/bin/env bash
# 32-bit (-m32 -Os) object sizes of wasm3 (the crate's sources, configured with the ESP32
# settings of wasm3-device.defs) and the firmware core: the closest stand-in for an Xtensa
# build's flash footprint available without ESP-IDF. Keeps build/edgellm-fw32 (runs here).
set -euo pipefail
cd "$(dirname "$0")/.."
W3="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wasm3x-sys-0.2.1/wasm3/source | head -n1)"
O="$(mktemp -d)"
DEFS="$(sed 's/^/-D/' wasm3-device.defs | tr '\n' ' ')"
for f in "$W3"/m3_*.c; do
  case "$(basename "$f")" in m3_api_*) continue;; esac
  gcc -m32 -Os -msse2 -mfpmath=sse -ffunction-sections -fdata-sections -w -Dd_m3HasWASI=0 $DEFS -I"$W3" -c "$f" -o "$O/w3_$(basename "$f" .c).o"
done
for f in core/fw.c core/imports.c core/kernels.c core/errors.c core/pack.c core/agent_host.c; do
  gcc -m32 -Os -ffunction-sections -fdata-sections -ffp-contract=off -msse2 -mfpmath=sse -std=c11 -I"$W3" -c "$f" -o "$O/core_$(basename "$f" .c).o"
done
echo "wasm3 objects (-m32 -Os), text+data+bss:"; size -t "$O"/w3_*.o | tail -1
echo "core objects (-m32 -Os), text+data+bss:"; size -t "$O"/core_*.o | tail -1
# Linked: what --gc-sections keeps of wasm3 behind the core (a POSIX main + libc stand in for ESP-IDF).
gcc -m32 -Os -ffp-contract=off -msse2 -mfpmath=sse -std=c11 -D_DEFAULT_SOURCE -I"$W3" -Wl,--gc-sections \
  -Dserve_main=serve_stub32 -o build/edgellm-fw32 posix/main.c posix/platform_posix.c tools/serve-stub32.c \
  "$O"/core_*.o "$O"/w3_*.o -lm
echo "linked 32-bit edgellm-fw (gc-sections):"; size build/edgellm-fw32 | tail -1
rm -rf "$O"
echo "(binary kept: firmware/build/edgellm-fw32)"
