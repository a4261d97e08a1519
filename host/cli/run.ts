// edgellm run: llama2.c's `run` flags and output.
import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import { generate } from "../engine/generate.js";
import { choice, float, int, seed, temperature } from "./args.js";
import { loadModel } from "./model-source.js";
import { check } from "../engine/errors.js";
import { writeGrammar } from "../grammar/binary.js";
import { compileGrammar } from "../grammar/compile.js";
import { GrammarError } from "../grammar/errors.js";
import { ModuleGrammar } from "../grammar/module-grammar.js";
import { UsageError } from "./errors.js";
import { loraArg, readAdapters } from "./lora-option.js";
import { readTextFile } from "./text-input.js";

// A grammar file compiled for the module; a grammar that does not compile is a usage error
// naming the file, line and column.
function readGrammar(path: string): Uint8Array {
  try {
    return writeGrammar(compileGrammar(readTextFile(path, "grammar file"), path));
  } catch (e) {
    if (e instanceof GrammarError) throw new UsageError(e.message);
    throw e;
  }
}

export function runCommand(): Command {
  return new Command("run")
    .description("generate text (flags as llama2.c's run)")
    .argument("[model]", "model file: edgellm .ellm or a llama2.c checkpoint (default: the embedded default model)")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin (default: the one carried in the model file)")
    .option("-t, --temperature <float>", "0 = greedy", temperature(100), 1.0)
    .option("-p, --topp <float>", "top-p (nucleus) sampling; 0 or 1 disables", float("topp", 0, 1), 0.9)
    .option("-s, --seed <int>", "random seed (default: time)", seed)
    .option("-n, --steps <int>", "positions to run, counting BOS and the prompt (0 = context length)", int("steps", 0, 1 << 20), 256)
    .option("-i, --prompt <text>", "prompt", "")
    .option("--engine <kind>", "simd (V8 SIMD128 build) or mvp (the build wasm3 runs)", choice("engine", ["simd", "mvp"] as const), "simd")
    .option("--ctx <int>", "KV cache positions to allocate (default: steps, at most the model's seq_len)", int("ctx", 1, 65536))
    .option("--kv-int8", "int8 KV cache (for small devices)")
    .option("--lora <file[:scale]>", "apply a LoRA adapter at a scale (default 1); repeatable", loraArg)
    .option("--grammar <file>", "constrain the generated text by a grammar (docs/grammar.md; `copy` copies words of the prompt)")
    .action((modelPath: string | undefined, o) => {
      const grammar = o.grammar ? readGrammar(o.grammar) : undefined; // a bad grammar fails before the model loads
      const model = loadModel(modelPath, o.tokenizer);
      const steps: number = o.steps;
      const adapters = readAdapters(o.lora ?? [], model.bytes, model.path);
      const engine = Engine.load(model.bytes, undefined, { engine: o.engine, ctx: o.ctx ?? (steps > 0 ? steps : 0), kvInt8: !!o.kvInt8 });
      for (const a of adapters) engine.loadAdapter(a.bytes, a.scale);
      if (grammar) {
        new ModuleGrammar(engine, grammar).setInput(o.prompt);
        check(engine.x.genConstrain(1), "grammar");
      }
      const out = process.stdout;
      const r = generate(engine, {
        prompt: o.prompt, steps, temperature: o.temperature, topp: o.topp,
        seed: o.seed ?? BigInt(Math.floor(Date.now() / 1000)),
      }, (bytes) => out.write(bytes));
      out.write("\n");
      if (r.tokens > 1) {
        const tps = ((r.tokens - 1) / r.elapsedMs) * 1000;
        process.stderr.write(`achieved tok/s: ${tps.toFixed(1)} (${r.tokens} positions, ${o.engine} engine, linear memory ${engine.memoryBytes} bytes)\n`);
      }
    });
}
