// Fine-tuning a LoRA adapter on a frozen base by backpropagation in the training module
// (assembly/train: model.ts initLora, lora.ts). The base runs exactly as its file stores it: the
// matrices' codes and row scales are written into the module and never re-quantized. No I/O:
// the caller reads files, writes the adapter and shows progress; the clock is not needed.
//
//   build(base) → step() × steps (AdamW, η_l = η·decay^(L−1−l), cosine to 10 %) → adapter()
//   evaluate(rows) at any point: loss on the trained positions, and teacher-forced exact match
//   (every label token the argmax: what greedy decoding would print) and intent match.
//
// A federated round calls the same: build from the global adapter (setAdapter), step, adapter.
import type { Adapter } from "../format/adapter.js";
import { AdapterStorage, baseIdentity } from "../format/adapter-spec.js";
import { writeAdapter } from "../format/adapter-writer.js";
import { QTYPES } from "../format/qtypes.js";
import { Kind, tensorShape, type ModelConfig } from "../format/spec.js";
import type { ModelImage } from "../format/writer.js";
import { prng } from "./corpus.js";
import type { Rows } from "./finetune-data.js";
import { instantiateTrain, type TrainExports } from "./module.js";
import { isMatrix, TrainNet } from "./net.js";
import type { Evaluation } from "./teacher-forced.js";
import { cosineLr, RowFeed } from "./row-feed.js";

// Adapter targets in the training module's order (bit t of its mask).
export const LORA_TARGET_KINDS: readonly Kind[] = [Kind.Wq, Kind.Wk, Kind.Wv, Kind.Wo, Kind.W1, Kind.W2, Kind.W3];

// The targets an adapter file carries, in the training module's order.
export const adapterTargets = (ad: Adapter): Kind[] => LORA_TARGET_KINDS.filter((k) => ad.matrices.some((m) => m.kind === k));

// A federated client's optimizer state kept on the client between rounds (it never leaves it).
export interface KeptClient {
  moments: Float32Array;                        // f32 [2][nLora]: AdamW m, then v
  adamSteps: number;                            // AdamW steps taken so far (bias correction)
  schedule: { done: number; total: number };    // the run's cosine: steps before this round, all steps
}

// The trainer's adapter as it stands, as an f32 adapter file: a run's start (fresh: A random,
// B zero; or a --lora start, read as f32 whatever its storage), the global a federated round
// moves, and what MeZO trains (it perturbs f32 only).
export function f32AdapterImage(t: LoraTrainer): Uint8Array {
  return writeAdapter(t.adapter(AdapterStorage.F32));
}

export interface FinetuneOptions {
  rank: number;
  alpha: number;
  targets: readonly Kind[];
  lr: number;
  lrDecay: number;      // per layer below the last: η_l = lr · lrDecay^(L−1−l)
  weightDecay: number;
  batch: number;
  steps: number;
  seed: number;
}

export type { Evaluation } from "./teacher-forced.js";

export class FinetuneError extends Error {}

export class LoraTrainer {
  readonly x: TrainExports;
  readonly net: TrainNet;
  readonly nLora: number;
  private readonly feed: RowFeed;
  private readonly layerSpans: [number, number][]; // [from, count] of each layer's adapter parameters
  stepsDone = 0;
  private scheduleSteps: number; // the cosine runs over these (o.steps; a federated client's local steps)
  private scheduleDone = 0;      // steps of the cosine already behind this run (a kept federated client)
  private adamSteps = 0;         // AdamW's bias-correction count before this run (a kept federated client)
  private prox: { mu: number; anchor: Float32Array } | null = null; // FedProx: μ/2·‖θ − θ_global‖² in the loss

  constructor(readonly base: ModelImage, readonly baseChecksum: number, readonly T: number, readonly o: FinetuneOptions) {
    const c = base.config;
    if (!c.sharedClassifier) throw new FinetuneError("fine-tuning needs a base whose classifier is tied to its embedding");
    this.scheduleSteps = o.steps;
    this.x = instantiateTrain();
    const quantized = base.tensors.some((t) => t.rows > 1 && QTYPES[t.qtype].scales !== "none");
    // Frozen, the net's quantization only decides whether activations are int8 (as inference runs a quantized base).
    this.net = new TrainNet(this.x, c, o.batch, T, quantized ? "ternary" : "f32", "int8", quantized ? "ternary" : "f32");
    this.loadFrozen(base);
    const mask = o.targets.reduce((m, k) => m | (1 << LORA_TARGET_KINDS.indexOf(k)), 0);
    this.nLora = this.x.loraInit(this.net.id, o.rank, mask, o.alpha / o.rank);
    if (this.nLora < 0) throw new FinetuneError(`the training module refused rank ${o.rank} on ${o.targets.length} targets`);
    this.initA(c, prng(o.seed));
    this.feed = new RowFeed(this.x, o.batch, T, o.seed + 1); // batch order: its own stream, so a resumed run can replay it
    this.layerSpans = [];
    for (let l = 0; l < c.nLayers; l++) {
      const from = this.firstOffset(l), to = l + 1 < c.nLayers ? this.firstOffset(l + 1) : this.nLora;
      this.layerSpans.push([from, to - from]);
    }
  }

  get lora(): Float32Array { return new Float32Array(this.x.memory.buffer, this.x.loraParams(this.net.id), this.nLora); }

  // One AdamW step on a random batch of rows; returns the batch's loss (mean over trained positions).
  step(rows: Rows): number {
    const o = this.o;
    this.feed.fillRandom(rows);
    const id = this.net.id;
    this.x.forward(id, this.feed.tokensPtr);
    const loss = this.x.loss(id, -1, this.feed.targetsPtr, 0, 1, 0);
    this.x.loraZeroGrads(id);
    this.x.backward(id, this.feed.tokensPtr);
    if (this.prox) { // ∇ of μ/2·‖θ − θ_global‖²: keeps a client's local run near the global (Li et al. 2020)
      const g = new Float32Array(this.x.memory.buffer, this.x.loraGrads(id), this.nLora), p = this.lora, { mu, anchor } = this.prox;
      for (let i = 0; i < g.length; i++) g[i] += mu * (p[i] - anchor[i]);
    }
    this.stepsDone++;
    const lr = cosineLr(o.lr, this.scheduleDone + this.stepsDone, this.scheduleSteps);
    const L = this.base.config.nLayers;
    this.layerSpans.forEach(([from, count], l) => {
      if (count > 0) this.x.loraAdamw(id, from, count, lr * o.lrDecay ** (L - 1 - l), 0.9, 0.999, 1e-8, o.weightDecay, this.adamSteps + this.stepsDone);
    });
    return loss;
  }

  evaluate(rows: Rows): Evaluation { return this.feed.evaluate(this.net, rows); }

  // Everything a resumed run needs beyond the options: adapter parameters and Adam moments,
  // f32 [3][nLora]; with stepsDone, the batch order and the schedule follow.
  state(): Float32Array {
    const id = this.net.id, n = this.nLora, buf = this.x.memory.buffer;
    const out = new Float32Array(3 * n);
    out.set(new Float32Array(buf, this.x.loraParams(id), n), 0);
    out.set(new Float32Array(buf, this.x.loraMoment1(id), n), n);
    out.set(new Float32Array(buf, this.x.loraMoment2(id), n), 2 * n);
    return out;
  }

  restore(state: Float32Array, step: number): void {
    const id = this.net.id, n = this.nLora, buf = this.x.memory.buffer;
    if (state.length !== 3 * n) throw new FinetuneError(`the checkpoint holds ${state.length / 3} adapter parameters, this run has ${n}`);
    new Float32Array(buf, this.x.loraParams(id), n).set(state.subarray(0, n));
    new Float32Array(buf, this.x.loraMoment1(id), n).set(state.subarray(n, 2 * n));
    new Float32Array(buf, this.x.loraMoment2(id), n).set(state.subarray(2 * n));
    this.feed.reseed(this.o.seed + 1, step); // the batches already drawn
    this.stepsDone = step;
  }

  // A federated client's local run: from the global parameters (f32 [nLora], the lora layout),
  // its own batch order, and either fresh AdamW moments and the cosine over its `steps` local
  // steps, or — a client that keeps its optimizer between rounds — its own moments and AdamW
  // count back (`kept`) and the rate at its place on one cosine over the whole run. proxMu > 0
  // adds FedProx's proximal term μ/2·‖θ − params‖² to the local loss.
  beginLocal(params: Float32Array, seed: number, steps: number, kept?: KeptClient, proxMu = 0): void {
    const id = this.net.id, n = this.nLora, buf = this.x.memory.buffer;
    if (params.length !== n) throw new FinetuneError(`the global adapter has ${params.length} parameters, this trainer ${n}`);
    if (kept && kept.moments.length !== 2 * n) throw new FinetuneError(`the client's optimizer state holds ${kept.moments.length / 2} parameters, this trainer ${n}`);
    new Float32Array(buf, this.x.loraParams(id), n).set(params);
    new Float32Array(buf, this.x.loraMoment1(id), n).set(kept ? kept.moments.subarray(0, n) : new Float32Array(n));
    new Float32Array(buf, this.x.loraMoment2(id), n).set(kept ? kept.moments.subarray(n) : new Float32Array(n));
    this.feed.reseed(seed);
    this.stepsDone = 0;
    this.adamSteps = kept?.adamSteps ?? 0;
    this.scheduleDone = kept?.schedule.done ?? 0;
    this.scheduleSteps = kept?.schedule.total ?? steps;
    this.prox = proxMu > 0 ? { mu: proxMu, anchor: params.slice() } : null;
  }

  // What a kept client stores after its local run: AdamW moments f32 [2][nLora] and count.
  keptState(schedule: KeptClient["schedule"]): KeptClient {
    const id = this.net.id, n = this.nLora, buf = this.x.memory.buffer;
    const moments = new Float32Array(2 * n);
    moments.set(new Float32Array(buf, this.x.loraMoment1(id), n), 0);
    moments.set(new Float32Array(buf, this.x.loraMoment2(id), n), n);
    return { moments, adamSteps: this.adamSteps + this.stepsDone, schedule };
  }

  // The trained adapter, for the file writer.
  adapter(storage: AdapterStorage): Adapter {
    const c = this.base.config, R = this.o.rank, p = this.lora;
    const matrices: Adapter["matrices"] = [];
    for (let l = 0; l < c.nLayers; l++) {
      LORA_TARGET_KINDS.forEach((kind, t) => {
        const a = this.x.loraOffset(this.net.id, l, t);
        if (a < 0) return;
        const [out, in_] = tensorShape(c, kind);
        matrices.push({ kind, layer: l, storage, out, in: in_, a: p.slice(a, a + R * in_), b: p.slice(a + R * in_, a + R * in_ + out * R) });
      });
    }
    return { base: baseIdentity(c, this.baseChecksum), rank: R, alpha: this.o.alpha, matrices };
  }

  // Starts from an existing adapter of the same rank and targets (resume, a federated round).
  setAdapter(ad: Adapter): void {
    const p = this.lora, R = this.o.rank;
    if (ad.rank !== R) throw new FinetuneError(`the adapter has rank ${ad.rank}, not ${R}`);
    for (const m of ad.matrices) {
      const a = this.x.loraOffset(this.net.id, m.layer, LORA_TARGET_KINDS.indexOf(m.kind));
      if (a < 0) throw new FinetuneError(`the adapter targets ${Kind[m.kind]} of layer ${m.layer}, which this run does not train`);
      p.set(m.a, a);
      p.set(m.b, a + R * m.in);
    }
  }

  // Norm vectors into params, every matrix's codes and row scales into the quantized buffers.
  private loadFrozen(base: ModelImage): void {
    const x = this.x, id = this.net.id, n = this.net.n;
    const params = this.net.params;
    const wInt = new Float32Array(x.memory.buffer, x.quantWeights(id), n), wScale = new Float32Array(x.memory.buffer, x.quantScales(id), n);
    for (const span of this.net.layout) {
      const t = base.tensors.find((r) => r.kind === span.kind && r.layer === span.layer);
      if (!t) throw new FinetuneError(`the base has no tensor ${Kind[span.kind]} of layer ${span.layer}`);
      const traits = QTYPES[t.qtype];
      const u = traits.unpack(t.data, t.rows, t.cols, t.group);
      if (!u) throw new FinetuneError(`${Kind[span.kind]} of layer ${span.layer} is ${traits.name} with groups narrower than a row: convert the base with per-row scales first`);
      const w = traits.dequantize(t.data, t.rows, t.cols, t.group);
      params.set(w, span.offset);
      if (isMatrix(span.kind)) {
        wInt.set(u.ints, span.offset);
        wScale.set(u.scales, span.offset);
      } else {
        wInt.set(w, span.offset);
      }
    }
  }

  // A Kaiming-uniform (bound 1/√in), B zero: the adapter starts as the base's function.
  private initA(c: ModelConfig, random: () => number): void {
    const p = this.lora, R = this.o.rank;
    for (let l = 0; l < c.nLayers; l++) {
      LORA_TARGET_KINDS.forEach((kind, t) => {
        const a = this.x.loraOffset(this.net.id, l, t);
        if (a < 0) return;
        const in_ = tensorShape(c, kind)[1], bound = 1 / Math.sqrt(in_);
        for (let i = 0; i < R * in_; i++) p[a + i] = (2 * random() - 1) * bound;
      });
    }
  }

  private firstOffset(l: number): number {
    for (let t = 0; t < LORA_TARGET_KINDS.length; t++) {
      const a = this.x.loraOffset(this.net.id, l, t);
      if (a >= 0) return a;
    }
    return this.nLora;
  }
}
