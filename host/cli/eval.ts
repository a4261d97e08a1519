// edgellm eval: perplexity of a model over a text file (one document per line).
import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import { corpusNll, documents } from "../engine/perplexity.js";
import { quantOf } from "../format/load.js";
import { choice, int } from "./args.js";
import { UsageError } from "./errors.js";
import { loadModel } from "./model-source.js";
import { startProgress } from "./progress.js";
import { readTextFile } from "./text-input.js";

export function evalCommand(): Command {
  return new Command("eval")
    .description("perplexity over a text file (one document per line)")
    .argument("[model]", "model file (default: the embedded default model)")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin")
    .requiredOption("--text <file>", "text to evaluate on")
    .option("--engine <kind>", "simd or mvp", choice("engine", ["simd", "mvp"] as const), "simd")
    .option("--ctx <int>", "window length in positions (default: the model's seq_len; at most that)", int("ctx", 2, 65536))
    .option("--json", "last line: a JSON object with a perplexity field")
    .action((modelPath: string | undefined, o) => {
      const docs = documents(readTextFile(o.text));
      if (docs.length === 0) throw new UsageError(`text file ${o.text}: has no text`);
      const model = loadModel(modelPath, o.tokenizer);
      const engine = Engine.load(model.bytes, undefined, { engine: o.engine, ctx: o.ctx ?? 0 });
      const tokenized = docs.map((d) => engine.encode(d, true, false));
      const total = tokenized.reduce((n, t) => n + t.length - 1, 0);
      const bar = startProgress("eval", total);
      let done = 0;
      const sum = corpusNll(engine, tokenized, () => bar.update(++done));
      bar.stop();
      const ppl = sum.perplexity;
      if (o.json) {
        process.stdout.write(JSON.stringify({ model: model.path, quant: quantOf(model.image), text: o.text, documents: docs.length, ctx: engine.info.ctx, tokens: sum.tokens, nll_per_token: sum.nll / sum.tokens, perplexity: ppl }) + "\n");
      } else {
        process.stdout.write(`perplexity ${ppl.toFixed(4)} over ${sum.tokens} tokens in ${docs.length} documents (${quantOf(model.image)}, windows of ${engine.info.ctx})\n`);
      }
    });
}
