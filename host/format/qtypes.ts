// Quantization types: TypeScript's one table of type traits (docs/model-format.md). The same
// table exists once per language: assembly/model/qtypes.ts (the module) and firmware/core/kernels.c
// (C); test/host/qtypes.test.ts checks that they agree.
//
// Ids are append-only (QType in spec.ts): a file written today must mean the same thing to every
// later reader. To add a type: append its id to QType, a row to QTYPES (layout, quantizer,
// dequantizer, reader check), the same entry in the other two tables with its kernels, and test
// vectors (tools/vectors.ts).
import {
  dequantizeQ4, dequantizeQ8, dequantizeTernary, packQ4, packQ8, packTernary, quantizeQ4, quantizeQ8, ternarize, ternaryCodeProblem, unpackTernary,
} from "./quantize.js";
import { align, QType, T2_BLOCK, T2_BLOCK_BYTES, T5_PER_BYTE } from "./spec.js";

// How a type's f32 scales follow its integer part.
export type ScaleLayout = "none" | "row" | "group";

export interface QTypeTraits {
  id: QType;
  name: string;             // as `info`, `convert --quant` and the fleet's status spell it
  bitsPerWeight: number;    // of the codes alone, scales excluded
  blockWeights: number;     // a row is ceil(cols / blockWeights) blocks
  blockBytes: number;
  scales: ScaleLayout;      // "group": one scale per `group` weights, group divides cols; else group is 0
  ternary: boolean;
  // w f32 [rows][cols] → the tensor's bytes; `rowScales` fixes a ternary type's scales (QAT).
  quantize(w: Float32Array, rows: number, cols: number, group: number, rowScales?: Float32Array): Uint8Array;
  dequantize(data: Uint8Array, rows: number, cols: number, group: number): Float32Array;
  // The reader's check of the codes themselves, or null (most layouts have no invalid codes).
  codeProblem(data: Uint8Array, rows: number, cols: number): string | null;
  // Codes already quantized (the training module's integers, held in f32) and one scale per row
  // → the tensor's bytes (q8 with group = cols); absent for f32.
  pack?(ints: Float32Array, scales: Float32Array, rows: number, cols: number): Uint8Array;
  // The inverse: codes as f32 integers [rows][cols] and one scale per row, w = code · scale (f32:
  // the weights themselves, scale 1); null for q8 groups narrower than a row.
  unpack(data: Uint8Array, rows: number, cols: number, group: number): { ints: Float32Array; scales: Float32Array } | null;
}

// Codes and row scales of a per-row layout whose dequantizer multiplies code by scale.
function unpackPerRow(dequantize: (d: Uint8Array, r: number, c: number) => Float32Array, scalesAt: (r: number, c: number) => number) {
  return (data: Uint8Array, rows: number, cols: number) => {
    const scales = new Float32Array(data.slice(scalesAt(rows, cols), scalesAt(rows, cols) + 4 * rows).buffer);
    const w = dequantize(data, rows, cols), ints = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) ints[r * cols + c] = scales[r] !== 0 ? Math.round(w[r * cols + c] / scales[r]) : 0;
    return { ints, scales };
  };
}

const noCodeProblem = () => null;

export const QTYPES: readonly QTypeTraits[] = [
  {
    id: QType.F32, name: "f32", bitsPerWeight: 32, blockWeights: 1, blockBytes: 4, scales: "none", ternary: false,
    quantize: (w) => new Uint8Array(w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength)),
    dequantize: (data, rows, cols) => new Float32Array(data.slice().buffer, 0, rows * cols),
    codeProblem: noCodeProblem,
    unpack: (data, rows, cols) => ({ ints: new Float32Array(data.slice().buffer, 0, rows * cols), scales: new Float32Array(rows).fill(1) }),
  },
  {
    id: QType.Q8, name: "int8", bitsPerWeight: 8, blockWeights: 1, blockBytes: 1, scales: "group", ternary: false,
    quantize: (w, rows, cols, group) => quantizeQ8(w, rows, cols, group),
    dequantize: (data, rows, cols, group) => dequantizeQ8(data, rows, cols, group),
    codeProblem: noCodeProblem,
    pack: packQ8,
    unpack: (data, rows, cols, group) => {
      if (group !== cols) return null;
      const qBytes = align(rows * cols, 4);
      return { ints: Float32Array.from(new Int8Array(data.buffer, data.byteOffset, rows * cols)), scales: new Float32Array(data.slice(qBytes, qBytes + 4 * rows).buffer) };
    },
  },
  {
    id: QType.T2, name: "ternary", bitsPerWeight: 2, blockWeights: T2_BLOCK, blockBytes: T2_BLOCK_BYTES, scales: "row", ternary: true,
    quantize: (w, rows, cols, _g, s) => packTernary(ternarize(w, rows, cols, s), QType.T2, rows, cols),
    dequantize: (data, rows, cols) => dequantizeTernary(data, QType.T2, rows, cols),
    codeProblem: (data, rows, cols) => ternaryCodeProblem(data, QType.T2, rows, cols),
    pack: (ints, scales, rows, cols) => packTernary({ ints: Int8Array.from(ints), scales }, QType.T2, rows, cols),
    unpack: (data, rows, cols) => { const t = unpackTernary(data, QType.T2, rows, cols); return { ints: Float32Array.from(t.ints), scales: t.scales }; },
  },
  {
    id: QType.Q4, name: "q4", bitsPerWeight: 4, blockWeights: 2, blockBytes: 1, scales: "row", ternary: false,
    quantize: (w, rows, cols) => quantizeQ4(w, rows, cols),
    dequantize: (data, rows, cols) => dequantizeQ4(data, rows, cols),
    codeProblem: noCodeProblem,
    pack: packQ4,
    unpack: unpackPerRow((d, r, c) => dequantizeQ4(d, r, c), (r, c) => align(r * Math.ceil(c / 2), 4)),
  },
  {
    id: QType.T5, name: "ternary-t5", bitsPerWeight: 8 / T5_PER_BYTE, blockWeights: T5_PER_BYTE, blockBytes: 1, scales: "row", ternary: true,
    quantize: (w, rows, cols, _g, s) => packTernary(ternarize(w, rows, cols, s), QType.T5, rows, cols),
    dequantize: (data, rows, cols) => dequantizeTernary(data, QType.T5, rows, cols),
    codeProblem: (data, rows, cols) => ternaryCodeProblem(data, QType.T5, rows, cols),
    pack: (ints, scales, rows, cols) => packTernary({ ints: Int8Array.from(ints), scales }, QType.T5, rows, cols),
    unpack: (data, rows, cols) => { const t = unpackTernary(data, QType.T5, rows, cols); return { ints: Float32Array.from(t.ints), scales: t.scales }; },
  },
];

export const isKnownQType = (q: number): q is QType => Number.isInteger(q) && q >= 0 && q < QTYPES.length;
export const qtypeName = (q: QType): string => QTYPES[q].name;
export const isTernary = (q: QType): boolean => isKnownQType(q) && QTYPES[q].ternary;

// Bytes of one row of `cols` weights.
export function rowBytes(q: QType, cols: number): number {
  const t = QTYPES[q];
  return Math.ceil(cols / t.blockWeights) * t.blockBytes;
}

// Offset of the f32 scales from the start of a tensor: its integer part padded to 4 bytes.
export function scalesOffset(q: QType, rows: number, cols: number): number {
  return align(rows * rowBytes(q, cols), 4);
}

// The reader's check of a tensor's group field, or null.
export function groupProblem(q: QType, cols: number, group: number): string | null {
  const t = QTYPES[q];
  if (t.scales === "group") return group > 0 && cols % group === 0 ? null : `group size ${group} does not divide ${cols}`;
  return group === 0 ? null : `${t.name} group size must be 0, is ${group}`;
}

// Bytes a tensor of this type and shape occupies in the file (group checked by groupProblem).
export function tensorBytes(q: QType, rows: number, cols: number, group: number): number {
  const t = QTYPES[q];
  if (t.scales === "none") return rows * rowBytes(q, cols);
  return scalesOffset(q, rows, cols) + 4 * rows * (t.scales === "group" ? cols / group : 1);
}

// The f32 numbers a tensor stores: all its values when f32, else its scales, which every
// quantized layout keeps at the end of the tensor's data. Codes are integers and always finite.
export function storedFloatCount(q: QType, rows: number, cols: number, group: number): number {
  const t = QTYPES[q];
  return t.scales === "none" ? rows * cols : t.scales === "group" ? rows * (cols / group) : rows;
}
