// Quantizers from f32 matrices to the file's q8, t2, t5 and q4 layouts (docs/model-format.md).
// They mirror the module's kernels: symmetric absmax int8 per group, BitNet b1.58 absmean
// ternary per row, and symmetric absmax int4 per row.
import { align, q4RowBytes, QType, t2RowBytes, T2_BLOCK, T2_BLOCK_BYTES, t5RowBytes, T5_PER_BYTE } from "./spec.js";

// w: f32 [rows][cols] → int8 q [rows][cols] (padded to 4 bytes) + f32 scales [rows][cols/group].
export function quantizeQ8(w: Float32Array, rows: number, cols: number, group: number): Uint8Array {
  if (group <= 0 || cols % group !== 0) throw new Error(`group size ${group} does not divide row length ${cols}`);
  const qBytes = align(rows * cols, 4);
  const out = new Uint8Array(qBytes + 4 * rows * (cols / group));
  const q = new Int8Array(out.buffer, 0, rows * cols);
  const scales = new Float32Array(out.buffer, qBytes, rows * (cols / group));
  for (let g = 0; g < scales.length; g++) {
    const start = g * group;
    let amax = 0;
    for (let i = 0; i < group; i++) amax = Math.max(amax, Math.abs(w[start + i]));
    const s = Math.fround(amax / 127);
    scales[g] = s;
    for (let i = 0; i < group; i++) q[start + i] = s > 0 ? Math.max(-127, Math.min(127, Math.round(w[start + i] / s))) : 0;
  }
  return out;
}

export function dequantizeQ8(data: Uint8Array, rows: number, cols: number, group: number): Float32Array {
  const qBytes = align(rows * cols, 4);
  const copy = data.slice();
  const q = new Int8Array(copy.buffer, 0, rows * cols);
  const scales = new Float32Array(copy.buffer, qBytes, rows * (cols / group));
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = q[i] * scales[Math.floor(i / group)];
  return out;
}

// Ternary value of one weight given its row's absmean scale: round(w / s) clipped to [-1, 1].
export function ternaryOf(w: number, scale: number): number {
  return scale > 0 ? Math.max(-1, Math.min(1, Math.round(w / scale))) : 0;
}

// Ternary weights of a matrix: t ∈ {-1, 0, 1} [rows][cols] and one f32 scale per row.
export interface Ternary { ints: Int8Array; scales: Float32Array }

// w: f32 [rows][cols] → ternary weights with each row's absmean scale, or the given per-row
// scales (quantization-aware training fixes them so the file runs exactly as trained).
export function ternarize(w: Float32Array, rows: number, cols: number, scales?: Float32Array): Ternary {
  const ints = new Int8Array(rows * cols), sv = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s: number;
    if (scales) s = scales[r];
    else {
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += Math.abs(w[r * cols + c]);
      s = Math.fround(sum / cols);
    }
    sv[r] = s;
    for (let c = 0; c < cols; c++) ints[r * cols + c] = ternaryOf(w[r * cols + c], s);
  }
  return { ints, scales: sv };
}

// Ternary weights → the t2 layout: codes [rows][rowBytes] + f32 scale [rows]. Padding weights
// (past cols) are code 1 (= 0).
export function packT2({ ints, scales }: Ternary, rows: number, cols: number): Uint8Array {
  const rowBytes = t2RowBytes(cols), codeBytes = ternaryCodeBytes(QType.T2, rows, cols);
  const out = new Uint8Array(codeBytes + 4 * rows);
  new Float32Array(out.buffer, codeBytes, rows).set(scales);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < rowBytes * 4; c++) setT2Code(out, r * rowBytes, c, (c < cols ? ints[r * cols + c] : 0) + 1);
  }
  return out;
}

function setT2Code(out: Uint8Array, rowStart: number, c: number, code: number): void {
  const block = Math.floor(c / T2_BLOCK), within = c % T2_BLOCK;
  const byte = rowStart + block * T2_BLOCK_BYTES + (within % 16);
  const shift = 2 * Math.floor(within / 16);
  out[byte] = (out[byte] & ~(3 << shift)) | (code << shift);
}

// Ternary weights → the t5 layout: byte j of a row = Σ_k (t[5j+k] + 1) · 3^k, zero bytes up to
// a multiple of 4 after the last row, then f32 scale [rows].
export function packT5({ ints, scales }: Ternary, rows: number, cols: number): Uint8Array {
  const rowBytes = t5RowBytes(cols), codeBytes = ternaryCodeBytes(QType.T5, rows, cols);
  const out = new Uint8Array(codeBytes + 4 * rows);
  new Float32Array(out.buffer, codeBytes, rows).set(scales);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < rowBytes; j++) {
      let byte = 0;
      for (let k = T5_PER_BYTE - 1; k >= 0; k--) {
        const c = T5_PER_BYTE * j + k;
        byte = 3 * byte + (c < cols ? ints[r * cols + c] : 0) + 1;
      }
      out[r * rowBytes + j] = byte;
    }
  }
  return out;
}

export function packTernary(t: Ternary, qtype: QType.T2 | QType.T5, rows: number, cols: number): Uint8Array {
  return qtype === QType.T5 ? packT5(t, rows, cols) : packT2(t, rows, cols);
}

// Bytes of a ternary tensor's codes, before its f32 row scales.
function ternaryCodeBytes(qtype: QType.T2 | QType.T5, rows: number, cols: number): number {
  return qtype === QType.T5 ? align(rows * t5RowBytes(cols), 4) : rows * t2RowBytes(cols);
}

// Code (t + 1) of column c of row r: t2's 2-bit field, or t5's base-3 digit.
function t2CodeAt(data: Uint8Array, rowBytes: number, r: number, c: number): number {
  const within = c % T2_BLOCK;
  return (data[r * rowBytes + Math.floor(c / T2_BLOCK) * T2_BLOCK_BYTES + (within % 16)] >> (2 * Math.floor(within / 16))) & 3;
}

function t5CodeAt(data: Uint8Array, rowBytes: number, r: number, c: number): number {
  return Math.floor(data[r * rowBytes + Math.floor(c / T5_PER_BYTE)] / 3 ** (c % T5_PER_BYTE)) % 3;
}

// The first invalid code of a t2 or t5 tensor, by row and then column, or null: a t5 byte above
// 242 or a t2 code 3 (no writer produces one, and the kernels would not agree on it). Readers
// run this on every load, so it scans bytes; only a t2 row holding a 3 is decoded by column.
export function ternaryCodeProblem(data: Uint8Array, qtype: QType.T2 | QType.T5, rows: number, cols: number): string | null {
  const t5 = qtype === QType.T5;
  const rowBytes = t5 ? t5RowBytes(cols) : t2RowBytes(cols);
  for (let r = 0; r < rows; r++) {
    let bad = false;
    for (let j = 0, at = r * rowBytes; j < rowBytes; j++, at++) {
      const b = data[at];
      if (t5 && b > 242) return `row ${r}, byte ${j}: t5 code ${b} is above 242`;
      if (!t5 && (b & (b >> 1) & 0x55) !== 0) bad = true;
    }
    // A 3 may sit in the padding past cols, which no kernel reads.
    if (bad) for (let c = 0; c < cols; c++) if (t2CodeAt(data, rowBytes, r, c) === 3) return `row ${r}, column ${c}: t2 code 3 is invalid`;
  }
  return null;
}

// The ternary weights and scales stored in a t2 or t5 tensor; RangeError on an invalid code.
export function unpackTernary(data: Uint8Array, qtype: QType.T2 | QType.T5, rows: number, cols: number): Ternary {
  const problem = ternaryCodeProblem(data, qtype, rows, cols);
  if (problem) throw new RangeError(problem);
  const t5 = qtype === QType.T5;
  const rowBytes = t5 ? t5RowBytes(cols) : t2RowBytes(cols);
  const codeBytes = ternaryCodeBytes(qtype, rows, cols);
  const scales = new Float32Array(data.slice(codeBytes, codeBytes + 4 * rows).buffer);
  const ints = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) ints[r * cols + c] = (t5 ? t5CodeAt(data, rowBytes, r, c) : t2CodeAt(data, rowBytes, r, c)) - 1;
  }
  return { ints, scales };
}

export function dequantizeTernary(data: Uint8Array, qtype: QType.T2 | QType.T5, rows: number, cols: number): Float32Array {
  const { ints, scales } = unpackTernary(data, qtype, rows, cols);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = ints[i] * scales[Math.floor(i / cols)];
  return out;
}

// w: f32 [rows][cols] → q4 nibbles [rows][ceil(cols/2)] (padded to 4 bytes) + f32 absmax/7 scale [rows].
export function quantizeQ4(w: Float32Array, rows: number, cols: number): Uint8Array {
  const ints = new Float32Array(rows * cols), scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(w[r * cols + c]));
    const s = Math.fround(amax / 7);
    scales[r] = s;
    for (let c = 0; c < cols; c++) ints[r * cols + c] = s > 0 ? Math.max(-7, Math.min(7, Math.round(w[r * cols + c] / s))) : 0;
  }
  return packQ4(ints, scales, rows, cols);
}

// int4 values in [-7, 7] (held in f32: the training module's integers) and one scale per row →
// the q4 layout. Byte j of a row: low nibble column 2j, high nibble column 2j+1, two's complement.
export function packQ4(ints: Float32Array, scales: Float32Array, rows: number, cols: number): Uint8Array {
  const rb = q4RowBytes(cols), qBytes = align(rows * rb, 4);
  const out = new Uint8Array(qBytes + 4 * rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * rb + (c >> 1)] |= (ints[r * cols + c] & 15) << (4 * (c & 1));
  }
  new Float32Array(out.buffer, qBytes, rows).set(scales);
  return out;
}

// Signed int4 weight of column c of row r.
export function q4At(data: Uint8Array, cols: number, r: number, c: number): number {
  const nib = (data[r * q4RowBytes(cols) + (c >> 1)] >> (4 * (c & 1))) & 15;
  return nib >= 8 ? nib - 16 : nib;
}

export function dequantizeQ4(data: Uint8Array, rows: number, cols: number): Float32Array {
  const qBytes = align(rows * q4RowBytes(cols), 4);
  const sv = new Float32Array(data.slice(qBytes, qBytes + 4 * rows).buffer);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = Math.fround(q4At(data, cols, r, c) * sv[r]);
  }
  return out;
}

// int8 integers (held in f32) and one scale per row → the file's q8 layout with group = cols.
export function packQ8(ints: Float32Array, scales: Float32Array, rows: number, cols: number): Uint8Array {
  const qBytes = align(rows * cols, 4);
  const out = new Uint8Array(qBytes + 4 * rows);
  const q = new Int8Array(out.buffer, 0, rows * cols);
  for (let i = 0; i < rows * cols; i++) q[i] = ints[i];
  new Float32Array(out.buffer, qBytes, rows).set(scales);
  return out;
}
