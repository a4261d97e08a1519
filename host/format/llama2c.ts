// Reader of llama2.c checkpoints: legacy v0 (7 × int32 header, fp32 tensors) and v2 int8
// ("ak42": 256-byte header, fp32 norms, then per tensor int8 q and fp32 scales over groups of
// the flattened tensor). Produces a FloatModel.
import { FormatError } from "./errors.js";
import { FloatModel, tensorKey } from "./float-model.js";
import { configProblems, Kind, kvDim, ModelConfig } from "./spec.js";

export const AK42_MAGIC = 0x616b3432;

export function isLlama2cV2(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) === AK42_MAGIC;
}

function baseConfig(h: number[]): ModelConfig {
  return {
    dim: h[0], hiddenDim: h[1], nLayers: h[2], nHeads: h[3], nKvHeads: h[4],
    vocabSize: Math.abs(h[5]), seqLen: h[6], ropeTheta: 10000, normEps: 1e-5, sharedClassifier: h[5] > 0,
  };
}

function checkConfig(c: ModelConfig, name: string): void {
  const p = configProblems(c);
  if (p.length) throw new FormatError("E_CONFIG", `${name}: not a llama2.c checkpoint or absurd dimensions (${p.join("; ")})`);
}

// Reads a legacy v0 checkpoint: header then token_embedding, rms_att, wq, wk, wv, wo, rms_ffn,
// w1, w2, w3 (each stacked over layers), rms_final, freq_cis_real/imag (skipped), classifier.
export function readLlama2cV0(bytes: Uint8Array, name: string): FloatModel {
  if (bytes.length < 28) throw new FormatError("E_TOO_SHORT", `${name}: ${bytes.length} bytes is shorter than a llama2.c header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = [0, 1, 2, 3, 4, 5, 6].map((i) => dv.getInt32(4 * i, true));
  const c = baseConfig(h);
  checkConfig(c, name);
  const hs = c.dim / c.nHeads, kv = kvDim(c), L = c.nLayers;
  const floats = c.vocabSize * c.dim + L * (2 * c.dim + 2 * c.dim * c.dim + 2 * kv * c.dim + 3 * c.dim * c.hiddenDim)
    + c.dim + c.seqLen * hs + (c.sharedClassifier ? 0 : c.vocabSize * c.dim);
  const expectedBytes = 28 + 4 * floats;
  if (bytes.length < expectedBytes) throw new FormatError("E_TRUNCATED", `${name}: ${bytes.length} bytes, a llama2.c checkpoint of this config needs ${expectedBytes} (truncated)`);
  // llama2.c's export writes exactly this much: more means the header does not describe the file.
  if (bytes.length > expectedBytes) throw new FormatError("E_CONFIG", `${name}: ${bytes.length} bytes, but its header (dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, vocab ${c.vocabSize}) describes ${expectedBytes}: not a llama2.c checkpoint of that shape`);
  const all = new Float32Array(bytes.slice(28, expectedBytes).buffer);
  let at = 0;
  const take = (n: number) => all.subarray(at, (at += n));
  const m: FloatModel = { config: c, tensors: new Map() };
  m.tensors.set(tensorKey(Kind.Embedding), take(c.vocabSize * c.dim));
  const stacked = (kind: Kind, per: number) => { for (let l = 0; l < L; l++) m.tensors.set(tensorKey(kind, l), take(per)); };
  stacked(Kind.RmsAtt, c.dim);
  stacked(Kind.Wq, c.dim * c.dim);
  stacked(Kind.Wk, kv * c.dim);
  stacked(Kind.Wv, kv * c.dim);
  stacked(Kind.Wo, c.dim * c.dim);
  stacked(Kind.RmsFfn, c.dim);
  stacked(Kind.W1, c.hiddenDim * c.dim);
  stacked(Kind.W2, c.dim * c.hiddenDim);
  stacked(Kind.W3, c.hiddenDim * c.dim);
  m.tensors.set(tensorKey(Kind.RmsFinal), take(c.dim));
  take(c.seqLen * hs); // freq_cis_real, freq_cis_imag: RoPE is computed, not read
  if (!c.sharedClassifier) m.tensors.set(tensorKey(Kind.Classifier), take(c.vocabSize * c.dim));
  return m;
}

// Reads a v2 "ak42" int8 checkpoint and dequantizes it (its groups run across row ends, so
// the int8 data cannot be used as is where the group size does not divide the rows).
export function readLlama2cV2(bytes: Uint8Array, name: string): FloatModel {
  if (bytes.length < 256) throw new FormatError("E_TOO_SHORT", `${name}: shorter than the 256-byte llama2.c v2 header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getInt32(4, true);
  if (version !== 2) throw new FormatError("E_VERSION", `${name}: llama2.c checkpoint version ${version} is not supported (only 2)`);
  const h = [0, 1, 2, 3, 4, 5, 6].map((i) => dv.getInt32(8 + 4 * i, true));
  const c = baseConfig([...h.slice(0, 5), Math.abs(h[5]), h[6]]);
  c.sharedClassifier = dv.getUint8(36) !== 0;
  const gs = dv.getInt32(37, true);
  checkConfig(c, name);
  if (gs <= 0 || gs > 1 << 20) throw new FormatError("E_CONFIG", `${name}: group size ${gs} is invalid`);
  const kv = kvDim(c), L = c.nLayers;
  let at = 256;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new FormatError("E_TRUNCATED", `${name}: ends at byte ${bytes.length}, data continues past it (truncated)`);
  };
  const takeF32 = (n: number) => { need(4 * n); const a = new Float32Array(bytes.slice(at, at + 4 * n).buffer); at += 4 * n; return a; };
  const takeQ8 = (n: number) => {
    if (n % gs !== 0) throw new FormatError("E_CONFIG", `${name}: tensor of ${n} weights is not a multiple of group size ${gs}`);
    need(n + 4 * (n / gs));
    const q = new Int8Array(bytes.buffer, bytes.byteOffset + at, n); at += n;
    const s = takeF32(n / gs);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = q[i] * s[Math.floor(i / gs)];
    return out;
  };
  const m: FloatModel = { config: c, tensors: new Map() };
  for (let l = 0; l < L; l++) m.tensors.set(tensorKey(Kind.RmsAtt, l), takeF32(c.dim));
  for (let l = 0; l < L; l++) m.tensors.set(tensorKey(Kind.RmsFfn, l), takeF32(c.dim));
  m.tensors.set(tensorKey(Kind.RmsFinal), takeF32(c.dim));
  m.tensors.set(tensorKey(Kind.Embedding), takeQ8(c.vocabSize * c.dim));
  const stacked = (kind: Kind, per: number) => { for (let l = 0; l < L; l++) m.tensors.set(tensorKey(kind, l), takeQ8(per)); };
  stacked(Kind.Wq, c.dim * c.dim);
  stacked(Kind.Wk, kv * c.dim);
  stacked(Kind.Wv, kv * c.dim);
  stacked(Kind.Wo, c.dim * c.dim);
  stacked(Kind.W1, c.hiddenDim * c.dim);
  stacked(Kind.W2, c.dim * c.hiddenDim);
  stacked(Kind.W3, c.hiddenDim * c.dim);
  if (!c.sharedClassifier) m.tensors.set(tensorKey(Kind.Classifier), takeQ8(c.vocabSize * c.dim));
  return m;
}
