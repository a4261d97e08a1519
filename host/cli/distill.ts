// edgellm distill: trains a student from a teacher on text sampled from the teacher (plus an
// optional text file), with distillation losses and quantization-aware training.
import { Command } from "commander";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Engine } from "../engine/engine.js";
import { convertModel } from "../format/convert.js";
import type { FloatModel } from "../format/float-model.js";
import { readFloatModel } from "../compress/float-source.js";
import { writeModel } from "../format/writer.js";
import { ConfigError, parseStudentConfig, studentModelConfig, type StudentConfig } from "../train/config.js";
import { encodeTextFile, loadTokens, pack, sampleStories, tokenBytes } from "../train/corpus.js";
import { curveSvg, historySeries } from "../train/curve.js";
import { planStudent, studentImage } from "../train/plan.js";
import { train } from "../train/trainer.js";
import { UsageError } from "./errors.js";
import { checkWritable, checkWritableDir, writeOutput } from "./output.js";
import { describeResume, refuseToOverwrite, stopOnSignal } from "./run-control.js";
import { startProgress } from "./progress.js";
import { readTextFile } from "./text-input.js";

export function distillCommand(): Command {
  return new Command("distill")
    .description("distill a small (ternary) student from a teacher model")
    .requiredOption("--teacher <model>", "teacher: llama2.c checkpoint or edgellm file")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin (default: the one in the teacher file)")
    .requiredOption("--student <config.json>", "student config (see docs/models.md)")
    .requiredOption("-o, --output <file>", "output edgellm model file")
    .option("--text <file>", "text file (one document per line) mixed with the teacher samples")
    .option("--corpus <file>", "cache of the teacher-sampled tokens: reused when present, written otherwise")
    .option("--checkpoint <dir>", "checkpoint directory (default: <output>.ckpt)")
    .option("--resume", "continue from the checkpoint directory")
    .option("--curve <file.svg>", "training-curve plot (default: <output minus extension>.curve.svg)")
    .option("--log <file.json>", "write the loss history as JSON")
    .option("--dry-run", "check the config and print the student's file size and budget, then stop")
    .action(async (o) => {
      let cfgText: string;
      try { cfgText = readFileSync(o.student, "utf8"); } catch { throw new UsageError(`student config ${o.student}: cannot be read`); }
      const teacher = readFloatModel(o.teacher, o.tokenizer);
      const cfg = parseStudentConfig(cfgText, o.student, teacher.config);
      const tokenizer = teacher.tokenizer;
      if (!tokenizer) throw new UsageError(`${o.teacher} carries no tokenizer: pass -z <tokenizer.bin>`);
      const shape = studentModelConfig(cfg, teacher.config.vocabSize);
      if (o.dryRun) {
        const plan = planStudent(cfg, shape, tokenizer);
        process.stdout.write(`distill: dry run: ${plan.fileBytes} bytes as ${o.output} (${plan.parameters} parameters, ${cfg.quant}${cfg.attentionQuant !== cfg.quant ? `, attention ${cfg.attentionQuant}` : ""}, embedding ${cfg.embedding}${cfg.quant === "ternary" ? `, ternary ${cfg.ternaryFormat}` : ""}, tokenizer embedded); ${cfg.steps} steps × ${plan.tokensPerStep} tokens = ${plan.trainingTokens} training tokens\n`);
        return;
      }
      const checkpointDir: string = o.checkpoint ?? `${o.output}.ckpt`;
      if (!o.resume) refuseToOverwrite(checkpointDir);
      else describeResume(checkpointDir, cfg.steps);
      const curve: string = o.curve ?? o.output.replace(/\.[^./]*$/, "") + ".curve.svg";
      // Every file this run writes, and every one it reads: no two may be the same file.
      const inputs = { teacher: o.teacher, tokenizer: o.tokenizer, "student config": o.student, text: o.text };
      checkWritable(o.output, "output", { ...inputs, curve, log: o.log, "corpus cache": o.corpus });
      checkWritable(curve, "curve", { ...inputs, log: o.log, "corpus cache": o.corpus });
      if (o.log) checkWritable(o.log, "log", { ...inputs, "corpus cache": o.corpus });
      if (o.corpus) checkWritable(o.corpus, "corpus cache", inputs);
      checkWritableDir(checkpointDir, "checkpoint");
      const text = o.text ? readTextFile(o.text) : undefined; // read before minutes of teacher sampling
      const stream = buildStream(teacher, tokenizer, cfg.corpusTokens, { corpus: o.corpus, text }, cfg);
      const log = (s: string) => process.stdout.write(s + "\n");
      log(`distill: student ${JSON.stringify(shape)} ${describeStudent(cfg, stream.length).join(", ")}`);
      const cores = availableParallelism();
      if (cfg.workers > cores) log(`distill: note: ${cfg.workers} workers on ${cores} cores; every step waits for the slowest worker`);
      const bar = startProgress("distill", cfg.steps, " loss {loss}", { piped: false }); // piped runs log step lines instead
      const t0 = Date.now();
      let firstStep = -1; // the step a resumed run starts from, for the ETA
      const stop = stopOnSignal(() => log("distill: stopping after the step in progress (Ctrl-C again to quit at once)"));
      const r = await train({
        cfg, shape, teacher, stream, checkpointDir, resume: !!o.resume, signal: stop.signal,
        onStep: (step, p) => { if (firstStep < 0) firstStep = step - 1; bar.update(step, { loss: p.loss.toFixed(3) }); },
        onLog: (e) => {
          const eta = ((Date.now() - t0) / 1000 / Math.max(1, e.step - firstStep)) * (cfg.steps - e.step);
          if (!process.stderr.isTTY) log(`step ${e.step}/${cfg.steps} loss ${e.loss.toFixed(4)} ce ${e.ce.toFixed(4)} kd ${e.kd.toFixed(4)} hidden ${e.hidden.toFixed(4)} lr ${e.lr.toExponential(2)} ${e.tokensPerSecond.toFixed(0)} tok/s ETA ${Math.round(eta)} s`);
        },
      }).finally(() => { bar.stop(); stop.dispose(); });
      const bytes = writeModel(studentImage(r.net, cfg, tokenizer));
      writeOutput(o.output, bytes, "output");
      writeOutput(curve, curveSvg(`edgellm distill: ${o.student}`, historySeries(r.history, cfg.loss, cfg.loss !== "ce")), "curve");
      if (o.log) writeOutput(o.log, JSON.stringify({ config: cfg, history: r.history, tokensPerSecond: r.tokensPerSecond, seconds: r.seconds }, null, 1), "log");
      log(`wrote ${o.output} (${bytes.length} bytes), curve ${curve}; ${r.seconds.toFixed(1)} s, ${r.tokensPerSecond.toFixed(0)} training tok/s`);
    });
}

// The training tokens: teacher samples (from the --corpus cache when it exists), then the
// user's text (its contents, already read).
function buildStream(teacher: FloatModel, tokenizer: Uint8Array, tokens: number, o: { corpus?: string; text?: string }, cfg: { seqLen: number; sampleTemperature: number; sampleTopp: number; seed: number }): Int32Array {
  const engine = Engine.load(writeModel(convertModel(teacher, { quant: "f32", tokenizer })), undefined, {});
  const parts: Int32Array[] = [];
  let sampled = o.corpus ? loadTokens(o.corpus, teacher.config.vocabSize) : undefined;
  if (sampled) process.stdout.write(`distill: ${sampled.length} teacher-sampled tokens from ${o.corpus}\n`);
  else if (tokens > 0) {
    const bar = startProgress("sampling teacher", tokens);
    sampled = pack(sampleStories(engine, { tokens, maxLen: Math.max(cfg.seqLen, 256), temperature: cfg.sampleTemperature, topp: cfg.sampleTopp, seed: cfg.seed, onProgress: (d) => bar.update(d) }));
    bar.stop();
    if (o.corpus) writeOutput(o.corpus, tokenBytes(sampled), "corpus cache");
  }
  if (sampled) parts.push(sampled);
  if (o.text) parts.push(...encodeTextFile(engine, o.text));
  const stream = pack(parts);
  if (stream.length < cfg.seqLen + 2) throw new ConfigError(`only ${stream.length} training tokens: raise "corpusTokens" or give --text`);
  return stream;
}

// The run's first log line after the shape: where the student starts, how it is quantized,
// the loss, pruning and the budget.
function describeStudent(c: StudentConfig, trainingTokens: number): string[] {
  const parts = [initialization(c), `quant ${c.quant}`];
  if (c.attentionQuant !== c.quant) parts.push(`attention ${c.attentionQuant}`);
  if (c.quant !== "f32") parts.push(`embedding ${c.embedding}`);
  if (c.ternaryFormat !== "t2") parts.push(`ternary stored as ${c.ternaryFormat}`);
  if (c.quantRamp > 0) parts.push(`quantized over the first ${c.quantRamp} steps`);
  parts.push(`loss ${c.loss} (T=${c.temperature}, alpha=${c.alpha}, hidden=${c.hiddenWeight})`);
  const pruned = pruning(c);
  if (pruned) parts.push(pruned);
  parts.push(`${c.steps} steps × ${c.batch}×${c.seqLen} tokens`, `${trainingTokens} training tokens`, `${c.workers} worker(s)`);
  return parts;
}

function initialization(c: StudentConfig): string {
  if (c.init !== "teacher") return "random init";
  const identity = c.initLayers.map((from, l) => (c.initLayers.indexOf(from) === l ? -1 : l)).filter((l) => l >= 0);
  const repeats = c.repeatedLayers === "identity" ? ` (${identity.length > 1 ? "layers" : "layer"} ${identity.join(", ")} ${identity.length > 1 ? "start" : "starts"} as the identity)` : "";
  return `from teacher layers [${c.initLayers.join(", ")}]${repeats}`;
}

function pruning(c: StudentConfig): string {
  const parts = [];
  if (c.sparsity > 0) parts.push(`sparsity ${c.sparsity} over steps ${c.pruneStart}–${c.pruneEnd}`);
  if (c.pruneHeads > 0) parts.push(`${c.pruneHeads} head(s) per layer`);
  return parts.length ? `pruning ${parts.join(", ")}` : "";
}
