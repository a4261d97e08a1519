#!/usr/bin/env bash
# Measurements for docs/benchmarks.md (Firmware): tokens/s and callgrind instructions/token
# under wasm3 for each quantization, with wasm kernels (weights in linear memory) and native
# kernels (--host-weights); massif peak heap of the 144 KiB configuration; 32-bit sizes.
# Usage: bash firmware/tools/measure.sh [workdir]   (after npm run build)
set -euo pipefail
cd "$(dirname "$0")/../.."
W="${1:-$(mktemp -d)}"
FW=firmware/build/edgellm-fw
CK=../shared/models/stories260K.bin TOK=../shared/models/tok512.bin
for q in f32 int8 ternary; do
  [ -f "$W/s-$q.ellm" ] || node bin/edgellm.js convert "$CK" -o "$W/s-$q.ellm" --quant "$q" -z "$TOK" >/dev/null
done
# The dense ternary layout: same weights as s-ternary.ellm, five a byte.
[ -f "$W/s-ternary-t5.ellm" ] || node bin/edgellm.js convert "$W/s-ternary.ellm" -o "$W/s-ternary-t5.ellm" --quant keep --ternary-format t5 2>/dev/null

echo "## tokens/s (best of 3, -n 128 -t 0, ctx 128)"
for q in f32 int8 ternary ternary-t5; do
  for mode in "" "--host-weights"; do
    best=0
    for _ in 1 2 3; do
      t=$($FW run "$W/s-$q.ellm" -t 0 -n 128 $mode 2>&1 >/dev/null | sed -n 's/^achieved tok\/s: \([0-9.]*\).*/\1/p')
      best=$(echo "$t $best" | awk '{print ($1 > $2) ? $1 : $2}')
    done
    echo "$q ${mode:-wasm-kernels} $best"
  done
done

echo "## callgrind instructions per token (positions 8..40: (Ir(-n 40) - Ir(-n 8)) / 32, ctx 64)"
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "${IR_BIN:-$FW}" run "$@" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
for q in f32 int8 ternary ternary-t5; do
  for mode in "" "--host-weights"; do
    a=$(ir "$W/s-$q.ellm" -t 0 -n 8 --ctx 64 $mode)
    b=$(ir "$W/s-$q.ellm" -t 0 -n 40 --ctx 64 $mode)
    echo "$q ${mode:-wasm-kernels} startup_Ir=$a Ir/token=$(( (b - a) / 32 ))"
  done
done

echo "## callgrind, the 144 KiB configuration on the device profile (positions 8..128)"
export IR_BIN=firmware/build/edgellm-fw-device
a=$(ir "$W/s-ternary.ellm" -t 0 -n 8 --ctx 128 --kv-int8 --host-weights --stack 8192 --max-memory 147456)
b=$(ir "$W/s-ternary.ellm" -t 0 -n 128 --ctx 128 --kv-int8 --host-weights --stack 8192 --max-memory 147456)
unset IR_BIN
echo "ternary budget startup_Ir=$a Ir/token=$(( (b - a) / 120 ))"

echo "## massif peak heap, ternary, --host-weights --kv-int8 --ctx 128 -n 128 --max-memory 147456"
valgrind --tool=massif --massif-out-file="$W/massif.out" "$FW" run "$W/s-ternary.ellm" -t 0 -n 128 --ctx 128 \
  --kv-int8 --host-weights --max-memory 147456 >/dev/null 2>"$W/massif.err"
awk -F= '/^mem_heap_B=/{h=$2} /^mem_heap_extra_B=/{if (h+$2 > m) m = h+$2} END {print "peak heap bytes (incl. allocator overhead):", m}' "$W/massif.out"

echo "## sizes"
ls -l build/edgellm.wasm "$W"/s-*.ellm | awk '{print $5, $9}'
size "$FW"
if gcc -m32 -x c -o /dev/null - <<<'int main(void){return 0;}' 2>/dev/null; then
  bash firmware/tools/size32.sh
else
  echo "gcc -m32 unavailable (apt-get install gcc-multilib): no 32-bit sizes"
fi

if [ -x firmware/build/edgellm-fw32 ]; then
  echo "## massif peak heap, 32-bit build (device profile), same run, 8 KiB wasm stack"
  valgrind --tool=massif --massif-out-file="$W/massif32.out" firmware/build/edgellm-fw32 run "$W/s-ternary.ellm" -t 0 -n 128 \
    --ctx 128 --kv-int8 --host-weights --max-memory 147456 --stack 8192 >/dev/null 2>"$W/massif32.err"
  awk -F= '/^mem_heap_B=/{h=$2} /^mem_heap_extra_B=/{if (h+$2 > m) m = h+$2} END {print "peak heap bytes (incl. allocator overhead):", m}' "$W/massif32.out"
fi
