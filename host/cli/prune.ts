// edgellm prune: magnitude (unstructured, per row) and structured pruning (attention heads,
// FFN neurons, KV-head merging), optionally reporting perplexity before and after.
import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import { corpusNll, documents } from "../engine/perplexity.js";
import { convertModel, type QuantName } from "../format/convert.js";
import type { FloatModel } from "../format/float-model.js";
import { writeModel } from "../format/writer.js";
import { readFloatModel } from "../compress/float-source.js";
import { magnitudePrune, sparsityOf } from "../compress/magnitude.js";
import { mergeKvHeads, pruneFfn, pruneHeads } from "../compress/surgery.js";
import { choice, float, int } from "./args.js";
import { UsageError } from "./errors.js";
import { checkWritable, writeOutput } from "./output.js";
import { readTextFile } from "./text-input.js";

export function pruneCommand(): Command {
  return new Command("prune")
    .description("magnitude and structured (attention-head, FFN-neuron) pruning")
    .argument("<model>", "model: llama2.c checkpoint or edgellm file")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin")
    .requiredOption("-o, --output <file>", "output edgellm model file")
    .option("--sparsity <float>", "magnitude pruning: fraction of each row's weights zeroed", float("sparsity", 0, 0.99))
    .option("--heads <int>", "attention heads zeroed per layer (smallest output projection)", int("heads", 0, 255))
    .option("--ffn <int>", "FFN neurons kept per layer (largest ‖w1‖·‖w3‖·‖w2‖); shrinks the model", int("ffn", 1, 1 << 20))
    .option("--kv-heads <int>", "merge KV heads down to this many (grouped-query attention); shrinks the model", int("kv-heads", 1, 256))
    .option("--quant <kind>", "output quantization", choice("quant", ["f32", "int8", "ternary"] as const), "f32")
    .option("--eval <file>", "report perplexity on this text before and after")
    .action((path: string, o) => {
      if (o.sparsity === undefined && o.heads === undefined && o.ffn === undefined && o.kvHeads === undefined) {
        throw new UsageError("nothing to prune: give --sparsity, --heads, --ffn or --kv-heads");
      }
      checkWritable(o.output, "output", { "input model": path, tokenizer: o.tokenizer, "evaluation text": o.eval });
      const before = readFloatModel(path, o.tokenizer);
      // The evaluation text is checked before anything is written.
      if (o.eval && !before.tokenizer) throw new UsageError(`${path} carries no tokenizer: pass -z <tokenizer.bin>`);
      const evalDocs = o.eval ? documents(readTextFile(o.eval)) : [];
      if (o.eval && evalDocs.length === 0) throw new UsageError(`evaluation text ${o.eval}: has no text`);
      let m: FloatModel = before;
      const c = m.config;
      if (o.ffn !== undefined) {
        if (o.ffn > c.hiddenDim) throw new UsageError(`--ffn ${o.ffn} is more than the model's ${c.hiddenDim} FFN neurons`);
        m = pruneFfn(m, o.ffn);
      }
      if (o.kvHeads !== undefined) {
        if (c.nKvHeads % o.kvHeads !== 0) throw new UsageError(`--kv-heads ${o.kvHeads} must divide the model's ${c.nKvHeads} KV heads`);
        m = mergeKvHeads(m, o.kvHeads);
      }
      if (o.heads !== undefined) {
        if (o.heads >= c.nHeads) throw new UsageError(`--heads ${o.heads} would prune all ${c.nHeads} heads of a layer`);
        const r = pruneHeads(m, o.heads);
        m = r.model;
        process.stdout.write(`pruned heads per layer: ${r.pruned.map((h, l) => `${l}:[${h.join(",")}]`).join(" ")}\n`);
      }
      if (o.sparsity !== undefined) m = magnitudePrune(m, o.sparsity);
      const quant: QuantName = o.quant;
      const bytes = writeModel(convertModel(m, { quant, tokenizer: m.tokenizer }));
      writeOutput(o.output, bytes, "output");
      process.stdout.write(`wrote ${o.output} (${bytes.length} bytes, ${quant}, hidden ${m.config.hiddenDim}, kv heads ${m.config.nKvHeads}, layer sparsity ${(100 * sparsityOf(m)).toFixed(1)}%)\n`);
      if (o.eval) {
        const ppl = (b: Uint8Array) => {
          const e = Engine.load(b, undefined, {});
          return corpusNll(e, evalDocs.map((d) => e.encode(d, true, false))).perplexity;
        };
        const p0 = ppl(writeModel(convertModel(before, { quant: "f32", tokenizer: m.tokenizer })));
        process.stdout.write(`perplexity on ${o.eval}: before ${p0.toFixed(4)} (f32), after ${ppl(bytes).toFixed(4)} (${quant})\n`);
      }
    });
}
