// Tokenizing one long line, side by side in one run: the module's encode (heap merging from 256
// pre-merge tokens) against encodeReference (llama2.c's loop, O(n²) lookups). Rounds alternate
// so machine noise falls on both alike; prints ms and the ratio, and checks the tokens agree.
// Usage: node dist/tools/bench-tokenizer.js [TEXT_FILE] [--rounds 3]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../host/engine/engine.js";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { loadModelFile } from "../host/format/load.js";

const args = process.argv.slice(2);
const rounds = args.includes("--rounds") ? Number(args[args.indexOf("--rounds") + 1]) : 3;
const textFile = args[0] && !args[0].startsWith("--") ? args[0] : join(PROJECT_ROOT, "..", "shared", "data", "tinystories-valid-sample.txt");
const line = readFileSync(textFile, "utf8").replace(/\s+/g, " ");
const engine = Engine.load(loadModelFile(join(PROJECT_ROOT, "models", "default.ellm")).bytes, undefined, { ctx: 16 });

const time = (text: string, reference: boolean): [number, Int32Array] => {
  const t0 = performance.now();
  const tokens = engine.encode(text, true, false, reference);
  return [performance.now() - t0, tokens];
};

process.stdout.write("| characters | encode (heap) ms | encodeReference ms | speed-up |\n|---|---|---|---|\n");
for (const chars of [1000, 4000, 16000, 32000]) {
  const text = line.repeat(Math.ceil(chars / line.length)).slice(0, chars);
  let heapMs = Infinity, refMs = Infinity;
  for (let r = 0; r < rounds; r++) {
    const [h, a] = time(text, false);
    const [f, b] = time(text, true);
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) throw new Error(`tokens differ at ${chars} characters`);
    heapMs = Math.min(heapMs, h); refMs = Math.min(refMs, f);
  }
  process.stdout.write(`| ${chars} | ${heapMs.toFixed(1)} | ${refMs.toFixed(1)} | ${(refMs / heapMs).toFixed(1)}× |\n`);
}
