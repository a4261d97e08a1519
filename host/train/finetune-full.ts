// Full fine-tuning: every weight of the base trained (`finetune --full`), quantization-aware in
// the base's own types, so the model written runs as it was trained and has the base's layout
// (a ternary t5 base gives a ternary t5 model). No I/O.
//
//   build(base) → step() × steps (AdamW, η_l = η·decay^(L−1−l), cosine to 10 %) → image()
//
// The latent f32 weights start where re-quantizing them gives the base's codes and scales
// again: int8 / int4 rows are the dequantized weights (absmax returns the scale); a ternary row
// is code · s · cols / nnz, whose mean |w| is s, the scale, and whose codes stay −1, 0, +1. So
// step 0 is the base exactly, as LoRA's B = 0 is.
import { QTYPES } from "../format/qtypes.js";
import { Kind, QType } from "../format/spec.js";
import type { ModelImage } from "../format/writer.js";
import type { TernaryFormat } from "../format/convert.js";
import type { Rows } from "./finetune-data.js";
import { FinetuneError } from "./finetune.js";
import { instantiateTrain, type TrainExports } from "./module.js";
import { isMatrix, TrainNet, type TableQuant, type TrainQuant } from "./net.js";
import { cosineLr, RowFeed } from "./row-feed.js";
import type { Evaluation } from "./teacher-forced.js";

export interface FullOptions { lr: number; lrDecay: number; weightDecay: number; batch: number; steps: number; seed: number }

const TRAIN_QUANT: Partial<Record<QType, TrainQuant>> = { [QType.F32]: "f32", [QType.Q8]: "int8", [QType.Q4]: "q4", [QType.T2]: "ternary", [QType.T5]: "ternary" };
const TABLE_QUANT: Partial<Record<QType, TableQuant>> = { [QType.Q8]: "int8", [QType.Q4]: "q4", [QType.T2]: "ternary", [QType.T5]: "ternary" };

export class FullTrainer {
  readonly x: TrainExports;
  readonly net: TrainNet;
  private readonly feed: RowFeed;
  private readonly ternaryFormat: TernaryFormat;
  stepsDone = 0;

  constructor(readonly base: ModelImage, readonly T: number, readonly o: FullOptions) {
    const c = base.config;
    if (!c.sharedClassifier) throw new FinetuneError("fine-tuning needs a base whose classifier is tied to its embedding");
    const typeOf = (kind: Kind) => base.tensors.find((t) => t.kind === kind)!.qtype;
    const quant = TRAIN_QUANT[typeOf(Kind.W1)], attention = TRAIN_QUANT[typeOf(Kind.Wq)], table = TABLE_QUANT[typeOf(Kind.Embedding)];
    const mixedLayers = base.tensors.some((t) => isMatrix(t.kind) && t.kind !== Kind.Embedding && t.qtype !== typeOf([Kind.Wq, Kind.Wk, Kind.Wv, Kind.Wo].includes(t.kind) ? Kind.Wq : Kind.W1));
    if (!quant || !attention || mixedLayers) throw new FinetuneError("full fine-tuning needs the layer matrices in one type per block (attention, FFN)");
    if (quant !== "f32" && !table) throw new FinetuneError(`full fine-tuning cannot train a ${QTYPES[typeOf(Kind.Embedding)].name} embedding of a quantized base`);
    if (base.tensors.some((t) => QTYPES[t.qtype].scales === "group" && t.group !== 0 && t.group !== t.cols)) throw new FinetuneError("full fine-tuning needs per-row scales (convert the base with --group 0)");
    this.ternaryFormat = [typeOf(Kind.W1), typeOf(Kind.Wq), typeOf(Kind.Embedding)].includes(QType.T5) ? "t5" : "t2";
    this.x = instantiateTrain();
    this.net = new TrainNet(this.x, c, o.batch, T, quant, quant === "f32" ? "int8" : table!, attention);
    this.initLatent(base);
    this.feed = new RowFeed(this.x, o.batch, T, o.seed + 1);
  }

  get parameters(): number { return this.net.n; }

  step(rows: Rows): number {
    const o = this.o, id = this.net.id, x = this.x;
    this.feed.fillRandom(rows);
    x.forward(id, this.feed.tokensPtr);
    const loss = x.loss(id, -1, this.feed.targetsPtr, 0, 1, 0);
    x.zeroGrads(id);
    x.backward(id, this.feed.tokensPtr);
    this.stepsDone++;
    const lr = cosineLr(o.lr, this.stepsDone, o.steps), L = this.base.config.nLayers;
    for (const s of this.net.layout) {
      // Layer tensors by depth; the embedding and the final norm train at the last layer's rate.
      const depth = s.kind === Kind.Embedding || s.kind === Kind.RmsFinal ? L - 1 : s.layer;
      const wd = isMatrix(s.kind) && s.kind !== Kind.Embedding ? o.weightDecay : 0;
      x.adamw(id, s.offset, s.rows * s.cols, lr * o.lrDecay ** (L - 1 - depth), 0.9, 0.999, 1e-8, wd, this.stepsDone);
    }
    return loss;
  }

  evaluate(rows: Rows): Evaluation { return this.feed.evaluate(this.net, rows); }

  // Parameters and Adam moments, f32 [3][n], for a checkpoint.
  state(): Float32Array {
    const n = this.net.n, out = new Float32Array(3 * n);
    out.set(this.net.params, 0); out.set(this.net.moment1, n); out.set(this.net.moment2, 2 * n);
    return out;
  }

  restore(state: Float32Array, step: number): void {
    const n = this.net.n;
    if (state.length !== 3 * n) throw new FinetuneError(`the checkpoint holds ${state.length / 3} parameters, this model has ${n}`);
    this.net.params.set(state.subarray(0, n)); this.net.moment1.set(state.subarray(n, 2 * n)); this.net.moment2.set(state.subarray(2 * n));
    this.feed.reseed(this.o.seed + 1, step);
    this.stepsDone = step;
  }

  // The trained model in the base's types, exactly as the last forward ran it.
  image(): ModelImage { return this.net.toImage(this.base.tokenizer, this.ternaryFormat); }

  private initLatent(base: ModelImage): void {
    const p = this.net.params;
    for (const span of this.net.layout) {
      const t = base.tensors.find((r) => r.kind === span.kind && r.layer === span.layer);
      if (!t) throw new FinetuneError(`the base has no tensor of kind ${span.kind} in layer ${span.layer}`);
      const traits = QTYPES[t.qtype];
      const w = traits.dequantize(t.data, t.rows, t.cols, t.group);
      if (traits.ternary && isMatrix(span.kind)) spreadTernary(w, t.rows, t.cols);
      p.set(w, span.offset);
    }
  }
}

// code·s → code·s·cols/nnz per row, so that mean|w| = s (docs: the header).
function spreadTernary(w: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let nnz = 0;
    for (let c = 0; c < cols; c++) if (w[r * cols + c] !== 0) nnz++;
    if (nnz === 0) continue;
    const k = cols / nnz;
    for (let c = 0; c < cols; c++) w[r * cols + c] *= k;
  }
}

