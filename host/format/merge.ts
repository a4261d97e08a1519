// Folding LoRA adapters into their base (llama.cpp's export-lora): W' = W + Σ (α/r)·s·B·A over
// the adapters, each adapted matrix dequantized by the type table and quantized again, by
// default in its own type and group (a ternary base stays ternary: the fold then keeps only what
// survives ternary rounding, which is what `merge` measures), or all layer matrices in one
// `quant` type. Matrices no adapter touches are copied byte for byte unless `quant` asks for
// another type. No I/O.
import type { Adapter } from "./adapter.js";
import { QTYPES } from "./qtypes.js";
import { FFN_KINDS, ATTENTION_KINDS, QType } from "./spec.js";
import type { ModelImage, TensorRecord } from "./writer.js";

export interface ScaledAdapter { adapter: Adapter; scale: number }

const LAYER_MATRICES = new Set([...ATTENTION_KINDS, ...FFN_KINDS]);

// w[out][in] += k · B[out][r] · A[r][in], in f64 per element (the order of the adapters' terms
// is the order given; inference adds them the same way).
function addLowRank(w: Float32Array, out: number, inn: number, a: Float32Array, b: Float32Array, rank: number, k: number): void {
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inn; i++) {
      let s = 0;
      for (let r = 0; r < rank; r++) s += b[o * rank + r] * a[r * inn + i];
      w[o * inn + i] += k * s;
    }
  }
}

export function mergeAdapters(base: ModelImage, adapters: readonly ScaledAdapter[], quant?: QType): { image: ModelImage; merged: number } {
  let merged = 0;
  const tensors: TensorRecord[] = base.tensors.map((t) => {
    const terms = adapters.flatMap(({ adapter, scale }) => adapter.matrices
      .filter((m) => m.kind === t.kind && m.layer === t.layer)
      .map((m) => ({ m, rank: adapter.rank, k: (adapter.alpha / adapter.rank) * scale })));
    const retype = quant !== undefined && LAYER_MATRICES.has(t.kind) && quant !== t.qtype;
    if (terms.length === 0 && !retype) return t;
    const w = QTYPES[t.qtype].dequantize(t.data, t.rows, t.cols, t.group).slice();
    for (const { m, rank, k } of terms) addLowRank(w, t.rows, t.cols, m.a, m.b, rank, k);
    if (terms.length) merged++;
    const qtype = quant !== undefined && LAYER_MATRICES.has(t.kind) ? quant : t.qtype;
    const traits = QTYPES[qtype];
    const group = traits.scales === "group" ? (qtype === t.qtype && t.group ? t.group : t.cols) : 0;
    return { ...t, qtype, group, data: traits.quantize(w, t.rows, t.cols, group) };
  });
  return { image: { ...base, tensors }, merged };
}
