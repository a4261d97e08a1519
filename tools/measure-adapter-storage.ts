// What a compact storage type does to a LoRA adapter: relative error of the product B·A after a
// round trip, and bytes, for f16 and int8 (the model format's q8, one scale per row). No trained
// adapter exists yet, so A is Kaiming-normal (std 1/√in) and B small with a few outliers, as
// trained B matrices are. Usage: node dist/tools/measure-adapter-storage.js [rank]
import { f16ToF32, f32ToF16 } from "../host/format/adapter-spec.js";
import { dequantizeQ8, quantizeQ8 } from "../host/format/quantize.js";

const rank = Number(process.argv[2] ?? 8);
// stories260K's shapes: [out, in] of wq and w2, the narrowest and the widest input.
const SHAPES: Array<[string, number, number]> = [["wq [64, 64]", 64, 64], ["w1 [172, 64]", 172, 64], ["w2 [64, 172]", 64, 172]];

function gaussian(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s + 0.5) / 2 ** 32; };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

// prod[out, in] = B[out, r] · A[r, in]
function product(b: Float32Array, a: Float32Array, out: number, r: number, inn: number): Float64Array {
  const p = new Float64Array(out * inn);
  for (let o = 0; o < out; o++) for (let k = 0; k < r; k++) for (let i = 0; i < inn; i++) p[o * inn + i] += b[o * r + k] * a[k * inn + i];
  return p;
}

function relError(ref: Float64Array, got: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) { num += (got[i] - ref[i]) ** 2; den += ref[i] ** 2; }
  return Math.sqrt(num / den);
}

const viaF16 = (w: Float32Array) => w.map((x) => f16ToF32(f32ToF16(x)));
const viaInt8 = (w: Float32Array, rows: number, cols: number) => dequantizeQ8(quantizeQ8(w, rows, cols, cols), rows, cols, cols);

console.log(`rank ${rank}; relative Frobenius error of B·A, bytes of A + B`);
console.log("matrix         f32 bytes   f16 bytes  f16 error   int8 bytes  int8 error");
for (const [name, out, inn] of SHAPES) {
  const g = gaussian(out * 1000 + inn);
  const a = new Float32Array(rank * inn).map(() => g() / Math.sqrt(inn));
  // B: std 0.02, one value in a hundred five times larger.
  const b = new Float32Array(out * rank).map(() => 0.02 * g() * (g() > 2.33 ? 5 : 1));
  const ref = product(b, a, out, rank, inn);
  const f16 = relError(ref, product(viaF16(b), viaF16(a), out, rank, inn));
  const int8 = relError(ref, product(viaInt8(b, out, rank), viaInt8(a, rank, inn), out, rank, inn));
  const n = rank * inn + out * rank;
  const int8Bytes = Math.ceil(rank * inn / 4) * 4 + 4 * rank + Math.ceil(out * rank / 4) * 4 + 4 * out;
  console.log(`${name.padEnd(14)} ${String(4 * n).padStart(9)}   ${String(2 * n).padStart(9)}  ${f16.toExponential(2).padStart(9)}   ${String(int8Bytes).padStart(10)}  ${int8.toExponential(2).padStart(10)}`);
}
