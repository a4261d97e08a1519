// edgellm bench: tokens/s and peak linear memory at f32, int8, ternary, q4, and ternary with a
// q4 embedding (t2 and t5 layouts) in each engine, beside the plain C baseline, measured in one
// run with interleaved rounds.
import { Command } from "commander";
import { convertModel, type ConvertOptions } from "../format/convert.js";
import { readAnyModel } from "../format/load.js";
import { writeModel } from "../format/writer.js";
import { median, WasmRunner, type CaseResult } from "../bench/measure.js";
import { nativeAvailable, runNative, NATIVE_BINARY } from "../bench/native.js";
import { choices, int } from "./args.js";
import { imageToFloat } from "../format/dequantize.js";
import { resolveModelPath } from "./model-source.js";
import { startProgress } from "./progress.js";

// The rows: each quantization with its default embedding, plus ternary layers with a q4
// embedding (the default model's storage) to price the 4-bit classifier against the 8-bit
// one, in both ternary layouts (t5: repacked at load under SIMD, its own tables under MVP).
const BENCH_OPTIONS = {
  f32: { quant: "f32" }, int8: { quant: "int8" }, ternary: { quant: "ternary" }, q4: { quant: "q4" },
  "ternary-q4": { quant: "ternary", embedding: "q4" },
  "ternary-t5-q4": { quant: "ternary", embedding: "q4", ternaryFormat: "t5" },
} satisfies Record<string, ConvertOptions>;
type BenchQuant = keyof typeof BENCH_OPTIONS;
const BENCH_QUANTS = Object.keys(BENCH_OPTIONS) as BenchQuant[];

export function benchCommand(): Command {
  return new Command("bench")
    .description("tokens/s and peak memory per engine and quantization, beside a gcc -O3 C baseline")
    .argument("[model]", "model to measure (default: the embedded default model)")
    .option("-z, --tokenizer <path>", "accepted for symmetry with run; the benchmark decodes token ids only")
    .option("-n, --steps <int>", "positions per run", int("steps", 2, 65536), 256)
    .option("--rounds <int>", "interleaved rounds (median reported)", int("rounds", 1, 1000), 7)
    .option("--quants <list>", `the rows to measure, comma-separated (default: all of ${BENCH_QUANTS.join(", ")})`, choices("quants", BENCH_QUANTS))
    .option("--json", "one JSON object per line")
    .action((modelPath: string | undefined, o) => {
      const path = resolveModelPath(modelPath);
      const r = readAnyModel(path);
      const float = r.model ?? imageToFloat(r.image!);
      const steps = Math.min(o.steps, float.config.seqLen);
      const wanted = new Set<string>(o.quants ?? BENCH_QUANTS);
      const images = new Map<string, Uint8Array>();
      for (const q of BENCH_QUANTS) {
        if (wanted.has(q) || q === "f32") images.set(q, writeModel(convertModel(float, BENCH_OPTIONS[q]))); // f32 feeds the C baseline
      }
      const runners: WasmRunner[] = [];
      for (const engine of ["simd", "mvp"] as const) {
        for (const [quant, modelBytes] of images) if (wanted.has(quant)) runners.push(new WasmRunner({ engine, quant, modelBytes }, steps));
      }
      const bar = startProgress("bench", o.rounds * (runners.length + 1));
      const now = performance.now.bind(performance);
      const nativeRuns: CaseResult[] = [];
      for (let round = 0; round < o.rounds; round++) {
        for (const runner of runners) runner.round(steps, now);
        // Three passes in one process, best kept: the first touches fresh pages, as the engines' warm-up did.
        if (nativeAvailable()) nativeRuns.push(runNative(images.get("f32")!, steps, 3));
        bar.update((round + 1) * (runners.length + 1));
      }
      bar.stop();
      const rows: Array<CaseResult & { ratio_vs_native_c?: number; same_tokens_as_native_c?: boolean }> = runners.map((x) => x.result());
      let native: CaseResult | undefined;
      if (nativeRuns.length) {
        native = { ...nativeRuns[0], tokens_per_s: median(nativeRuns.map((n) => n.tokens_per_s)) };
        for (const row of rows) {
          row.ratio_vs_native_c = row.tokens_per_s / native.tokens_per_s;
          if (row.quant === "f32") row.same_tokens_as_native_c = sameTokens(row.tokens!, native.tokens!);
        }
        rows.push(native);
      } else {
        process.stderr.write(`edgellm: ${NATIVE_BINARY} not built (npm run build): native-c row skipped\n`);
      }
      for (const row of rows) delete row.tokens;
      if (o.json) {
        for (const row of rows) process.stdout.write(JSON.stringify({ model: path, steps, ...row }) + "\n");
        return;
      }
      process.stdout.write(`${path}: ${steps} positions greedy from BOS, median of ${o.rounds} interleaved rounds\n`);
      process.stdout.write("engine    quant            tok/s    × native-c  peak linear memory\n");
      for (const row of rows) {
        const ratio = row.ratio_vs_native_c !== undefined ? row.ratio_vs_native_c.toFixed(2).padStart(10) : "         —";
        process.stdout.write(`${row.engine.padEnd(9)} ${row.quant.padEnd(15)} ${row.tokens_per_s.toFixed(0).padStart(7)} ${ratio}  ${row.peak_memory_bytes} B\n`);
      }
    });
}

function sameTokens(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
