// Unstructured magnitude pruning: in every matrix except the embedding, zero the fraction
// `sparsity` of each row's weights with the smallest |w| (per-row, so every output channel
// keeps the same number of inputs).
import { tensorKey, type FloatModel } from "../format/float-model.js";
import { Kind, LAYER_KINDS, tensorShape } from "../format/spec.js";

export function magnitudePrune(m: FloatModel, sparsity: number): FloatModel {
  if (!(sparsity >= 0 && sparsity < 1)) throw new Error(`sparsity ${sparsity} must be in [0, 1)`);
  const out: FloatModel = { config: { ...m.config }, tensors: new Map([...m.tensors].map(([k, v]) => [k, v.slice()])), tokenizer: m.tokenizer };
  for (const kind of LAYER_KINDS) {
    if (kind === Kind.RmsAtt || kind === Kind.RmsFfn) continue;
    const [rows, cols] = tensorShape(m.config, kind);
    const drop = Math.floor(cols * sparsity);
    if (drop === 0) continue;
    for (let l = 0; l < m.config.nLayers; l++) {
      const w = out.tensors.get(tensorKey(kind, l))!;
      for (let r = 0; r < rows; r++) {
        const idx = Array.from({ length: cols }, (_, i) => i).sort((a, b) => Math.abs(w[r * cols + a]) - Math.abs(w[r * cols + b]));
        for (let i = 0; i < drop; i++) w[r * cols + idx[i]] = 0;
      }
    }
  }
  return out;
}

// Fraction of exactly-zero weights over the layer matrices.
export function sparsityOf(m: FloatModel): number {
  let zeros = 0, total = 0;
  for (const kind of LAYER_KINDS) {
    if (kind === Kind.RmsAtt || kind === Kind.RmsFfn) continue;
    for (let l = 0; l < m.config.nLayers; l++) {
      const w = m.tensors.get(tensorKey(kind, l))!;
      for (const v of w) { total++; if (v === 0) zeros++; }
    }
  }
  return total ? zeros / total : 0;
}
