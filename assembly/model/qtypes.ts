// Quantization types: the module's one table of type traits (docs/model-format.md).
// The same table exists once per language: host/format/qtypes.ts (TypeScript) and
// firmware/core/kernels.c (C); test/host/qtypes.test.ts checks that all three agree.
//
// Ids are append-only: a file written today must mean the same thing to every later reader.
// To add a type: append its id and a row below (name, block, scale layout, group rule), add its
// kernels (a fast one beside its Ref, assembly/kernels/) to qtMatvec / qtDequantRow, the same
// entry in the other two tables, and test vectors (tools/vectors.ts).
//
// The traits are static data, not objects: the run's heap is sized exactly (agent/heap.ts) and
// resetHeap() must not wipe them.
import { matmulF32, matvecF32 } from "../kernels/f32";
import { dequantRowQ8, matmulQ8, matvecQ8 } from "../kernels/q8";
import { dequantRowT2 } from "../kernels/t2";
import { dequantRowQ4, matvecQ4 } from "../kernels/q4";
import { dequantRowT5 } from "../kernels/t5";
import { matvecT2, matvecT5 } from "../kernels/ternary-lut";

export const QT_F32: u32 = 0;
export const QT_Q8: u32 = 1;
export const QT_T2: u32 = 2;
export const QT_Q4: u32 = 3;
export const QT_T5: u32 = 4;
export const QT_COUNT: u32 = 5;
// Id 5 is f16, taken by adapter files (docs/adapter-format.md); the next model type is 6.

// How a type's f32 scales are laid out after its integer part.
export const SCALES_NONE: u8 = 0;      // f32: no scales
export const SCALES_PER_ROW: u8 = 1;   // one scale a row; group must be 0
export const SCALES_PER_GROUP: u8 = 2; // one scale per `group` weights; group divides cols

// One row per type, 4 bytes: weights per block, bytes per block, scale layout, 1 if ternary.
// A row of `cols` weights takes ceil(cols / blockWeights) · blockBytes bytes.
const TRAITS = memory.data<u8>([
  1, 4, SCALES_NONE, 0,       // f32
  1, 1, SCALES_PER_GROUP, 0,  // int8 (q8)
  64, 16, SCALES_PER_ROW, 1,  // ternary t2: 2 bits a weight in blocks of 64
  2, 1, SCALES_PER_ROW, 0,    // q4: two weights a byte
  5, 1, SCALES_PER_ROW, 1,    // ternary t5: five weights a byte, base 3
]);

// Names as the host and the fleet protocol spell them (host/format/qtypes.ts).
export function qtName(q: u32): string {
  switch (q) {
    case QT_F32: return "f32";
    case QT_Q8: return "int8";
    case QT_T2: return "ternary";
    case QT_Q4: return "q4";
    case QT_T5: return "ternary-t5";
    default: return "unknown";
  }
}

@inline export function qtKnown(q: u32): bool { return q < QT_COUNT; }
@inline function trait(q: u32, i: u32): i32 { return <i32>load<u8>(TRAITS + <usize>(q * 4 + i)); }
@inline export function qtScales(q: u32): i32 { return trait(q, 2); }
@inline export function qtTernary(q: u32): bool { return trait(q, 3) != 0; }

// Bytes of one row of `cols` weights (the integer part; f32's floats).
export function qtRowBytes(q: u32, cols: i32): i64 {
  const bw = trait(q, 0);
  return <i64>((cols + bw - 1) / bw) * <i64>trait(q, 1);
}

// Offset of the f32 scales from the start of a tensor (its integer part padded to 4 bytes);
// -1 for f32 or an unknown type.
export function scalesOffset(q: u32, rows: i32, cols: i32): i64 {
  if (!qtKnown(q) || qtScales(q) == SCALES_NONE) return -1;
  return (<i64>rows * qtRowBytes(q, cols) + 3) & ~3;
}

// Bytes a tensor of this type and shape occupies in the file; -1 for an invalid type or group
// (a group only for per-group scales, else 0).
export function tensorBytes(q: u32, rows: i32, cols: i32, group: i32): i64 {
  if (!qtKnown(q)) return -1;
  const scales = qtScales(q);
  if (scales == SCALES_PER_GROUP ? group <= 0 || cols % group != 0 : group != 0) return -1;
  if (scales == SCALES_NONE) return <i64>rows * qtRowBytes(q, cols);
  const scalesPerRow = scales == SCALES_PER_GROUP ? cols / group : 1;
  return scalesOffset(q, rows, cols) + <i64>rows * <i64>scalesPerRow * 4;
}

// y[rows] = W · x. f32 reads x f32 [cols]; the others xq int8 [pad64(cols)] with scale sa.
// lut, acc: the run state's scratch for the ternary lookup-table kernels.
export function qtMatvec(q: u32, y: usize, w: usize, ws: usize, group: i32, rows: i32, cols: i32,
                         x: usize, xq: usize, sa: f32, lut: usize, acc: usize): void {
  switch (q) {
    case QT_F32: matvecF32(y, w, x, rows, cols); break;
    case QT_Q8: matvecQ8(y, w, ws, group, xq, sa, rows, cols); break;
    case QT_T2: matvecT2(y, w, ws, xq, sa, rows, cols, lut, acc); break;
    case QT_Q4: matvecQ4(y, w, ws, xq, sa, rows, cols); break;
    case QT_T5: matvecT5(y, w, ws, xq, sa, rows, cols, lut, acc); break;
    default: unreachable();
  }
}

// Y[n][rows] = W · X for a block of n inputs (prefill): f32 reads x f32 [n][cols]; the others
// xq int8 [n][xqStride] with scales sa f32 [n]. Every row equals qtMatvec's for that input bit
// for bit (qtMatmulRef is the reference). f32 and int8 stream each weight row once for the
// block; ternary and q4 keep their per-input kernels (the lookup tables are per input, and
// the interpreter pays per operation, not per byte streamed).
export function qtMatmul(q: u32, y: usize, w: usize, ws: usize, group: i32, rows: i32, cols: i32, n: i32,
                         x: usize, xq: usize, xqStride: i32, sa: usize, lut: usize, acc: usize): void {
  switch (q) {
    case QT_F32: matmulF32(y, w, x, n, rows, cols); break;
    case QT_Q8: matmulQ8(y, w, ws, group, xq, xqStride, sa, n, rows, cols); break;
    default: qtMatmulRef(q, y, w, ws, group, rows, cols, n, x, xq, xqStride, sa, lut, acc);
  }
}

// Reference: one qtMatvec per input.
export function qtMatmulRef(q: u32, y: usize, w: usize, ws: usize, group: i32, rows: i32, cols: i32, n: i32,
                            x: usize, xq: usize, xqStride: i32, sa: usize, lut: usize, acc: usize): void {
  for (let t = 0; t < n; t++) {
    qtMatvec(q, y + (<usize>(t * rows) << 2), w, ws, group, rows, cols, x + (<usize>(t * cols) << 2),
             xq + <usize>(t * xqStride), load<f32>(sa + (<usize>t << 2)), lut, acc);
  }
}

// out[cols] = row r of W as f32 (the embedding lookup).
export function qtDequantRow(q: u32, out: usize, w: usize, ws: usize, group: i32, r: i32, cols: i32): void {
  switch (q) {
    case QT_F32: memory.copy(out, w + (<usize>r * <usize>cols << 2), <usize>cols << 2); break;
    case QT_Q8: dequantRowQ8(out, w, ws, group, r, cols); break;
    case QT_T2: dequantRowT2(out, w, ws, r, cols); break;
    case QT_Q4: dequantRowQ4(out, w, ws, r, cols); break;
    case QT_T5: dequantRowT5(out, w, ws, r, cols); break;
    default: unreachable();
  }
}
