// What constrained decoding adds per token, side by side in one run: the allowed-token mask of
// the module (wasm, SIMD build) and of the TS reference matcher (home-command grammar of one
// val home, tok512 pieces of models/default.ellm) against one forward pass of that model.
// Masks are computed along real labels' token paths.
// Usage: node dist/tools/bench-grammar.js [--labels 20] [--rounds 3]
import { join } from "node:path";
import { Engine } from "../host/engine/engine.js";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { loadModelFile } from "../host/format/load.js";
import { compileGrammar } from "../host/grammar/compile.js";
import { Matcher } from "../host/grammar/matcher.js";
import { writeGrammar } from "../host/grammar/binary.js";
import { ModuleGrammar } from "../host/grammar/module-grammar.js";
import { readCommandData } from "../host/commands/data.js";
import { commandGrammar } from "../host/commands/grammar.js";
import { formatLabel } from "../host/commands/coverage.js";
import { loadInventory } from "../host/commands/load-inventory.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const labels = opt("--labels", 20), rounds = opt("--rounds", 3);
const engine = Engine.load(loadModelFile(join(PROJECT_ROOT, "models", "default.ellm")).bytes, undefined, { ctx: 64 });
const vocab = Array.from({ length: engine.info.vocabSize }, (_, t) => engine.decode(3, t));
const lines = readCommandData(join(PROJECT_ROOT, "..", "shared", "data", "home-commands")).val[0].slice(0, labels);
const auto = compileGrammar(commandGrammar(loadInventory(), lines[0].home), "commands");
const matcher = new Matcher(auto);
const compiled = writeGrammar(auto);
const mod = new ModuleGrammar(engine, compiled);

let modMs = 0, maskMs = 0, masks = 0, forwardMs = 0, forwards = 0, allowed = 0;
for (let r = 0; r < rounds; r++) {
  for (const line of lines) {
    matcher.setInput(line.sentence);
    mod.setInput(line.sentence);
    for (const token of engine.encode(formatLabel(line), false, false)) {
      const tm = performance.now();
      const modMask = mod.mask();
      modMs += performance.now() - tm;
      if (!mod.advance(token)) throw new Error(`module refused label token ${token}`);
      const t0 = performance.now();
      const mask = matcher.mask(vocab);
      maskMs += performance.now() - t0; masks++;
      allowed += mask.reduce((a, b) => a + b, 0);
      if (modMask.some((v, t) => v !== mask[t])) throw new Error("module and TS masks differ");
      if (!mask[token] || !matcher.advance(vocab[token])) throw new Error(`label token ${token} refused: ${formatLabel(line)}`);
      const t1 = performance.now();
      engine.forward(token, forwards % 64);
      forwardMs += performance.now() - t1; forwards++;
    }
  }
}
const [w, m, f] = [modMs / masks, maskMs / masks, forwardMs / forwards];
const us = (ms: number): string => `${(ms * 1000).toFixed(1)} us`;
process.stdout.write(`grammar: ${auto.accept.length} states, ${compiled.length} bytes compiled; ${masks} masks, mean allowed ${(allowed / masks).toFixed(1)}/${vocab.length} tokens\n`);
process.stdout.write(`| per token | time | / forward |\n|---|---|---|\n`);
process.stdout.write(`| forward (default.ellm, SIMD) | ${us(f)} | 1 |\n| mask, module | ${us(w)} | ${(w / f).toFixed(3)} |\n| mask, TS reference | ${us(m)} | ${(m / f).toFixed(3)} |\n`);
