import { matvecF32 } from "../kernels/f32";
import { matvecQ8, dequantRowQ8 } from "../kernels/q8";
import { dequantRowT2, t2RowBytes } from "../kernels/t2";
import { matvecQ4, dequantRowQ4, q4RowBytes } from "../kernels/q4";
import { dequantRowT5, t5RowBytes } from "../kernels/t5";
import { matvecT2, matvecT5 } from "../kernels/ternary-lut";
import { wMatvec, wRow } from "../kernels/native";

// Quantization types (docs/model-format.md); append-only.
export const QT_F32: u32 = 0;
export const QT_Q8: u32 = 1;
export const QT_T2: u32 = 2;
export const QT_Q4: u32 = 3;
export const QT_T5: u32 = 4;

// Offset of the f32 scales from the start of a q8 / t2 / q4 / t5 tensor (the integer part, padded);
// -1 for f32 or an unknown type.
export function scalesOffset(qtype: u32, rows: i32, cols: i32): i64 {
  if (qtype == QT_Q8) return (<i64>rows * <i64>cols + 3) & ~3;
  if (qtype == QT_T2) return <i64>rows * <i64>t2RowBytes(cols);
  if (qtype == QT_Q4) return (<i64>rows * <i64>q4RowBytes(cols) + 3) & ~3;
  if (qtype == QT_T5) return (<i64>rows * <i64>t5RowBytes(cols) + 3) & ~3;
  return -1;
}

// Bytes a tensor of this type and shape occupies in the file; -1 for an invalid shape.
export function tensorBytes(qtype: u32, rows: i32, cols: i32, group: i32): i64 {
  if (qtype == QT_F32) return <i64>rows * <i64>cols * 4;
  if (qtype == QT_Q8 && (group <= 0 || cols % group != 0)) return -1;
  if ((qtype == QT_Q4 || qtype == QT_T5) && group != 0) return -1;
  const off = scalesOffset(qtype, rows, cols);
  if (off < 0) return -1;
  const scalesPerRow = qtype == QT_Q8 ? cols / group : 1;
  return off + <i64>rows * <i64>scalesPerRow * 4;
}

// A weight matrix used in place inside the loaded file: y[rows] = W[rows, cols] · x[cols].
export class Matrix {
  qtype: u32 = QT_F32;
  rows: i32 = 0;
  cols: i32 = 0;
  group: i32 = 0;     // q8: weights per scale
  data: usize = 0;    // f32 [rows][cols] | i8 [rows][cols] | u8 [rows][rowBytes] (t2, q4, t5)
  scales: usize = 0;  // q8: f32 [rows][cols/group]; t2, q4, t5: f32 [rows]
  external: bool = false; // data is a file offset in host memory (modelLoadExternal)

  init(qtype: u32, rows: i32, cols: i32, group: i32, data: usize): void {
    this.qtype = qtype; this.rows = rows; this.cols = cols; this.group = group; this.data = data;
    if (qtype != QT_F32) this.scales = data + <usize>scalesOffset(qtype, rows, cols);
  }

  // A t5 matrix repacked to t2 codes at `codes` (SIMD build), its scales left where they are.
  initRepacked(rows: i32, cols: i32, codes: usize, scales: usize): void {
    this.qtype = QT_T2; this.rows = rows; this.cols = cols; this.group = 0;
    this.data = codes; this.scales = scales;
  }

  // A matrix that stays in the host's memory, applied by native host functions.
  initExternal(qtype: u32, rows: i32, cols: i32, group: i32, fileOffset: u32): void {
    this.qtype = qtype; this.rows = rows; this.cols = cols; this.group = group;
    this.data = <usize>fileOffset; this.scales = 0; this.external = true;
  }

  get quantized(): bool { return this.qtype != QT_F32; }

  // Ternary and in linear memory: applied by the module's own kernels, whose lookup-table path
  // needs the run state's ternary scratch (host-held weights use the host's kernels).
  get ternaryInMemory(): bool { return !this.external && (this.qtype == QT_T2 || this.qtype == QT_T5); }

  // x is used when f32; xq/sa (int8 activations, padded to 64) when quantized.
  // lut, acc: scratch for the lookup-table ternary kernel.
  apply(y: usize, x: usize, xq: usize, sa: f32, lut: usize, acc: usize): void {
    if (this.external) {
      wMatvec(this.qtype, <u32>this.data, this.group, this.rows, this.cols, y, x, xq, sa);
      return;
    }
    if (this.qtype == QT_F32) matvecF32(y, this.data, x, this.rows, this.cols);
    else if (this.qtype == QT_Q8) matvecQ8(y, this.data, this.scales, this.group, xq, sa, this.rows, this.cols);
    else if (this.qtype == QT_Q4) matvecQ4(y, this.data, this.scales, xq, sa, this.rows, this.cols);
    else if (this.qtype == QT_T5) matvecT5(y, this.data, this.scales, xq, sa, this.rows, this.cols, lut, acc);
    else matvecT2(y, this.data, this.scales, xq, sa, this.rows, this.cols, lut, acc);
  }

  row(out: usize, r: i32): void {
    if (this.external) {
      wRow(this.qtype, <u32>this.data, this.group, this.rows, this.cols, r, out);
      return;
    }
    if (this.qtype == QT_F32) memory.copy(out, this.data + (<usize>(r * this.cols) << 2), <usize>this.cols << 2);
    else if (this.qtype == QT_Q8) dequantRowQ8(out, this.data, this.scales, this.group, r, this.cols);
    else if (this.qtype == QT_Q4) dequantRowQ4(out, this.data, this.scales, r, this.cols);
    else if (this.qtype == QT_T5) dequantRowT5(out, this.data, this.scales, r, this.cols);
    else dequantRowT2(out, this.data, this.scales, r, this.cols);
  }
}
