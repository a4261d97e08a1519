// edgellm commands: spoken-style home commands → Home Assistant intent labels, one line each
// (issue 19). The model reads `SENTENCE\n` and writes `LABEL\n` (host/commands/prompt.ts),
// greedy, constrained by the label grammar (host/commands/grammar.ts; --no-grammar to turn it
// off) whose `copy` takes slot values from the sentence and, with --home, the home's names.
import { Command } from "commander";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { parseHome, type Home } from "../commands/home.js";
import { compiledCommandGrammar } from "../commands/compiled.js";
import { labelJson } from "../commands/labels.js";
import { commandPrompt } from "../commands/prompt.js";
import { Engine } from "../engine/engine.js";
import { check } from "../engine/errors.js";
import { GEN_MORE } from "../engine/generate.js";
import { PROJECT_ROOT } from "../engine/module.js";
import { ModuleGrammar } from "../grammar/module-grammar.js";
import { UsageError } from "./errors.js";
import { loraArg, readAdapters, type LoraArg } from "./lora-option.js";
import { loadModel } from "./model-source.js";
import { readTextFile } from "./text-input.js";

// The shipped home-command model: the default model with its home-command adapter.
export const HOME_ADAPTER = join(PROJECT_ROOT, "models", "home.ella");

export function commandsCommand(): Command {
  return new Command("commands")
    .description("turn spoken-style home commands into Home Assistant intent labels (stdin: one sentence a line)")
    .argument("[model]", "model file (default: models/default.ellm with the models/home.ella adapter)")
    .option("-i, --input <sentence>", "one sentence (default: read sentences from stdin, one a line)")
    .option("--lora <file[:scale]>", "adapter(s) to apply (default with the default model: models/home.ella)", loraArg)
    .option("--home <file>", "the home's areas, floors and devices (one object as in homes.json): their names may be slot values")
    .option("--json", "print {\"intent\": …, \"slots\": {…}} instead of the label")
    .option("--no-grammar", "unconstrained decoding (the output may then not be a label)")
    .option("--engine <kind>", "simd or mvp", (v: string) => { if (v !== "simd" && v !== "mvp") throw new UsageError(`--engine must be simd or mvp, got '${v}'`); return v; }, "simd")
    .option("--stats", "at the end, print sentences/s and positions (tokens)/s of the labelling on stderr")
    .action(async (modelPath: string | undefined, o) => {
      const home = o.home ? readHome(o.home) : null;
      const model = loadModel(modelPath, undefined);
      let loras: LoraArg[] = o.lora ?? [];
      if (!modelPath && loras.length === 0 && existsSync(HOME_ADAPTER)) loras = [{ path: HOME_ADAPTER, scale: 1 }];
      const adapters = readAdapters(loras, model.bytes, model.path);
      const engine = Engine.load(model.bytes, undefined, { engine: o.engine, ctx: 0 });
      for (const a of adapters) engine.loadAdapter(a.bytes, a.scale);
      const grammar = o.grammar ? new ModuleGrammar(engine, compiledCommandGrammar(home)) : null;
      if (grammar) check(engine.x.genConstrain(1), "grammar");
      const maxBytes = check(engine.x.genMaxPromptBytes(), "generation");
      const stats = { sentences: 0, prompt: 0, positions: 0, ms: 0 };
      const label = (sentence: string): string => {
        const t0 = performance.now();
        try { return labelOf(sentence); } finally {
          stats.sentences++; stats.ms += performance.now() - t0; stats.positions += engine.x.genPosition();
        }
      };
      const labelOf = (sentence: string): string => {
        engine.setSampler(0, 1, 0n);
        grammar?.setInput(sentence);
        const promptTokens = engine.startGeneration(commandPrompt(sentence), 0);
        stats.prompt += promptTokens;
        const parts: Buffer[] = [];
        for (;;) {
          const { status, piece } = engine.nextPosition();
          const generated = engine.x.genPosition() >= promptTokens; // past the forced prompt
          if (generated) parts.push(Buffer.from(piece));
          if (status !== GEN_MORE || (generated && piece.includes(0x0a))) break; // a label ends at its newline
        }
        return Buffer.concat(parts).toString("utf8").split("\n")[0].trim();
      };
      const show = (text: string): string => (o.json ? labelJson(text) : text);
      const one = (line: string, where: string): string => {
        const sentence = line.trim();
        if (sentence.length === 0) throw new UsageError(`${where}: empty sentence`);
        if (Buffer.byteLength(sentence) + 1 > maxBytes || sentence.includes("\uFFFD")) {
          throw new UsageError(`${where}: ${sentence.includes("\uFFFD") ? "not UTF-8 text" : `longer than the ${maxBytes} bytes the context holds`}`);
        }
        return show(label(sentence));
      };
      const report = (): void => {
        if (!o.stats || stats.sentences === 0) return;
        const s = stats.ms / 1000;
        process.stderr.write(`${stats.sentences} sentences in ${s.toFixed(2)} s: ${(stats.sentences / s).toFixed(1)} sentences/s; ` +
          `${stats.positions} positions (${stats.prompt} prompt, ${stats.positions - stats.prompt} label): ${(stats.positions / s).toFixed(0)} tokens/s\n`);
      };
      if (o.input !== undefined) {
        process.stdout.write(one(o.input, "-i") + "\n");
        report();
        return;
      }
      // stdin: a label a line, in order, flushed as it comes; a bad line is reported on stderr and
      // gets an empty line, so line n of the output still answers line n of the input.
      let n = 0;
      const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
      for await (const line of lines) {
        n++;
        if (line.trim().length === 0) { process.stdout.write("\n"); process.stderr.write(`edgellm: stdin line ${n}: empty sentence\n`); continue; }
        try {
          process.stdout.write(one(line, `stdin line ${n}`) + "\n");
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
          process.stdout.write("\n");
          process.stderr.write(`edgellm: ${e.message}\n`);
        }
      }
      report();
    });
}

function readHome(path: string): Home {
  const h = parseHome(readTextFile(path, "home file"));
  if (typeof h === "string") throw new UsageError(`home file ${path}: ${h}`);
  return h;
}
