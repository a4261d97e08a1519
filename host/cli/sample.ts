// edgellm sample: stories sampled from a model, one per line (held-out evaluation text for
// distillation, in the layout `edgellm eval --text` reads).
import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import { sampleStories, storiesAsText } from "../train/corpus.js";
import { float, int, temperature } from "./args.js";
import { loadModel } from "./model-source.js";
import { checkWritable, writeOutput } from "./output.js";
import { startProgress } from "./progress.js";

export function sampleCommand(): Command {
  return new Command("sample")
    .description("write stories sampled from a model, one per line")
    .argument("[model]", "model file (default: the embedded default model)")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin")
    .requiredOption("-o, --output <file>", "text file to write")
    .option("--tokens <int>", "stop after this many tokens", int("tokens", 1, 1e9), 10000)
    .option("--max-len <int>", "positions per story", int("max-len", 2, 65536), 256)
    .option("-t, --temperature <float>", "sampling temperature", temperature(10), 1)
    .option("-p, --topp <float>", "top-p", float("topp", 0, 1), 1)
    .option("-s, --seed <int>", "random seed", int("seed", 0, 2 ** 31), 1234)
    .action((modelPath: string | undefined, o) => {
      checkWritable(o.output, "output", { model: modelPath, tokenizer: o.tokenizer });
      const model = loadModel(modelPath, o.tokenizer);
      const e = Engine.load(model.bytes, undefined, {});
      const bar = startProgress("sample", o.tokens);
      const stories = sampleStories(e, { tokens: o.tokens, maxLen: o.maxLen, temperature: o.temperature, topp: o.topp, seed: o.seed, onProgress: (d) => bar.update(d) });
      bar.stop();
      writeOutput(o.output, storiesAsText(e, stories), "output");
      process.stdout.write(`wrote ${stories.length} stories (${stories.reduce((n, s) => n + s.length, 0)} tokens) to ${o.output}\n`);
    });
}
