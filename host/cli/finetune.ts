// edgellm finetune: a LoRA adapter trained by backpropagation through a frozen base, exactly as
// the base's file stores it (host/train/finetune.ts), on SENTENCE<TAB>LABEL lines (loss on the
// label only) or plain text (every token).
import { Command } from "commander";
import { ExampleError, parseExamples, type ExampleFile } from "../commands/examples.js";
import { Engine } from "../engine/engine.js";
import { writeAdapter } from "../format/adapter-writer.js";
import { AdapterStorage, MAX_RANK } from "../format/adapter-spec.js";
import { CHECKSUM_OFFSET, Kind, KIND_NAMES } from "../format/spec.js";
import { tokenizeRows, type Rows } from "../train/finetune-data.js";
import { FinetuneError, LORA_TARGET_KINDS, LoraTrainer } from "../train/finetune.js";
import { choice, float, int } from "./args.js";
import { UsageError } from "./errors.js";
import { loadModel } from "./model-source.js";
import { checkWritable, writeOutput } from "./output.js";
import { startProgress } from "./progress.js";
import { readTextFile } from "./text-input.js";

const TARGET_NAMES = LORA_TARGET_KINDS.map((k) => KIND_NAMES[k]);

function targetList(v: string): Kind[] {
  const names = v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) throw new UsageError("--targets needs at least one of " + TARGET_NAMES.join(","));
  return names.map((n) => {
    const i = TARGET_NAMES.indexOf(n);
    if (i < 0) throw new UsageError(`--targets: '${n}' is not one of ${TARGET_NAMES.join(",")}`);
    return LORA_TARGET_KINDS[i];
  });
}

function readExamples(path: string, what: string): ExampleFile {
  try {
    return parseExamples(readTextFile(path, what));
  } catch (e) {
    if (e instanceof ExampleError) throw new UsageError(`${what} ${path}: ${e.message}`);
    throw e;
  }
}

export function finetuneCommand(): Command {
  return new Command("finetune")
    .description("train a LoRA adapter on a frozen base by backpropagation (SENTENCE<TAB>LABEL lines: loss on the label)")
    .argument("<base>", "base model (edgellm file; its quantized matrices are used exactly as stored)")
    .requiredOption("--data <file>", "training examples: SENTENCE<TAB>LABEL lines, or plain text")
    .requiredOption("-o, --output <adapter>", "adapter file to write")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin (default: the one in the base file)")
    .option("--val <file>", "validation examples: loss, exact label and intent match as it goes")
    .option("--steps <int>", "optimizer steps", int("steps", 1, 10_000_000), 300)
    .option("--rank <int>", "adapter rank", int("rank", 1, MAX_RANK), 8)
    .option("--alpha <float>", "LoRA alpha (scale alpha/rank; default: the rank)", float("alpha", 1e-6, 1e6))
    .option("--lr <float>", "AdamW learning rate (cosine to 10 %)", float("lr", 1e-7, 1), 2e-3)
    .option("--lr-decay <float>", "per-layer rate decay: layer l trains at lr·decay^(L−1−l)", float("lr-decay", 0.01, 1), 1)
    .option("--weight-decay <float>", "AdamW weight decay", float("weight-decay", 0, 1), 0)
    .option("--batch <int>", "examples per step", int("batch", 1, 4096), 16)
    .option("--seq <int>", "positions per example (longer ones are cut)", int("seq", 8, 4096), 128)
    .option("--targets <list>", `matrices that carry adapters (${TARGET_NAMES.join(",")})`, targetList, [...LORA_TARGET_KINDS])
    .option("--eval-every <int>", "steps between validations", int("eval-every", 1, 10_000_000), 100)
    .option("--storage <type>", "f32 or f16 (half the bytes, ~3e-4 relative error)", choice("storage", ["f32", "f16"] as const), "f32")
    .option("--seed <int>", "adapter initialization and batch order", int("seed", 0, 2 ** 31 - 1), 1)
    .option("--json", "one JSON line per log point instead of text")
    .action((basePath: string, o) => {
      checkWritable(o.output, "output", { base: basePath, data: o.data, val: o.val, tokenizer: o.tokenizer });
      const base = loadModel(basePath, o.tokenizer);
      if (base.source !== "edgellm") throw new UsageError(`${basePath}: fine-tuning needs an edgellm model file: convert it first (edgellm convert)`);
      const seq = Math.min(o.seq, base.image.config.seqLen);
      const engine = Engine.load(base.bytes, undefined, { engine: "simd", ctx: 2 });
      const train = readExamples(o.data, "data file"), val = o.val ? readExamples(o.val, "validation file") : undefined;
      const rows = tokenizeRows(engine, train, seq), valRows: Rows | undefined = val && tokenizeRows(engine, val, seq);
      const log = (s: string) => process.stdout.write(s + "\n");
      if (rows.truncated) log(`finetune: ${rows.truncated} of ${rows.n} training examples are longer than ${seq} positions and were cut`);
      const checksum = new DataView(base.bytes.buffer, base.bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true);
      const alpha: number = o.alpha ?? o.rank;
      let trainer: LoraTrainer;
      try {
        trainer = new LoraTrainer(base.image, checksum, seq, { rank: o.rank, alpha, targets: o.targets, lr: o.lr, lrDecay: o.lrDecay, weightDecay: o.weightDecay, batch: o.batch, steps: o.steps, seed: o.seed });
      } catch (e) {
        if (e instanceof FinetuneError) throw new UsageError(`${basePath}: ${e.message}`);
        throw e;
      }
      log(`finetune: ${rows.n} ${rows.labelled ? "labelled examples (loss on the label)" : "lines (loss on every token)"}, rank ${o.rank}, alpha ${alpha}, ${trainer.nLora} adapter parameters on ${o.targets.map((k: Kind) => KIND_NAMES[k]).join(",")}, ${o.steps} steps × ${o.batch}`);
      // On a terminal the bar carries the numbers; piped (a log) or --json, a line per evaluation.
      const lines = o.json || !process.stderr.isTTY;
      let exact = "-";
      const report = (step: number, loss: number) => {
        const v = valRows ? trainer.evaluate(valRows) : undefined;
        if (v) exact = `${(100 * v.exact).toFixed(1)} %`;
        if (!lines && step < o.steps) return;
        if (o.json) log(JSON.stringify({ step, loss, ...(v ? { valLoss: v.loss, valExact: v.exact, valIntent: v.intent } : {}) }));
        else log(`step ${step}/${o.steps} loss ${loss.toFixed(4)}${v ? ` val loss ${v.loss.toFixed(4)} exact ${(100 * v.exact).toFixed(1)} % intent ${(100 * v.intent).toFixed(1)} %` : ""}`);
      };
      if (valRows) report(0, NaN);
      const bar = startProgress("finetune", o.steps, " loss {loss} val exact {exact}");
      let recent = 0;
      for (let s = 1; s <= o.steps; s++) {
        const loss = trainer.step(rows);
        recent = s === 1 ? loss : 0.9 * recent + 0.1 * loss;
        if (s % o.evalEvery === 0 && s < o.steps) report(s, recent);
        bar.update(s, { loss: recent.toFixed(3), exact });
      }
      bar.stop();
      report(o.steps, recent);
      const bytes = writeAdapter(trainer.adapter(o.storage === "f16" ? AdapterStorage.F16 : AdapterStorage.F32));
      writeOutput(o.output, bytes, "output");
      log(`wrote ${o.output} (${bytes.length} bytes, rank ${o.rank}, ${o.storage})`);
    });
}
