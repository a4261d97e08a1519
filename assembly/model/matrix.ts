import { QT_F32, QT_T2, qtDequantRow, qtMatmul, qtMatvec, qtTernary, scalesOffset } from "./qtypes";
import { wMatmul, wMatvec, wRow } from "../kernels/native";
import { LoraLink } from "./lora-link";

// A weight matrix used in place inside the loaded file: y[rows] = W[rows, cols] · x[cols].
export class Matrix {
  qtype: u32 = QT_F32;     // the layout in memory (qtypes.ts)
  fileQtype: u32 = QT_F32; // the type the file stores (a repacked t5 stays t5 here)
  rows: i32 = 0;
  cols: i32 = 0;
  group: i32 = 0;     // q8: weights per scale
  data: usize = 0;    // f32 [rows][cols] | i8 [rows][cols] | u8 [rows][rowBytes] (t2, q4, t5)
  scales: usize = 0;  // q8: f32 [rows][cols/group]; t2, q4, t5: f32 [rows]
  external: bool = false; // data is a file offset in host memory (modelLoadExternal)
  lora: LoraLink | null = null; // adapters on this matrix (model/lora.ts), applied after it

  init(qtype: u32, rows: i32, cols: i32, group: i32, data: usize): void {
    this.qtype = qtype; this.fileQtype = qtype; this.rows = rows; this.cols = cols; this.group = group; this.data = data;
    if (qtype != QT_F32) this.scales = data + <usize>scalesOffset(qtype, rows, cols);
  }

  // A t5 matrix repacked to t2 codes at `codes` (SIMD build), its scales left where they are.
  initRepacked(fileQtype: u32, rows: i32, cols: i32, codes: usize, scales: usize): void {
    this.qtype = QT_T2; this.fileQtype = fileQtype; this.rows = rows; this.cols = cols; this.group = 0;
    this.data = codes; this.scales = scales;
  }

  // A matrix that stays in the host's memory, applied by native host functions.
  initExternal(qtype: u32, rows: i32, cols: i32, group: i32, fileOffset: u32): void {
    this.qtype = qtype; this.fileQtype = qtype; this.rows = rows; this.cols = cols; this.group = group;
    this.data = <usize>fileOffset; this.scales = 0; this.external = true;
  }

  get quantized(): bool { return this.qtype != QT_F32; }

  // Ternary and in linear memory: applied by the module's own kernels, whose lookup-table path
  // needs the run state's ternary scratch (host-held weights use the host's kernels).
  get ternaryInMemory(): bool { return !this.external && qtTernary(this.qtype); }

  // x is used when f32; xq/sa (int8 activations, padded to 64) when quantized.
  // lut, acc: scratch for the lookup-table ternary kernel.
  apply(y: usize, x: usize, xq: usize, sa: f32, lut: usize, acc: usize): void {
    if (this.external) {
      wMatvec(this.qtype, <u32>this.data, this.group, this.rows, this.cols, y, x, xq, sa);
      return;
    }
    qtMatvec(this.qtype, y, this.data, this.scales, this.group, this.rows, this.cols, x, xq, sa, lut, acc);
  }

  // Y[n][rows] = W · X for n inputs (prefill): x f32 [n][cols] when f32; xq int8
  // [n][xqStride] with scales sa f32 [n] when quantized. Equal to n apply() calls.
  applyBlock(y: usize, x: usize, xq: usize, xqStride: i32, sa: usize, n: i32, lut: usize, acc: usize): void {
    if (this.external) {
      wMatmul(this.qtype, this.group, this.cols, n, x, xq, xqStride, sa, <u32>this.data, this.rows, y, 0, 0, 0, 0, 0, 0);
      return;
    }
    qtMatmul(this.qtype, y, this.data, this.scales, this.group, this.rows, this.cols, n, x, xq, xqStride, sa, lut, acc);
  }

  row(out: usize, r: i32): void {
    if (this.external) {
      wRow(this.qtype, <u32>this.data, this.group, this.rows, this.cols, r, out);
      return;
    }
    qtDequantRow(this.qtype, out, this.data, this.scales, this.group, r, this.cols);
  }
}
