// Constants of the edgellm model file format (docs/model-format.md), mirrored from
// assembly/model/file.ts and assembly/model/matrix.ts. Append-only.
export const MAGIC = 0x4d4c4c45; // "ELLM"
export const VERSION = 1;
export const HEADER_BYTES = 128;
export const ENTRY_BYTES = 32;
export const TENSOR_ALIGN = 64;

// Byte offsets of the header's fields (docs/model-format.md, "Header"); the module's twin is
// assembly/model/layout.ts.
export const HEADER = {
  magic: 0, version: 4, headerBytes: 8, flags: 12, dim: 16, hiddenDim: 20, nLayers: 24, nHeads: 28,
  nKvHeads: 32, vocabSize: 36, seqLen: 40, ropeTheta: 44, normEps: 48, nTensors: 52, tokenizerOffset: 56,
  tokenizerBytes: 60, fileBytes: 64, checksum: 124,
} as const;
export const CHECKSUM_OFFSET = HEADER.checksum;

// Byte offsets of a tensor table entry's fields (all u32).
export const ENTRY = { kind: 0, layer: 4, qtype: 8, rows: 12, cols: 16, group: 20, offset: 24, bytes: 28 } as const;
export const FLAG_SHARED_CLASSIFIER = 1;

// Quantization type ids, append-only; their traits are the table in qtypes.ts.
export enum QType { F32 = 0, Q8 = 1, T2 = 2, Q4 = 3, T5 = 4 } // 5 is f16, taken by adapter files (adapter-spec.ts)

export enum Kind {
  Embedding = 0, RmsAtt = 1, Wq = 2, Wk = 3, Wv = 4, Wo = 5, RmsFfn = 6,
  W1 = 7, W2 = 8, W3 = 9, RmsFinal = 10, Classifier = 11,
}
export const KIND_NAMES = ["token_embedding", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final", "classifier"];
export const LAYER_KINDS = [Kind.RmsAtt, Kind.Wq, Kind.Wk, Kind.Wv, Kind.Wo, Kind.RmsFfn, Kind.W1, Kind.W2, Kind.W3];
// The layer matrices by block: mixed precision gives each block its own type.
export const ATTENTION_KINDS: readonly Kind[] = [Kind.Wq, Kind.Wk, Kind.Wv, Kind.Wo];
export const FFN_KINDS: readonly Kind[] = [Kind.W1, Kind.W2, Kind.W3];

export interface ModelConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  ropeTheta: number;
  normEps: number;
  sharedClassifier: boolean;
}

export const LIMITS = { dim: 8192, hiddenDim: 32768, nLayers: 256, nHeads: 256, vocabSize: 262144, seqLen: 65536 };

export const T2_BLOCK = 64;
export const T2_BLOCK_BYTES = 16;

export function t2RowBytes(cols: number): number {
  return Math.ceil(cols / T2_BLOCK) * T2_BLOCK_BYTES;
}

// t5: bytes of one row, five weights a byte in base 3.
export const T5_PER_BYTE = 5;
export function t5RowBytes(cols: number): number {
  return Math.ceil(cols / T5_PER_BYTE);
}

// q4: bytes of one row, two weights a byte (low nibble = even column).
export function q4RowBytes(cols: number): number {
  return Math.ceil(cols / 2);
}

export function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export function kvDim(c: ModelConfig): number {
  return (c.dim / c.nHeads) * c.nKvHeads;
}

// [rows, cols] of a tensor kind; norm vectors are [1, dim].
export function tensorShape(c: ModelConfig, kind: Kind): [number, number] {
  switch (kind) {
    case Kind.Embedding: case Kind.Classifier: return [c.vocabSize, c.dim];
    case Kind.RmsAtt: case Kind.RmsFfn: case Kind.RmsFinal: return [1, c.dim];
    case Kind.Wq: case Kind.Wo: return [c.dim, c.dim];
    case Kind.Wk: case Kind.Wv: return [kvDim(c), c.dim];
    case Kind.W1: case Kind.W3: return [c.hiddenDim, c.dim];
    case Kind.W2: return [c.dim, c.hiddenDim];
  }
}

// Problems with a config, or [] when sane; the same limits as the module's reader.
export function configProblems(c: ModelConfig): string[] {
  const p: string[] = [];
  const within = (name: keyof typeof LIMITS, v: number) => {
    if (!Number.isInteger(v) || v <= 0 || v > LIMITS[name]) p.push(`${name} ${v} is outside 1..${LIMITS[name]}`);
  };
  within("dim", c.dim); within("hiddenDim", c.hiddenDim); within("nLayers", c.nLayers);
  within("nHeads", c.nHeads); within("vocabSize", c.vocabSize); within("seqLen", c.seqLen);
  if (!Number.isInteger(c.nKvHeads) || c.nKvHeads <= 0 || c.nKvHeads > c.nHeads || c.nHeads % c.nKvHeads !== 0) {
    p.push(`nKvHeads ${c.nKvHeads} must divide nHeads ${c.nHeads}`);
  }
  if (p.length === 0 && (c.dim % c.nHeads !== 0 || (c.dim / c.nHeads) % 2 !== 0)) {
    p.push(`dim ${c.dim} must be nHeads ${c.nHeads} times an even head size`);
  }
  if (!(c.normEps > 0) || !(c.ropeTheta > 0) || !Number.isFinite(c.normEps) || !Number.isFinite(c.ropeTheta)) p.push("normEps and ropeTheta must be positive finite numbers");
  return p;
}
