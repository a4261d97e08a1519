// Constants of the edgellm adapter file format (docs/adapter-format.md), mirrored in
// assembly/adapter/file.ts. Append-only, like the model format (host/format/spec.ts).
import { Kind, KIND_NAMES, ModelConfig, QType, tensorShape } from "./spec.js";

export const ADAPTER_MAGIC = 0x414c4c45; // "ELLA"
export const ADAPTER_VERSION = 1;
export const ADAPTER_HEADER_BYTES = 128;
export const ADAPTER_ENTRY_BYTES = 32;
export const ADAPTER_CHECKSUM_OFFSET = 124;
// Rank limit: far above any useful LoRA rank for these widths, low enough that a corrupt rank
// is an error rather than an allocation.
export const MAX_RANK = 256;

// Storage types: the model format's ids where the type is the same (f32 = 0), then F16 appended
// after the model format's last type (t5 = 4) so the two tables can become one.
export enum AdapterStorage { F32 = QType.F32, F16 = 5 }
export const STORAGE_NAMES: Record<AdapterStorage, string> = { [AdapterStorage.F32]: "f32", [AdapterStorage.F16]: "f16" };

// The matrices an adapter may target: the layer matrices, by the model format's kind ids.
export const ADAPTER_TARGETS: readonly Kind[] = [Kind.Wq, Kind.Wk, Kind.Wv, Kind.Wo, Kind.W1, Kind.W2, Kind.W3];
export const isAdapterTarget = (k: number): k is Kind => (ADAPTER_TARGETS as readonly number[]).includes(k);
export const targetName = (k: number): string => (isAdapterTarget(k) ? KIND_NAMES[k] : `kind ${k}`);

// What an adapter records of its base model: the base file's checksum and its shape.
export type BaseIdentity = Pick<ModelConfig, "dim" | "hiddenDim" | "nLayers" | "nHeads" | "nKvHeads" | "vocabSize"> & {
  checksum: number; // the CRC-32 the base model's header stores at offset 124
};

export function baseIdentity(config: ModelConfig, checksum: number): BaseIdentity {
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize } = config;
  return { checksum: checksum >>> 0, dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize };
}

export const BASE_FIELDS = ["dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize"] as const;

// [out, in] of a target: the shape of the base matrix W the adapter adds B·A to.
export function targetShape(base: BaseIdentity, kind: Kind): [number, number] {
  return tensorShape({ ...base, seqLen: 1, ropeTheta: 1, normEps: 1, sharedClassifier: true }, kind);
}

export function storageBytes(storage: AdapterStorage, count: number): number {
  return (storage === AdapterStorage.F32 ? 4 : 2) * count;
}

// IEEE 754 binary16 from a number, round to nearest even; overflow becomes ±Infinity.
export function f32ToF16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  const rest = mant & 0x1fff;
  let h = (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry into the exponent: correct
  return sign | h;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
