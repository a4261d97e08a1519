// edgellm quantize: post-training quantization with calibration. int8: per-output-channel
// (per-row) scales, optionally SmoothQuant activation-aware scaling; the smoothing strength is
// chosen on the calibration text (including "off") unless --alpha fixes it. ternary and q4 (int4)
// take the same calibration search.
import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import { corpusNll, documents } from "../engine/perplexity.js";
import { convertModel, groupProblem, EMBEDDING_NAMES, TERNARY_FORMATS, ternaryFormatProblem, type QuantName } from "../format/convert.js";
import type { FloatModel } from "../format/float-model.js";
import { writeModel } from "../format/writer.js";
import { readFloatModel } from "../compress/float-source.js";
import { calibrate, smooth } from "../compress/smooth.js";
import { choice, float, int } from "./args.js";
import { UsageError } from "./errors.js";
import { checkWritable, writeOutput } from "./output.js";
import { readTextFile } from "./text-input.js";

export function quantizeCommand(): Command {
  return new Command("quantize")
    .description("post-training quantization (int8 per-channel with calibration and SmoothQuant scaling; ternary; int4)")
    .argument("<model>", "model: llama2.c checkpoint or edgellm file")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin")
    .requiredOption("-o, --output <file>", "output edgellm model file")
    .option("--quant <kind>", "int8, ternary or q4 (int4, absmax/7 per row)", choice("quant", ["int8", "ternary", "q4"] as const), "int8")
    .option("--group <int>", "weights per scale of the int8 tensors (the layers with --quant int8, else the int8 embedding); 0: one scale per output channel", int("group", 0, 1 << 20), 0)
    .option("--attention-quant <kind>", "wq, wk, wv, wo in another type than --quant (mixed precision): int8, ternary or q4", choice("attention-quant", ["int8", "ternary", "q4"] as const))
    .option("--embedding <type>", "embedding/classifier storage: default (int8), int8, q4 or ternary (in --ternary-format)", choice("embedding", EMBEDDING_NAMES), "default")
    .option("--ternary-format <layout>", "ternary matrices as t2 (2 bits a weight, fastest with SIMD) or t5 (five weights a byte, 1.6 bits)", choice("ternary-format", TERNARY_FORMATS), "t2")
    .option("--calibrate <file>", "calibration text, one document per line (enables activation-aware scaling)")
    .option("--alpha <float>", "SmoothQuant migration strength (default: chosen on the calibration text)", float("alpha", 0, 1))
    .option("--max-docs <int>", "calibration documents used", int("max-docs", 1, 1e6), 16)
    .action((path: string, o) => {
      checkWritable(o.output, "output", { "input model": path, tokenizer: o.tokenizer, "calibration file": o.calibrate });
      const m = readFloatModel(path, o.tokenizer);
      if (!m.tokenizer && o.calibrate) throw new UsageError(`${path} carries no tokenizer: pass -z <tokenizer.bin>`);
      const quant: QuantName = o.quant;
      const problem = ternaryFormatProblem(quant, o.attentionQuant, o.ternaryFormat, o.embedding);
      if (problem) throw new UsageError(`--ternary-format: ${problem}`);
      if (o.alpha !== undefined && !o.calibrate) throw new UsageError("--alpha sets SmoothQuant's strength, which needs calibration text: add --calibrate FILE");
      const groupIssue = groupProblem(m, o.group);
      if (groupIssue) throw new UsageError(`--group: ${groupIssue}`);
      const build = (f: FloatModel) => writeModel(convertModel(f, { quant, attention: o.attentionQuant, groupSize: o.group, embedding: o.embedding, ternaryFormat: o.ternaryFormat, tokenizer: m.tokenizer }));
      let best = build(m);
      if (o.calibrate) {
        const text = readTextFile(o.calibrate, "calibration file");
        const probe = Engine.load(best, undefined, {});
        const docs = documents(text).slice(0, o.maxDocs).map((d) => probe.encode(d, true, false));
        if (docs.length === 0) throw new UsageError(`calibration file ${o.calibrate}: has no text`);
        const stats = calibrate(m, docs, 256);
        const ppl = (bytes: Uint8Array) => corpusNll(Engine.load(bytes, undefined, {}), docs).perplexity;
        const alphas: Array<number | null> = o.alpha !== undefined ? [o.alpha] : [null, 0.25, 0.5, 0.75];
        let bestPpl = Infinity, bestAlpha: number | null = null;
        for (const a of alphas) {
          const bytes = a === null ? best : build(smooth(m, stats, a));
          const p = ppl(bytes);
          process.stdout.write(`calibration perplexity ${p.toFixed(4)} with ${a === null ? "no smoothing" : `SmoothQuant alpha ${a}`}\n`);
          if (p < bestPpl) { bestPpl = p; bestAlpha = a; best = bytes; }
        }
        process.stdout.write(`chose ${bestAlpha === null ? "no smoothing" : `alpha ${bestAlpha}`}\n`);
      }
      writeOutput(o.output, best, "output");
      process.stdout.write(`wrote ${o.output} (${best.length} bytes, ${quant}${o.attentionQuant && o.attentionQuant !== quant ? `, attention ${o.attentionQuant}` : ""}${o.ternaryFormat !== "t2" ? `, ternary ${o.ternaryFormat}` : ""})\n`);
    });
}
