// FloatModel → edgellm model image at a chosen quantization.
import { FloatModel, tensorKey, tensorList } from "./float-model.js";
import { QTYPES } from "./qtypes.js";
import { ATTENTION_KINDS, Kind, QType, tensorShape } from "./spec.js";
import type { ModelImage, TensorRecord } from "./writer.js";

// Layer matrices: f32, int8 (q8, per-row or grouped scales), ternary (t2 or t5) or int4 (q4, per row).
export type QuantName = "f32" | "int8" | "ternary" | "q4";
export const QUANT_NAMES: QuantName[] = ["f32", "int8", "ternary", "q4"];
const LAYER_QTYPE: Record<Exclude<QuantName, "f32" | "ternary">, QType> = { int8: QType.Q8, q4: QType.Q4 };
// Storage of the embedding (and a tied or separate classifier): "default" follows --quant
// (f32 for f32 models, int8 otherwise); "int8", "q4" or "ternary" (in the ternary format) force
// that type.
export type EmbeddingName = "default" | "int8" | "q4" | "ternary";
export const EMBEDDING_NAMES: EmbeddingName[] = ["default", "int8", "q4", "ternary"];
// Layout of ternary matrices: t2 (2 bits a weight, the SIMD kernel's) or t5 (five a byte, 1.6 bits).
export type TernaryFormat = "t2" | "t5";
export const TERNARY_FORMATS: TernaryFormat[] = ["t2", "t5"];
export const TERNARY_QTYPE: Record<TernaryFormat, QType.T2 | QType.T5> = { t2: QType.T2, t5: QType.T5 };

export interface ConvertOptions {
  quant: QuantName;
  // int8 weights per scale; 0 = one scale per row. Must divide every row length.
  groupSize?: number;
  tokenizer?: Uint8Array;
  // Type of the embedding and classifier tables; "default" when absent.
  embedding?: EmbeddingName;
  // Type of wq, wk, wv, wo when it differs from `quant` (mixed precision); `quant` when absent.
  attention?: QuantName;
  // Per-row scales to use for ternary matrices, keyed like FloatModel tensors (QAT output).
  ternaryScales?: Map<string, Float32Array>;
  // Layout of the ternary matrices; t2 when absent.
  ternaryFormat?: TernaryFormat;
}

// Why a --ternary-format / "ternaryFormat" other than t2 would do nothing, or null.
export function ternaryFormatProblem(quant: string, attention: string | undefined, format: TernaryFormat, embedding = "default"): string | null {
  if (format === "t2" || quant === "ternary" || attention === "ternary" || embedding === "ternary") return null;
  return `ternary format ${format} needs ternary matrices (quant ${quant}${attention ? `, attention ${attention}` : ""}${embedding !== "default" ? `, embedding ${embedding}` : ""} has none)`;
}

const isNorm = (k: Kind) => k === Kind.RmsAtt || k === Kind.RmsFfn || k === Kind.RmsFinal;
const isTable = (k: Kind) => k === Kind.Embedding || k === Kind.Classifier;

export function groupProblem(m: FloatModel, groupSize: number): string | null {
  if (groupSize === 0) return null;
  const c = m.config;
  for (const n of [c.dim, c.hiddenDim]) {
    if (n % groupSize !== 0) return `group size ${groupSize} does not divide row length ${n} (choose a divisor of ${c.dim} and ${c.hiddenDim}, or 0 for one scale per row)`;
  }
  return null;
}

export function convertModel(m: FloatModel, o: ConvertOptions): ModelImage {
  const group = o.groupSize ?? 0;
  const emb = o.embedding ?? "default";
  if (!EMBEDDING_NAMES.includes(emb)) throw new Error(`embedding type "${emb}" is not one of ${EMBEDDING_NAMES.join(", ")}`);
  const ternary = TERNARY_QTYPE[o.ternaryFormat ?? "t2"];
  const problem = groupProblem(m, group);
  if (problem) throw new Error(problem);
  const tensors: TensorRecord[] = [];
  for (const [kind, layer] of tensorList(m.config)) {
    const [rows, cols] = tensorShape(m.config, kind);
    const w = m.tensors.get(tensorKey(kind, layer));
    if (!w || w.length !== rows * cols) throw new Error(`tensor ${kind}/${layer} missing or of the wrong size`);
    const quant = ATTENTION_KINDS.includes(kind) ? o.attention ?? o.quant : o.quant;
    let qtype = QType.F32;
    if (!isNorm(kind) && quant !== "f32") {
      // Embedding and classifier stay int8 unless --embedding says otherwise: post-training
      // ternary tables lose the vocabulary.
      qtype = isTable(kind) ? QType.Q8 : quant === "ternary" ? ternary : LAYER_QTYPE[quant];
    }
    if (isTable(kind) && emb !== "default") qtype = emb === "q4" ? QType.Q4 : emb === "ternary" ? ternary : QType.Q8;
    const traits = QTYPES[qtype];
    const g = traits.scales === "group" ? (group || cols) : 0;
    const data = traits.quantize(w, rows, cols, g, traits.ternary ? o.ternaryScales?.get(tensorKey(kind, layer)) : undefined);
    tensors.push({ kind, layer, qtype, rows, cols, group: g, data });
  }
  return { config: { ...m.config }, tensors, tokenizer: o.tokenizer ?? m.tokenizer };
}
