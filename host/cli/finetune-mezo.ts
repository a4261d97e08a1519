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
import { f32AdapterImage, LoraTrainer } from "../train/finetune.js";
import { CheckpointError, loadFinetune, type FinetuneMeta } from "../train/finetune-checkpoint.js";
import { trainingLoop } from "./finetune-loop.js";
import { MezoError, MezoTrainer } from "../train/mezo.js";
import { UsageError } from "./errors.js";
import { writeOutput } from "./output.js";

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
  return f32AdapterImage(t);
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
  const finished = await trainingLoop({
    label: `edgellm finetune --method mezo: ${r.output}`, steps: r.steps, first, evalEvery: r.evalEvery, json: r.json, checkpointDir: r.checkpointDir, curve: r.curve, run, history, smoothing: 0.05,
    step: () => { const st = trainer.step(); return (st.lossPlus + st.lossMinus) / 2; },
    hasVal: !!val, evaluate: () => (val ? trainer.evaluate(val) : undefined),
    state: () => { const img = trainer.adapterBytes(); return new Float32Array(img.buffer, img.byteOffset, img.byteLength / 4); },
  }, log);
  if (!finished) return;
  let bytes = trainer.adapterBytes();
  if (r.storage === "f16") {
    const ad = readAdapter(bytes, r.output);
    bytes = writeAdapter({ ...ad, matrices: ad.matrices.map((m) => ({ ...m, storage: AdapterStorage.F16 })) });
  }
  writeOutput(r.output, bytes, "output");
  log(`wrote ${r.output} (${bytes.length} bytes, ${r.storage}), curve ${r.curve}`);
}
