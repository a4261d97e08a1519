// The training module's ABI (build/edgellm-train.wasm): flat exports over i32/f32 values and
// pointers, like the inference module. A model id is an index into `models`. The host writes
// parameters and token batches into linear memory and reads logits and gradients from it.
// One step: forward(student) [forward(teacher)] loss [hiddenLoss] zeroGrads backward adamw.
import { adamwUpdate } from "./adamw";
import { lastLoss, lossForwardBackward } from "./loss";
import { TrainModel } from "./model";

const models = new Array<TrainModel>();
let lossScratch: usize = 0;
let lossScratchV: i32 = 0;

export function alloc(bytes: i32): usize { return heap.alloc(<usize>bytes); }
export function simdBuild(): i32 { return ASC_FEATURE_SIMD ? 1 : 0; }

// quant: 0 f32, 1 ternary QAT, 2 int8 QAT, 3 int4 QAT; table (embedding / tied classifier when quant > 0):
// 0 int8, 1 int4, 2 ternary; attn: the attention matrices' quant, 1–3 in a quantized model, else equal to
// quant (model.ts). Returns the model id, or -1 for a bad shape.
export function create(dim: i32, hidden: i32, layers: i32, heads: i32, kvHeads: i32, vocab: i32, batch: i32, seq: i32, quant: i32, table: i32, attn: i32): i32 {
  if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab <= 0 || batch <= 0 || seq <= 0) return -1;
  if (dim % heads != 0 || heads % kvHeads != 0 || (dim / heads) % 2 != 0 || quant < 0 || quant > 3 || table < 0 || table > 2) return -1;
  if (quant == 0 ? attn != 0 : attn < 1 || attn > 3) return -1;
  models.push(new TrainModel(dim, hidden, layers, heads, kvHeads, vocab, batch, seq, quant, table, attn));
  return models.length - 1;
}

export function nParams(id: i32): i32 { return models[id].nParams; }
export function params(id: i32): usize { return models[id].params; }
export function grads(id: i32): usize { return models[id].grads; }
export function logits(id: i32): usize { return models[id].logits; }
export function quantWeights(id: i32): usize { return models[id].wInt; }
export function quantScales(id: i32): usize { return models[id].wScale; }
// Residual stream entering layer l (l = layers: before the final norm), f32 [N][C].
export function hidden(id: i32, l: i32): usize { const m = models[id]; return m.x + (<usize>(l * m.N * m.C) << 2); }

// Quantization ramp (model.ts blend): 0 = latent f32 weights, 1 = quantized (the default).
export function setQuantBlend(id: i32, blend: f32): void { models[id].blend = Mathf.min(1, Mathf.max(0, blend)); }

// tokens: i32 [batch·seq].
export function forward(id: i32, tokens: usize): void { models[id].forward(tokens); }

// kind: 0 cross-entropy, 1 forward KL, 2 reverse KL (loss.ts); teacher -1 for none.
// Writes the student's dlogits and returns the mean loss.
export function loss(id: i32, teacher: i32, targets: usize, kind: i32, temperature: f32, alpha: f32): f32 {
  const m = models[id];
  if (lossScratchV < m.V) { lossScratch = heap.alloc(<usize>(2 * m.V) << 2); lossScratchV = m.V; }
  const zt = teacher >= 0 ? models[teacher].logits : 0;
  if (zt == 0 && kind != 0) return NaN;
  return lossForwardBackward(m.dlogits, m.logits, zt, targets, lossScratch, m.N, m.V, kind, temperature, alpha);
}
export function lossCe(): f64 { return lastLoss.ce; }
export function lossKd(): f64 { return lastLoss.kd; }

// Layer-wise hidden-state loss: weight · mean over N·C of (student layer l output − teacher
// layer map[l] output)², map: i32 [layers], -1 to skip a layer. Sets the gradients the next
// backward adds; returns the loss. weight 0 clears it.
export function hiddenLoss(id: i32, teacher: i32, map: usize, weight: f32): f32 {
  const s = models[id], t = models[teacher];
  const n = s.N * s.C;
  if (s.dHidden == 0) s.dHidden = heap.alloc(<usize>(s.L * n) << 2);
  memory.fill(s.dHidden, 0, <usize>(s.L * n) << 2);
  if (weight == 0 || t.N != s.N || t.C != s.C) return 0;
  let total: f64 = 0;
  for (let l = 0; l < s.L; l++) {
    const tl = load<i32>(map + (<usize>l << 2));
    if (tl < 0 || tl >= t.L) continue;
    const xs = s.x + (<usize>((l + 1) * n) << 2), xt = t.x + (<usize>((tl + 1) * n) << 2), d = s.dHidden + (<usize>(l * n) << 2);
    const g: f32 = <f32>2.0 * weight / <f32>n;
    for (let i = 0; i < n; i++) {
      const diff = load<f32>(xs + (<usize>i << 2)) - load<f32>(xt + (<usize>i << 2));
      total += <f64>(diff * diff);
      store<f32>(d + (<usize>i << 2), g * diff);
    }
  }
  return <f32>(<f64>weight * total / <f64>n);
}

export function zeroGrads(id: i32): void { const m = models[id]; memory.fill(m.grads, 0, <usize>m.nParams << 2); }
export function backward(id: i32, tokens: usize): void { models[id].backward(tokens); }

// Σ g² of f32 [n] at p, in f64; and p[i] *= k: the model's gradients and the adapters' alike.
function normSq(p: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) { const g = <f64>load<f32>(p + (<usize>i << 2)); s += g * g; }
  return s;
}
function scaleBy(p: usize, n: i32, k: f32): void {
  for (let i = 0; i < n; i++) { const a = p + (<usize>i << 2); store<f32>(a, load<f32>(a) * k); }
}
// AdamW over [from, from + count) of a parameter block with its gradients and moments.
@inline function adamwRange(params: usize, grads: usize, m1: usize, m2: usize, from: i32, count: i32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, step: i32): void {
  const o = <usize>from << 2;
  adamwUpdate(params + o, grads + o, m1 + o, m2 + o, count, lr, b1, b2, eps, wd, step);
}

export function gradNormSq(id: i32): f64 { const m = models[id]; return normSq(m.grads, m.nParams); }
export function scaleGrads(id: i32, k: f32): void { const m = models[id]; scaleBy(m.grads, m.nParams, k); }

// AdamW over parameters [from, from + count) (the host gives each tensor its weight decay).
export function adamw(id: i32, from: i32, count: i32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, step: i32): void {
  const m = models[id];
  adamwRange(m.params, m.grads, m.m, m.v, from, count, lr, b1, b2, eps, wd, step);
}

// Adam moments, for checkpoints: f32 [nParams] each.
export function moment1(id: i32): usize { return models[id].m; }
export function moment2(id: i32): usize { return models[id].v; }

// Activations of the last forward, for calibration (edgellm quantize): which 0 = attention
// input xn1 [N][C], 1 = attention output [N][C], 2 = FFN input xn2 [N][C], 3 = FFN hidden
// after SwiGLU [N][H]; layer l.
export function activation(id: i32, which: i32, l: i32): usize {
  const m = models[id];
  if (which == 0) return m.xn1 + (<usize>(l * m.N * m.C) << 2);
  if (which == 1) return m.ao + (<usize>(l * m.N * m.C) << 2);
  if (which == 2) return m.xn2 + (<usize>(l * m.N * m.C) << 2);
  return m.hg + (<usize>(l * m.N * m.H) << 2);
}

// ---- fine-tuning with adapters (model.ts initLora, lora.ts) ----------------------------
// Freezes the base as the host wrote it (params for the norms, quantWeights / quantScales for
// the matrices: the file's codes and row scales) and adds rank-R adapters on the targets of
// mask (bit 0 wq … bit 6 w3), k = (α/R)·s. Returns the adapters' parameter count, -1 if bad.
export function loraInit(id: i32, rank: i32, mask: i32, k: f32): i32 {
  if (rank <= 0 || rank > 1024 || mask <= 0 || mask >= (1 << 7) || !(k == k)) return -1;
  return models[id].initLora(rank, mask, k);
}
export function loraParams(id: i32): usize { return models[id].lora; }
export function loraGrads(id: i32): usize { return models[id].loraGrads; }
export function loraMoment1(id: i32): usize { return models[id].loraM; }
export function loraMoment2(id: i32): usize { return models[id].loraV; }
// Float offset of target t's A in loraParams for layer l (B follows A), -1 when not targeted.
export function loraOffset(id: i32, l: i32, t: i32): i32 { const m = models[id]; return m.loraAt.length == 0 || l < 0 || l >= m.L || t < 0 || t >= 7 ? -1 : m.loraAt[l * 7 + t]; }
export function loraZeroGrads(id: i32): void { const m = models[id]; memory.fill(m.loraGrads, 0, <usize>m.nLora << 2); }
export function loraGradNormSq(id: i32): f64 { const m = models[id]; return normSq(m.loraGrads, m.nLora); }
export function loraScaleGrads(id: i32, k: f32): void { const m = models[id]; scaleBy(m.loraGrads, m.nLora, k); }
// AdamW over adapter parameters [from, from + count) (per-layer learning rates: one call a layer).
export function loraAdamw(id: i32, from: i32, count: i32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, step: i32): void {
  const m = models[id];
  adamwRange(m.lora, m.loraGrads, m.loraM, m.loraV, from, count, lr, b1, b2, eps, wd, step);
}
