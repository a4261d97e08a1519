// edgellm finetune: a LoRA adapter trained by backpropagation through a frozen base, exactly as
// the base's file stores it (host/train/finetune.ts), on SENTENCE<TAB>LABEL lines (loss on the
// label only) or plain text (every token); with --full every weight, written as a model in the
// base's types (host/train/finetune-full.ts); with --method mezo forward only (finetune-mezo.ts).
import { Command } from "commander";
import { readExampleFile } from "./example-file.js";
import { Engine } from "../engine/engine.js";
import { writeAdapter } from "../format/adapter-writer.js";
import { AdapterStorage, MAX_RANK } from "../format/adapter-spec.js";
import { CHECKSUM_OFFSET, Kind, KIND_NAMES } from "../format/spec.js";
import { tokenizeRows, type Rows } from "../train/finetune-data.js";
import { FinetuneError, LORA_TARGET_KINDS, LoraTrainer, type Evaluation } from "../train/finetune.js";
import { FullTrainer } from "../train/finetune-full.js";
import { writeModel } from "../format/writer.js";
import { choice, float, int } from "./args.js";
import { UsageError } from "./errors.js";
import { loadModel } from "./model-source.js";
import { checkWritable, checkWritableDir, writeOutput } from "./output.js";
import { CheckpointError, hasFinetune, loadFinetune, type FinetuneMeta } from "../train/finetune-checkpoint.js";
import { runMezo } from "./finetune-mezo.js";
import { trainingLoop } from "./finetune-loop.js";
import { loraArg, startingAdapter, takeAdapterShape, TARGET_NAMES, targetList } from "./lora-option.js";


export function finetuneCommand(): Command {
  return new Command("finetune")
    .description("train a LoRA adapter on a frozen base (or, --full, every weight) by backpropagation or MeZO (SENTENCE<TAB>LABEL lines: loss on the label)")
    .argument("<base>", "base model (edgellm file; its quantized matrices are used exactly as stored)")
    .requiredOption("--data <file>", "training examples: SENTENCE<TAB>LABEL lines, or plain text")
    .requiredOption("-o, --output <file>", "adapter file to write (with --full: a model file)")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin (default: the one in the base file)")
    .option("--val <file>", "validation examples: loss, exact label and intent match as it goes")
    .option("--steps <int>", "optimizer steps", int("steps", 1, 10_000_000), 300)
    .option("--rank <int>", "adapter rank", int("rank", 1, MAX_RANK), 8)
    .option("--alpha <float>", "LoRA alpha (scale alpha/rank; default: the rank)", float("alpha", 1e-6, 1e6))
    .option("--lr <float>", "learning rate: AdamW, cosine to 10 % (mezo: constant, default 1e-3)", float("lr", 1e-7, 1), 2e-3)
    .option("--lr-decay <float>", "per-layer rate decay: layer l trains at lr·decay^(L−1−l)", float("lr-decay", 0.01, 1), 1)
    .option("--weight-decay <float>", "AdamW weight decay", float("weight-decay", 0, 1), 0)
    .option("--batch <int>", "examples per step", int("batch", 1, 4096), 16)
    .option("--seq <int>", "positions per example (longer ones are cut)", int("seq", 8, 4096), 128)
    .option("--targets <list>", `matrices that carry adapters (${TARGET_NAMES.join(",")})`, targetList, [...LORA_TARGET_KINDS])
    .option("--eval-every <int>", "steps between validations", int("eval-every", 1, 10_000_000), 100)
    .option("--storage <type>", "f32 or f16 (half the bytes, ~3e-4 relative error)", choice("storage", ["f32", "f16"] as const), "f32")
    .option("--seed <int>", "adapter initialization and batch order", int("seed", 0, 2 ** 31 - 1), 1)
    .option("--checkpoint <dir>", "checkpoint directory (default: <output>.ckpt), written at every validation")
    .option("--resume", "continue from the checkpoint directory")
    .option("--curve <file.svg>", "training-curve plot (default: <output minus extension>.curve.svg)")
    .option("--json", "one JSON line per log point instead of text")
    .option("--full", "train every weight (quantization-aware in the base's types) and write a model instead of an adapter")
    .option("--method <name>", "backprop (the training module) or mezo (forward only, in the inference module: what a device runs)", choice("method", ["backprop", "mezo"] as const), "backprop")
    .option("--eps <float>", "mezo: perturbation size", float("eps", 1e-6, 1), 1e-3)
    .option("--lora <file>", "the adapter to start from (its rank, alpha and targets; mezo: an f32 one) instead of a fresh one of --rank on --targets", loraArg)
    .option("--ctx <int>", "mezo: positions of the inference context (longer examples are cut)", int("ctx", 8, 4096), 128)
    .option("--kv-int8", "mezo: int8 KV cache, as the device profile runs")
    .action(async (basePath: string, o, cmd: Command) => {
      const checkpointDir: string = o.checkpoint ?? `${o.output}.ckpt`;
      const curve: string = o.curve ?? o.output.replace(/\.[^./]*$/, "") + ".curve.svg";
      const inputs = { base: basePath, data: o.data, val: o.val, tokenizer: o.tokenizer };
      checkWritable(o.output, "output", { ...inputs, curve });
      checkWritable(curve, "curve", inputs);
      checkWritableDir(checkpointDir, "checkpoint");
      if (!o.resume && hasFinetune(checkpointDir)) throw new UsageError(`checkpoint ${checkpointDir} holds an earlier run: add --resume to continue it, or remove it or pass another --checkpoint to start over`);
      const base = loadModel(basePath, o.tokenizer);
      if (base.source !== "edgellm") throw new UsageError(`${basePath}: fine-tuning needs an edgellm model file: convert it first (edgellm convert)`);
      const seq = Math.min(o.seq, base.image.config.seqLen);
      const engine = Engine.load(base.bytes, undefined, { engine: "simd", ctx: 2 });
      const train = readExampleFile(o.data, "data file"), val = o.val ? readExampleFile(o.val, "validation file") : undefined;
      const checksumOf = () => new DataView(base.bytes.buffer, base.bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true);
      if (o.method === "mezo") {
        if (o.full) throw new UsageError("--full trains by backprop; --method mezo trains an adapter");
        const start = startingAdapter(o.lora, base.bytes, basePath, "--method mezo trains one adapter: give --lora once");
        const lr: number = cmd.getOptionValueSource("lr") === "default" ? 1e-3 : o.lr;
        return runMezo({ basePath, base, checksum: checksumOf(), train, val, start, output: o.output, curve, checkpointDir, resume: !!o.resume, json: !!o.json,
          storage: o.storage, rank: o.rank, alpha: o.alpha ?? o.rank, targets: o.targets, steps: o.steps, evalEvery: o.evalEvery, lr, eps: o.eps, batch: o.batch, seed: o.seed, ctx: Math.min(o.ctx, base.image.config.seqLen), kvInt8: !!o.kvInt8 });
      }
      const start = startingAdapter(o.lora, base.bytes, basePath, "finetune trains one adapter: give --lora once");
      if (start && o.full) throw new UsageError("--full trains the base's weights; --lora starts an adapter run");
      if (start) takeAdapterShape(start, cmd, o);
      if (o.full) {
        for (const opt of ["rank", "alpha", "targets", "storage"]) if (cmd.getOptionValueSource(opt) === "cli") throw new UsageError(`--${opt} is an adapter's option; --full trains every weight and writes a model`);
      }
      const rows = tokenizeRows(engine, train, seq), valRows: Rows | undefined = val && tokenizeRows(engine, val, seq);
      const log = (s: string) => process.stdout.write(s + "\n");
      if (rows.truncated) log(`finetune: ${rows.truncated} of ${rows.n} training examples are longer than ${seq} positions and were cut`);
      const checksum = checksumOf();
      const alpha: number = o.alpha ?? o.rank;
      const common = { lr: o.lr, lrDecay: o.lrDecay, weightDecay: o.weightDecay, batch: o.batch, steps: o.steps, seed: o.seed };
      let job: FinetuneJob;
      try {
        if (o.full) job = fullJob(new FullTrainer(base.image, seq, common));
        else {
          const t = new LoraTrainer(base.image, checksum, seq, { ...common, rank: o.rank, alpha, targets: o.targets });
          if (start) t.setAdapter(start.adapter);
          job = loraJob(t, o.storage);
        }
      } catch (e) {
        if (e instanceof FinetuneError) throw new UsageError(`${basePath}: ${e.message}`);
        throw e;
      }
      // What must not change between a run and its resumption.
      const run = { base: checksum, data: rows.n, ...(o.full ? { full: true } : { rank: o.rank, alpha, targets: o.targets, ...(start ? { start: start.path } : {}) }), lr: o.lr, lrDecay: o.lrDecay, batch: o.batch, seq, steps: o.steps, seed: o.seed };
      let history: FinetuneMeta["history"] = [];
      let first = 1;
      try {
        const ck = o.resume ? loadFinetune(checkpointDir, run) : undefined;
        if (ck) { job.restore(ck.state, ck.meta.step); history = ck.meta.history; first = ck.meta.step + 1; }
        if (o.resume) log(ck ? `finetune: resuming from step ${ck.meta.step} of ${o.steps} (${checkpointDir})` : `finetune: no checkpoint in ${checkpointDir} yet; starting at step 0`);
      } catch (e) {
        if (e instanceof CheckpointError || e instanceof FinetuneError) throw new UsageError(e.message);
        throw e;
      }
      log(`finetune: ${rows.n} ${rows.labelled ? "labelled examples (loss on the label)" : "lines (loss on every token)"}, ${o.full ? job.describe : `rank ${o.rank}, alpha ${alpha}, ${job.describe} on ${o.targets.map((k: Kind) => KIND_NAMES[k]).join(",")}`}, ${o.steps} steps × ${o.batch}`);
      const finished = await trainingLoop({
        label: `edgellm finetune: ${o.data}`, steps: o.steps, first, evalEvery: o.evalEvery, json: !!o.json, checkpointDir, curve, run, history, smoothing: 0.1,
        step: () => job.step(rows), hasVal: !!valRows, evaluate: () => (valRows ? job.evaluate(valRows) : undefined), state: () => job.state(),
      }, log);
      if (!finished) return;
      const bytes = job.output();
      writeOutput(o.output, bytes, "output");
      log(`wrote ${o.output} (${bytes.length} bytes, ${o.full ? "a model in the base's types" : `rank ${o.rank}, ${o.storage}`}), curve ${curve}`);
    });
}

// What the loop needs of a trainer, LoRA or full.
interface FinetuneJob {
  describe: string;
  step(rows: Rows): number;
  evaluate(rows: Rows): Evaluation;
  state(): Float32Array;
  restore(state: Float32Array, step: number): void;
  output(): Uint8Array;
}

function loraJob(t: LoraTrainer, storage: "f32" | "f16"): FinetuneJob {
  return {
    describe: `${t.nLora} adapter parameters`,
    step: (rows) => t.step(rows), evaluate: (rows) => t.evaluate(rows), state: () => t.state(), restore: (s, k) => t.restore(s, k),
    output: () => writeAdapter(t.adapter(storage === "f16" ? AdapterStorage.F16 : AdapterStorage.F32)),
  };
}

function fullJob(t: FullTrainer): FinetuneJob {
  return {
    describe: `full fine-tuning of ${t.parameters} weights`,
    step: (rows) => t.step(rows), evaluate: (rows) => t.evaluate(rows), state: () => t.state(), restore: (s, k) => t.restore(s, k),
    output: () => writeModel(t.image()),
  };
}
