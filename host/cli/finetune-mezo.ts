// edgellm finetune --method mezo: forward-only fine-tuning of an f32 adapter inside the
// inference module (host/train/mezo.ts), the calls `edgellm-fw finetune` makes under wasm3.
// Starts from --lora FILE, or from a fresh adapter (A random, B zero) of --rank on --targets.
import type { Example, ExampleFile } from "../commands/examples.js";
import { Engine } from "../engine/engine.js";
import { readAdapter } from "../format/adapter-reader.js";
import { AdapterStorage } from "../format/adapter-spec.js";
import { writeAdapter } from "../format/adapter-writer.js";
import type { ModelImage } from "../format/writer.js";
import type { Kind } from "../format/spec.js";
import { curveSvg } from "../train/curve.js";
import { LoraTrainer } from "../train/finetune.js";
import { CheckpointError, finetuneSeries, loadFinetune, saveFinetune, type FinetuneMeta } from "../train/finetune-checkpoint.js";
import { MezoError, MezoTrainer } from "../train/mezo.js";
import { UsageError } from "./errors.js";
import { writeOutput } from "./output.js";
import { startProgress } from "./progress.js";
import { stopOnSignal } from "./run-control.js";
import { setImmediate as yieldToEvents } from "node:timers/promises";

export interface MezoRun {
  basePath: string;
  base: { bytes: Uint8Array; image: ModelImage };
  checksum: number;
  train: ExampleFile;
  val?: ExampleFile;
  start?: { path: string; bytes: Uint8Array };   // --lora: the adapter to train on
  output: string;
  curve: string;
  checkpointDir: string;
  resume: boolean;
  json: boolean;
  storage: "f32" | "f16";
  rank: number; alpha: number; targets: Kind[];
  steps: number; evalEvery: number; lr: number; eps: number; batch: number; seed: number; ctx: number; kvInt8: boolean;
}

const labelled = (f: ExampleFile, what: string): Example[] => {
  if (f.kind !== "labelled") throw new UsageError(`--method mezo trains on SENTENCE<TAB>LABEL lines; the ${what} is plain text`);
  return f.examples;
};

// An adapter at its start: B zero, so the run begins as the base (LoraTrainer's initialization).
function freshAdapter(r: MezoRun): Uint8Array {
  const t = new LoraTrainer(r.base.image, r.checksum, 8, { rank: r.rank, alpha: r.alpha, targets: r.targets, lr: 0, lrDecay: 1, weightDecay: 0, batch: 1, steps: 1, seed: r.seed });
  return writeAdapter(t.adapter(AdapterStorage.F32));
}

export async function runMezo(r: MezoRun): Promise<void> {
  const train = labelled(r.train, "data file"), val = r.val && labelled(r.val, "validation file");
  const log = (s: string) => process.stdout.write(s + "\n");
  const run = { method: "mezo", base: r.checksum, data: train.length, start: r.start?.path ?? null, rank: r.rank, alpha: r.alpha, targets: r.targets, lr: r.lr, eps: r.eps, batch: r.batch, steps: r.steps, seed: r.seed, ctx: r.ctx, kvInt8: r.kvInt8 };
  let history: FinetuneMeta["history"] = [];
  let first = 1;
  let image: Uint8Array;
  try {
    const ck = r.resume ? loadFinetune(r.checkpointDir, run, { finite: false }) : undefined;
    if (r.resume) log(ck ? `finetune: resuming from step ${ck.meta.step} of ${r.steps} (${r.checkpointDir})` : `finetune: no checkpoint in ${r.checkpointDir} yet; starting at step 0`);
    if (ck) {
      image = new Uint8Array(ck.state.buffer, ck.state.byteOffset, ck.state.byteLength);
      readAdapter(image, `checkpoint ${r.checkpointDir}`); // damaged → a FormatError naming it
      history = ck.meta.history; first = ck.meta.step + 1;
    } else {
      image = r.start ? r.start.bytes : freshAdapter(r);
    }
  } catch (e) {
    if (e instanceof CheckpointError) throw new UsageError(e.message);
    throw e;
  }
  const engine = Engine.load(r.base.bytes, undefined, { engine: "simd", ctx: r.ctx, kvInt8: r.kvInt8 });
  engine.loadAdapter(image, 1);
  let trainer: MezoTrainer;
  try {
    trainer = new MezoTrainer(engine, image.length, train, { eps: r.eps, lr: r.lr, batch: r.batch, seed: BigInt(r.seed) });
  } catch (e) {
    if (e instanceof MezoError) throw new UsageError(`${r.start?.path ?? r.basePath}: ${e.message}`);
    throw e;
  }
  trainer.resumeAt(first - 1);
  log(`finetune: MeZO (forward only) on ${train.length} labelled examples, ${trainer.parameters} adapter parameters, ${r.steps} steps × ${r.batch}, ε ${r.eps}, lr ${r.lr}`);
  const lines = r.json || !process.stderr.isTTY;
  let exact = "-";
  const report = (step: number, loss: number) => {
    const v = val ? trainer.evaluate(val) : undefined;
    if (v) exact = `${(100 * v.exact).toFixed(1)} %`;
    history.push({ step, loss, ...(v ? { valLoss: v.loss, valExact: v.exact, valIntent: v.intent } : {}) });
    if (step > 0) {
      const img = trainer.adapterBytes();
      saveFinetune(r.checkpointDir, { version: 1, step, run, history }, new Float32Array(img.buffer, img.byteOffset, img.byteLength / 4));
    }
    if (!lines && step < r.steps) return;
    if (r.json) log(JSON.stringify({ step, loss, ...(v ? { valLoss: v.loss, valExact: v.exact, valIntent: v.intent } : {}) }));
    else log(`step ${step}/${r.steps} loss ${loss.toFixed(4)}${v ? ` val loss ${v.loss.toFixed(4)} exact ${(100 * v.exact).toFixed(1)} % intent ${(100 * v.intent).toFixed(1)} %` : ""}`);
  };
  if (val && first === 1) report(0, NaN);
  const bar = startProgress("finetune (mezo)", r.steps - first + 1, " loss {loss} val exact {exact}");
  const stop = stopOnSignal(() => log("finetune: stopping after the step in progress (Ctrl-C again to quit at once)"));
  let recent = history.length ? history[history.length - 1].loss : 0;
  try {
    for (let s = first; s <= r.steps; s++) {
      const st = trainer.step();
      const loss = (st.lossPlus + st.lossMinus) / 2;
      recent = s === 1 ? loss : 0.95 * recent + 0.05 * loss;
      if (stop.signal.aborted) {
        bar.stop();
        report(s, recent);
        log(`finetune: interrupted after step ${s}; checkpoint saved in ${r.checkpointDir}, continue with --resume`);
        process.exitCode = 130;
        return;
      }
      if (s % r.evalEvery === 0 && s < r.steps) report(s, recent);
      bar.update(s - first + 1, { loss: recent.toFixed(3), exact });
      if (s % 20 === 0) await yieldToEvents();
    }
  } finally {
    bar.stop();
    stop.dispose();
  }
  if (first <= r.steps) report(r.steps, recent);
  writeOutput(r.curve, curveSvg(`edgellm finetune --method mezo: ${r.output}`, finetuneSeries(history)), "curve");
  let bytes = trainer.adapterBytes();
  if (r.storage === "f16") {
    const ad = readAdapter(bytes, r.output);
    bytes = writeAdapter({ ...ad, matrices: ad.matrices.map((m) => ({ ...m, storage: AdapterStorage.F16 })) });
  }
  writeOutput(r.output, bytes, "output");
  log(`wrote ${r.output} (${bytes.length} bytes, ${r.storage}), curve ${r.curve}`);
}
