// Structural changes to a FloatModel that keep as much of its function as they can, used to
// start a student of another shape from the teacher and by `edgellm prune`:
//   selectLayers  keep a subset of transformer layers (DistilBERT-style layer selection)
//   pruneFfn      keep the FFN neurons with the largest ‖w1_j‖·‖w3_j‖·‖w2_:,j‖
//   growFfn       split FFN neurons into copies that share the output (Net2Net-style widening)
//   growWidth     repeat every residual channel and attention head k times (Net2Net for the width)
//   mergeKvHeads  average groups of KV heads (multi-head → grouped-query attention)
//   pruneHeads    zero the attention heads with the smallest output weights ‖wo_:,h‖
//   identityRepeats  start a repeated layer as the identity (Net2Net-style deepening)
import { tensorKey, type FloatModel } from "../format/float-model.js";
import { Kind, kvDim, LAYER_KINDS, type ModelConfig } from "../format/spec.js";

const get = (m: FloatModel, k: Kind, l = 0): Float32Array => {
  const t = m.tensors.get(tensorKey(k, l));
  if (!t) throw new Error(`tensor ${k}/${l} missing`);
  return t;
};

function clone(m: FloatModel): FloatModel {
  return { config: { ...m.config }, tensors: new Map([...m.tensors].map(([k, v]) => [k, v.slice()])), tokenizer: m.tokenizer };
}

export function selectLayers(m: FloatModel, layers: number[]): FloatModel {
  const out = clone(m);
  out.tensors = new Map();
  out.tensors.set(tensorKey(Kind.Embedding), get(m, Kind.Embedding).slice());
  out.tensors.set(tensorKey(Kind.RmsFinal), get(m, Kind.RmsFinal).slice());
  if (!m.config.sharedClassifier) out.tensors.set(tensorKey(Kind.Classifier), get(m, Kind.Classifier).slice());
  layers.forEach((from, l) => { for (const k of LAYER_KINDS) out.tensors.set(tensorKey(k, l), get(m, k, from).slice()); });
  out.config.nLayers = layers.length;
  return out;
}

const norm = (a: Float32Array, from: number, n: number, stride = 1): number => {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[from + i * stride] ** 2;
  return Math.sqrt(s);
};

// FFN neurons of one layer, most important first (‖w1_j‖·‖w3_j‖·‖w2_:,j‖).
function rankFfn(m: FloatModel, l: number): number[] {
  const H = m.config.hiddenDim, D = m.config.dim;
  const w1 = get(m, Kind.W1, l), w2 = get(m, Kind.W2, l), w3 = get(m, Kind.W3, l);
  const score = Array.from({ length: H }, (_, j) => norm(w1, j * D, D) * norm(w3, j * D, D) * norm(w2, j, D, H));
  return score.map((s, j) => [s, j]).sort((a, b) => b[0] - a[0]).map((p) => p[1]);
}

// Keeps `hidden` of each layer's FFN neurons (in their original order).
export function pruneFfn(m: FloatModel, hidden: number): FloatModel {
  const c = m.config, H = c.hiddenDim, D = c.dim;
  if (hidden > H || hidden < 1) throw new Error(`cannot prune the FFN from ${H} to ${hidden} neurons`);
  const out = clone(m);
  for (let l = 0; l < c.nLayers; l++) {
    const w1 = get(m, Kind.W1, l), w2 = get(m, Kind.W2, l), w3 = get(m, Kind.W3, l);
    const keep = rankFfn(m, l).slice(0, hidden).sort((a, b) => a - b);
    const n1 = new Float32Array(hidden * D), n3 = new Float32Array(hidden * D), n2 = new Float32Array(D * hidden);
    keep.forEach((j, i) => {
      n1.set(w1.subarray(j * D, (j + 1) * D), i * D);
      n3.set(w3.subarray(j * D, (j + 1) * D), i * D);
      for (let r = 0; r < D; r++) n2[r * hidden + i] = w2[r * H + j];
    });
    out.tensors.set(tensorKey(Kind.W1, l), n1); out.tensors.set(tensorKey(Kind.W3, l), n3); out.tensors.set(tensorKey(Kind.W2, l), n2);
  }
  out.config.hiddenDim = hidden;
  return out;
}

// Widens each layer's FFN to `hidden` neurons: the most important neurons are split, each copy
// taking an equal share of the neuron's output column, so the f32 function is unchanged. The
// copies' input rows get multiplicative noise of relative size `noise` (from `gauss`), or they
// would receive equal gradients and stay equal; a quantized student then uses them to express
// finer weights than one ternary row can.
export function growFfn(m: FloatModel, hidden: number, gauss: () => number, noise = 0.02): FloatModel {
  const c = m.config, H = c.hiddenDim, D = c.dim;
  if (hidden < H) throw new Error(`cannot grow the FFN from ${H} to ${hidden} neurons`);
  const out = clone(m);
  for (let l = 0; l < c.nLayers; l++) {
    const w1 = get(m, Kind.W1, l), w2 = get(m, Kind.W2, l), w3 = get(m, Kind.W3, l);
    const rank = rankFfn(m, l);
    const source = [...Array(H).keys(), ...Array.from({ length: hidden - H }, (_, i) => rank[i % H])];
    const copies = new Array<number>(H).fill(0);
    for (const j of source) copies[j]++;
    const n1 = new Float32Array(hidden * D), n3 = new Float32Array(hidden * D), n2 = new Float32Array(D * hidden);
    source.forEach((j, i) => {
      const jitter = i >= H ? () => 1 + noise * gauss() : () => 1;
      for (let k = 0; k < D; k++) {
        n1[i * D + k] = w1[j * D + k] * jitter();
        n3[i * D + k] = w3[j * D + k] * jitter();
      }
      for (let r = 0; r < D; r++) n2[r * hidden + i] = w2[r * H + j] / copies[j];
    });
    out.tensors.set(tensorKey(Kind.W1, l), n1); out.tensors.set(tensorKey(Kind.W3, l), n3); out.tensors.set(tensorKey(Kind.W2, l), n2);
  }
  out.config.hiddenDim = hidden;
  return out;
}

// Widens the residual stream k-fold: channel j appears at j, D + j, …, (k−1)·D + j, and every
// head (query and KV) appears k times in the same way, so the grouping of query heads onto KV
// heads is kept. Each copy of the stream carries 1/√k of the value, which RMSNorm undoes, so
// the layers see their old inputs; matrices split each input over its k copies (÷k), and the
// final norm takes another 1/√k so the tied classifier's logits are unchanged. Weights of every
// copy but the first get multiplicative noise of relative size `noise`, as in growFfn; for a
// ternary student, k copies of a weight can sum to 2k + 1 levels where one row has 3.
export function growWidth(m: FloatModel, k: number, gauss: () => number, noise = 0.02): FloatModel {
  const c = m.config, D = c.dim, KV = kvDim(c), H = c.hiddenDim;
  if (!Number.isInteger(k) || k < 1) throw new Error(`cannot widen a model ${k}-fold`);
  const scale = 1 / Math.sqrt(k);
  // [rows, cols] → [rows·kr, cols·kc]: element (s·rows + i, t·cols + j) = w[i, j]·f.
  const tile = (w: Float32Array, rows: number, cols: number, kr: number, kc: number, f: number): Float32Array => {
    const out = new Float32Array(rows * kr * cols * kc), wide = cols * kc;
    for (let s = 0; s < kr; s++) {
      for (let t = 0; t < kc; t++) {
        const jitter = s + t > 0 ? () => 1 + noise * gauss() : () => 1;
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++) out[(s * rows + i) * wide + t * cols + j] = w[i * cols + j] * f * jitter();
        }
      }
    }
    return out;
  };
  const out = clone(m);
  out.tensors.set(tensorKey(Kind.Embedding), tile(get(m, Kind.Embedding), c.vocabSize, D, 1, k, scale));
  out.tensors.set(tensorKey(Kind.RmsFinal), tile(get(m, Kind.RmsFinal), 1, D, 1, k, scale));
  if (!c.sharedClassifier) out.tensors.set(tensorKey(Kind.Classifier), tile(get(m, Kind.Classifier), c.vocabSize, D, 1, k, 1 / k / scale));
  const plan: Array<[Kind, number, number, number, number, number]> = [
    [Kind.RmsAtt, 1, D, 1, k, 1], [Kind.RmsFfn, 1, D, 1, k, 1],
    [Kind.Wq, D, D, k, k, 1 / k], [Kind.Wk, KV, D, k, k, 1 / k], [Kind.Wv, KV, D, k, k, 1 / k],
    [Kind.Wo, D, D, k, k, scale / k], [Kind.W1, H, D, 1, k, 1 / k], [Kind.W3, H, D, 1, k, 1 / k], [Kind.W2, D, H, k, 1, scale],
  ];
  for (let l = 0; l < c.nLayers; l++) {
    for (const [kind, rows, cols, kr, kc, f] of plan) out.tensors.set(tensorKey(kind, l), tile(get(m, kind, l), rows, cols, kr, kc, f));
  }
  out.config = { ...c, dim: D * k, nHeads: c.nHeads * k, nKvHeads: c.nKvHeads * k };
  return out;
}

// nKv must divide the current KV head count; each new head is the mean of a group of old ones.
export function mergeKvHeads(m: FloatModel, nKv: number): FloatModel {
  const c = m.config, old = c.nKvHeads;
  if (nKv > old || old % nKv !== 0) throw new Error(`cannot merge ${old} KV heads into ${nKv}`);
  const hs = c.dim / c.nHeads, D = c.dim, g = old / nKv;
  const out = clone(m);
  for (let l = 0; l < c.nLayers; l++) {
    for (const k of [Kind.Wk, Kind.Wv]) {
      const w = get(m, k, l), n = new Float32Array(nKv * hs * D);
      for (let h = 0; h < nKv; h++) {
        for (let j = 0; j < g; j++) {
          const src = (h * g + j) * hs * D;
          for (let i = 0; i < hs * D; i++) n[h * hs * D + i] += w[src + i] / g;
        }
      }
      out.tensors.set(tensorKey(k, l), n);
    }
  }
  out.config.nKvHeads = nKv;
  return out;
}

// The `count` heads of one layer whose output projection ‖wo_:,h‖ is smallest, ascending by
// index. wo: f32 [dim][dim] of a model with config c.
export function weakestHeads(wo: Float32Array, c: ModelConfig, count: number): number[] {
  const hs = c.dim / c.nHeads, D = c.dim;
  const score = Array.from({ length: c.nHeads }, (_, h) => {
    let s = 0;
    for (let r = 0; r < D; r++) for (let i = 0; i < hs; i++) s += wo[r * D + h * hs + i] ** 2;
    return s;
  });
  return score.map((s, h) => [s, h]).sort((a, b) => a[0] - b[0]).slice(0, count).map((p) => p[1]).sort((a, b) => a - b);
}

// Zeroes the `count` heads per layer (query rows of wq, output columns of wo) whose output
// projection has the smallest norm. Returns the model and the pruned heads per layer.
export function pruneHeads(m: FloatModel, count: number): { model: FloatModel; pruned: number[][] } {
  const c = m.config, hs = c.dim / c.nHeads, D = c.dim;
  if (count < 0 || count >= c.nHeads) throw new Error(`cannot prune ${count} of ${c.nHeads} heads per layer`);
  const out = clone(m);
  const pruned: number[][] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const wq = out.tensors.get(tensorKey(Kind.Wq, l))!, wo = out.tensors.get(tensorKey(Kind.Wo, l))!;
    const drop = weakestHeads(wo, c, count);
    for (const h of drop) {
      wq.fill(0, h * hs * D, (h + 1) * hs * D);
      for (let r = 0; r < D; r++) wo.fill(0, r * D + h * hs, r * D + (h + 1) * hs);
    }
    pruned.push(drop);
  }
  return { model: out, pruned };
}

// A pre-norm block whose output projections (wo, w2) are zero adds nothing to the residual
// stream: it starts as the identity, and the straight-through gradients of wo and w2 are not
// zero, so it learns from there. Applied to every layer of `layers` that names a teacher layer
// already named before it, so the deeper student starts with the teacher's function.
export function identityRepeats(m: FloatModel, layers: number[]): FloatModel {
  const out = clone(m);
  layers.forEach((from, l) => {
    if (layers.indexOf(from) === l) return;
    get(out, Kind.Wo, l).fill(0);
    get(out, Kind.W2, l).fill(0);
  });
  return out;
}
