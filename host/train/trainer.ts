// The training loop: batches from the token stream, gradients in-process or from
// data-parallel workers, global-norm clipping, warmup + cosine learning rate, AdamW, logs,
// and resumable checkpoints.
import { setImmediate as yieldToEvents } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { CodedError } from "../coded-error.js";
import type { FloatModel } from "../format/float-model.js";
import { Kind, type ModelConfig } from "../format/spec.js";
import { type StudentConfig, widthFactor } from "./config.js";
import { batchAt } from "./corpus.js";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import type { LogEntry } from "./log-entry.js";
import { instantiateTrain } from "./module.js";
import { isMatrix, TrainNet } from "./net.js";
import { GradComputer, type StepParts } from "./step.js";
import { Pruner } from "./sparsify.js";
import { growFfn, growWidth, identityRepeats, mergeKvHeads, pruneFfn, selectLayers } from "../compress/surgery.js";
import type { WorkerInit, WorkerStep } from "./worker.js";


export interface TrainOptions {
  cfg: StudentConfig;
  shape: ModelConfig;           // the student's model config
  teacher: FloatModel;
  stream: Int32Array;           // packed training tokens
  checkpointDir?: string;       // where to write checkpoints (and resume from)
  resume?: boolean;
  signal?: AbortSignal;         // stops the run after the step in progress, with a checkpoint
  onStep?: (step: number, e: StepParts) => void;
  onLog?: (e: LogEntry) => void;
}

export interface TrainResult { net: TrainNet; history: LogEntry[]; tokensPerSecond: number; seconds: number }

// A run stopped through TrainOptions.signal; `step` steps are done and, when the run has a
// checkpoint directory, saved there.
export class TrainingInterrupted extends CodedError<"E_INTERRUPTED"> {
  constructor(readonly step: number, readonly checkpointDir: string | undefined) {
    super("E_INTERRUPTED", `interrupted after step ${step}` + (checkpointDir ? `; checkpoint saved in ${checkpointDir}, continue with --resume` : ""));
  }
}

// Quantization ramp: the quantized share of the weights, rising linearly from 0 at step 0 to
// 1 at step quantRamp (0 = quantized from the start).
export function quantBlend(cfg: StudentConfig, step: number): number {
  return cfg.quantRamp > 0 ? Math.min(1, step / cfg.quantRamp) : 1;
}

export function learningRate(cfg: StudentConfig, step: number): number {
  if (step < cfg.warmup) return cfg.lr * (step + 1) / cfg.warmup;
  const p = (step - cfg.warmup) / Math.max(1, cfg.steps - cfg.warmup);
  return cfg.minLr + 0.5 * (cfg.lr - cfg.minLr) * (1 + Math.cos(Math.PI * Math.min(1, p)));
}

// Student weights before training: copied teacher layers, or a small random init.
export function initStudent(net: TrainNet, cfg: StudentConfig, teacher: FloatModel): void {
  const p = net.params;
  let a = cfg.seed >>> 0;
  const rand = () => { a = (Math.imul(a, 1664525) + 1013904223) >>> 0; return a / 2 ** 32; };
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  if (cfg.init === "teacher") {
    let m = selectLayers(teacher, cfg.initLayers);
    const k = widthFactor(cfg, teacher.config);
    if (k > 1) m = growWidth(m, k, gauss);
    if (cfg.hiddenDim < m.config.hiddenDim) m = pruneFfn(m, cfg.hiddenDim);
    if (cfg.hiddenDim > m.config.hiddenDim) m = growFfn(m, cfg.hiddenDim, gauss);
    if (cfg.nKvHeads < m.config.nKvHeads) m = mergeKvHeads(m, cfg.nKvHeads);
    if (cfg.repeatedLayers === "identity") m = identityRepeats(m, cfg.initLayers);
    net.load(m);
    return;
  }
  for (const s of net.layout) {
    const std = s.kind === Kind.Wo || s.kind === Kind.W2 ? 0.02 / Math.sqrt(2 * cfg.nLayers) : 0.02;
    for (let i = 0; i < s.rows * s.cols; i++) p[s.offset + i] = isMatrix(s.kind) ? std * gauss() : 1;
  }
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const { cfg, shape } = o;
  const x = instantiateTrain();
  const workers = cfg.workers;
  const local = workers === 1 ? new GradComputer(x, shape, o.teacher, cfg, cfg.batch) : null;
  const net = local ? local.student : new TrainNet(x, shape, 1, cfg.seqLen, cfg.quant, cfg.embedding, cfg.attentionQuant);
  initStudent(net, cfg, o.teacher);
  let start = 0;
  const history: LogEntry[] = [];
  if (o.resume && o.checkpointDir) {
    const ck = loadCheckpoint(o.checkpointDir, net);
    if (ck) { start = ck.step; history.push(...ck.history); }
  }
  const pruner = new Pruner(net, cfg);
  if (pruner.active) pruner.apply(start);
  const pool = workers > 1 ? startWorkers(workers, { shape, teacher: cfg.loss === "ce" ? null : o.teacher, cfg, batch: cfg.batch / workers }) : [];
  const B = cfg.batch, T = cfg.seqLen;
  const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
  const t0 = performance.now();
  let tokens = 0, windowStart = performance.now(), windowTokens = 0;
  let acc = { loss: 0, ce: 0, kd: 0, hidden: 0, n: 0 };
  try {
    for (let step = start; step < cfg.steps; step++) {
      if (o.signal) {
        // In-process steps never await: let a signal handler run between them.
        await yieldToEvents();
        if (o.signal.aborted) {
          // The directory holds step `step` unless no step was ever done: saved now, or loaded.
          if (o.checkpointDir && step > start) saveCheckpoint(o.checkpointDir, net, step, history);
          throw new TrainingInterrupted(step, step > 0 ? o.checkpointDir : undefined);
        }
      }
      batchAt(o.stream, B, T, cfg.seed, step, inputs, targets);
      const blend = quantBlend(cfg, step);
      const parts = local ? local.compute(inputs, targets, blend) : await parallelGrads(pool, net, inputs, targets, B / workers * T, blend);
      const norm = Math.sqrt(x.gradNormSq(net.id));
      if (cfg.gradClip > 0 && norm > cfg.gradClip) x.scaleGrads(net.id, cfg.gradClip / norm);
      const lr = learningRate(cfg, step);
      for (const s of net.layout) {
        const wd = isMatrix(s.kind) && s.kind !== Kind.Embedding ? cfg.weightDecay : 0;
        x.adamw(net.id, s.offset, s.rows * s.cols, lr, 0.9, 0.95, 1e-8, wd, step + 1);
      }
      if (pruner.active) pruner.apply(step + 1);
      tokens += B * T; windowTokens += B * T;
      acc = { loss: acc.loss + parts.loss, ce: acc.ce + parts.ce, kd: acc.kd + parts.kd, hidden: acc.hidden + parts.hidden, n: acc.n + 1 };
      o.onStep?.(step + 1, parts);
      const last = step + 1 === cfg.steps;
      if ((step + 1) % cfg.logEvery === 0 || last) {
        const now = performance.now();
        const e: LogEntry = {
          step: step + 1, loss: acc.loss / acc.n, ce: acc.ce / acc.n, kd: acc.kd / acc.n, hidden: acc.hidden / acc.n, lr,
          tokensPerSecond: windowTokens / ((now - windowStart) / 1000),
        };
        history.push(e);
        o.onLog?.(e);
        acc = { loss: 0, ce: 0, kd: 0, hidden: 0, n: 0 };
        windowStart = now; windowTokens = 0;
      }
      if (o.checkpointDir && ((step + 1) % cfg.checkpointEvery === 0 || last)) saveCheckpoint(o.checkpointDir, net, step + 1, history);
    }
  } finally {
    for (const w of pool) await w.terminate();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { net, history, tokensPerSecond: tokens / Math.max(seconds, 1e-9), seconds };
}

function startWorkers(n: number, init: WorkerInit): Worker[] {
  const url = new URL("./worker.js", import.meta.url);
  return Array.from({ length: n }, () => new Worker(url, { workerData: init }));
}

// Each worker takes an equal shard of the batch; the mean of their mean-loss gradients is the
// gradient of the whole batch.
async function parallelGrads(pool: Worker[], net: TrainNet, inputs: Int32Array, targets: Int32Array, shard: number, blend: number): Promise<StepParts> {
  const params = net.params.slice();
  const results = await Promise.all(pool.map((w, i) => new Promise<{ parts: StepParts; grads: Float32Array }>((resolve, reject) => {
    const onError = (e: Error) => { w.off("message", onMessage); reject(e); };
    const onMessage = (m: { parts: StepParts; grads: Float32Array }) => { w.off("error", onError); resolve(m); };
    w.once("message", onMessage);
    w.once("error", onError);
    const msg: WorkerStep = { params, inputs: inputs.slice(i * shard, (i + 1) * shard), targets: targets.slice(i * shard, (i + 1) * shard), blend };
    w.postMessage(msg);
  })));
  const g = net.grads;
  g.fill(0);
  const k = 1 / pool.length;
  const sum: StepParts = { loss: 0, ce: 0, kd: 0, hidden: 0 };
  for (const r of results) {
    for (let i = 0; i < g.length; i++) g[i] += r.grads[i] * k;
    sum.loss += r.parts.loss * k; sum.ce += r.parts.ce * k; sum.kd += r.parts.kd * k; sum.hidden += r.parts.hidden * k;
  }
  return sum;
}
