// What constrained decoding adds per token, side by side in one run: the TS reference matcher's
// allowed-token mask (home-command grammar of one val home, tok512 pieces of models/default.ellm)
// against one forward pass of that model. Masks are computed along real labels' token paths.
// Usage: node dist/tools/bench-grammar.js [--labels 20] [--rounds 3]
import { join } from "node:path";
import { Engine } from "../host/engine/engine.js";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { loadModelFile } from "../host/format/load.js";
import { compileGrammar } from "../host/grammar/compile.js";
import { Matcher } from "../host/grammar/matcher.js";
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

let maskMs = 0, masks = 0, forwardMs = 0, forwards = 0, allowed = 0;
for (let r = 0; r < rounds; r++) {
  for (const line of lines) {
    matcher.setInput(line.sentence);
    for (const token of engine.encode(formatLabel(line), false, false)) {
      const t0 = performance.now();
      const mask = matcher.mask(vocab);
      maskMs += performance.now() - t0; masks++;
      allowed += mask.reduce((a, b) => a + b, 0);
      if (!mask[token] || !matcher.advance(vocab[token])) throw new Error(`label token ${token} refused: ${formatLabel(line)}`);
      const t1 = performance.now();
      engine.forward(token, forwards % 64);
      forwardMs += performance.now() - t1; forwards++;
    }
  }
}
const [m, f] = [maskMs / masks, forwardMs / forwards];
process.stdout.write(`states ${auto.accept.length}, ${masks} masks, mean allowed tokens ${(allowed / masks).toFixed(1)}/${vocab.length}\n`);
process.stdout.write(`mask ${(m * 1000).toFixed(1)} us/token, forward ${(f * 1000).toFixed(1)} us/token, mask/forward ${(m / f).toFixed(3)}\n`);
