// Deterministic tiny models that pin the model file format and the module's numerics
// (test/vectors/*.ellm + *.json). `node dist/tools/make-vectors.js` rewrites them; the tests
// check that the writer reproduces them byte for byte and both readers agree on them.
import { convertModel, type QuantName } from "../host/format/convert.js";
import { FloatModel, tensorKey, tensorList } from "../host/format/float-model.js";
import { Kind, ModelConfig, tensorShape } from "../host/format/spec.js";
import type { ModelImage } from "../host/format/writer.js";
import type { Engine } from "../host/engine/engine.js";

export const VECTOR_NAMES = ["tiny-f32", "tiny-int8", "tiny-ternary", "tiny-q4", "tiny-t5"] as const;
export type VectorName = (typeof VECTOR_NAMES)[number];

// xorshift32: values in [-1, 1), reproducible in any language.
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 31 - 1;
  };
}

// A 16-piece llama2.c tokenizer: control pieces, single bytes and a few merges.
export function tinyTokenizer(): Uint8Array {
  const pieces = ["<unk>", "\n<s>\n", "\n</s>\n", " ", "a", "b", "c", "ab", " a", "ba", "abc", "d", "e", "<0x0A>", "cd", " b"];
  const enc = new TextEncoder();
  const parts: number[] = [];
  const push32 = (v: number, float = false) => {
    const b = new DataView(new ArrayBuffer(4));
    if (float) b.setFloat32(0, v, true); else b.setInt32(0, v, true);
    parts.push(...new Uint8Array(b.buffer));
  };
  push32(6);
  pieces.forEach((p, i) => {
    const bytes = enc.encode(p);
    push32(-i / 4, true);
    push32(bytes.length);
    parts.push(...bytes);
  });
  return new Uint8Array(parts);
}

export function tinyConfig(sharedClassifier: boolean): ModelConfig {
  return { dim: 16, hiddenDim: 24, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 16, seqLen: 8, ropeTheta: 10000, normEps: 1e-5, sharedClassifier };
}

export function tinyFloatModel(sharedClassifier: boolean, seed = 42): FloatModel {
  const config = tinyConfig(sharedClassifier);
  const rand = random(seed);
  const tensors = new Map<string, Float32Array>();
  for (const [kind, layer] of tensorList(config)) {
    const [rows, cols] = tensorShape(config, kind);
    const w = new Float32Array(rows * cols);
    const isNorm = kind === Kind.RmsAtt || kind === Kind.RmsFfn || kind === Kind.RmsFinal;
    for (let i = 0; i < w.length; i++) w[i] = isNorm ? 1 + 0.1 * rand() : 0.5 * rand();
    tensors.set(tensorKey(kind, layer), w);
  }
  return { config, tensors };
}

export function buildVector(name: VectorName): ModelImage {
  // q4: int8 matrices with q4 embedding and (separate) classifier tables.
  if (name === "tiny-q4") return convertModel(tinyFloatModel(false, 7), { quant: "int8", embedding: "q4" });
  // t5: dense ternary; the w2 rows of 24 weights take 5 bytes, so the lookup-table kernel's
  // 4-byte groups cross rows.
  if (name === "tiny-t5") return convertModel(tinyFloatModel(true, 11), { quant: "ternary", ternaryFormat: "t5", tokenizer: tinyTokenizer() });
  const quant = name.slice("tiny-".length) as QuantName;
  // The ternary vector has a separate classifier and a q8 group size of 8, to cover both paths.
  const model = tinyFloatModel(quant !== "ternary");
  return convertModel(model, { quant, groupSize: quant === "f32" ? 0 : 8, tokenizer: quant === "int8" ? tinyTokenizer() : undefined });
}

// Greedy argmax tokens from BOS for `positions` positions: what the vectors record.
export function greedyTokens(e: Engine, positions: number): number[] {
  const out: number[] = [];
  let tok = 1;
  for (let pos = 0; pos < positions; pos++) {
    const logits = e.forward(tok, pos);
    tok = logits.indexOf(Math.max(...logits));
    out.push(tok);
  }
  return out;
}
