// What the newer distill options cost per training step, side by side in one run: the default
// student's recipe as it is, with pruning active on every step ("sparsity" ramping over the
// whole run), with int4 attention ("attentionQuant"), and with the quantization ramp blending
// on every step ("quantRamp" over the whole run). Rounds alternate A B C D A B C D so machine
// noise falls on all alike; prints tokens/s and the ratio to the plain recipe.
// Usage: node dist/tools/bench-train-options.js ../shared/models/stories260K.bin -z ../shared/models/tok512.bin [--steps 20] [--rounds 2]
import { readFileSync } from "node:fs";
import { readFloatModel } from "../host/compress/float-source.js";
import { parseStudentConfig, studentModelConfig } from "../host/train/config.js";
import { train } from "../host/train/trainer.js";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { join } from "node:path";

const args = process.argv.slice(2);
const opt = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const teacherPath = args[0], tokIdx = args.indexOf("-z");
if (!teacherPath || tokIdx < 0 || !args[tokIdx + 1]) { process.stderr.write("usage: bench-train-options TEACHER -z TOKENIZER [--steps N] [--rounds N]\n"); process.exit(2); }
const STEPS = opt("--steps", 20), ROUNDS = opt("--rounds", 2);

async function main(): Promise<void> {
  const teacher = readFloatModel(teacherPath, args[tokIdx + 1]);
  const base = JSON.parse(readFileSync(join(PROJECT_ROOT, "models", "default.student.json"), "utf8")) as Record<string, unknown>;
  const variants: Array<[string, Record<string, unknown>]> = [
    ["default recipe", {}],
    ["+ pruning every step", { sparsity: 0.5, pruneStart: 0, pruneEnd: STEPS }],
    ["+ int4 attention", { attentionQuant: "q4" }],
    ["+ quantization ramp every step", { quantRamp: STEPS }],
  ];
  const stream = Int32Array.from({ length: 200_000 }, (_, i) => (i * 7919 + 13) % teacher.config.vocabSize);
  const tokS = variants.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [name, change]] of variants.entries()) {
      const cfg = parseStudentConfig(JSON.stringify({ ...base, ...change, steps: STEPS, warmup: 0, workers: 1 }), name, teacher.config);
      const r = await train({ cfg, shape: studentModelConfig(cfg, teacher.config.vocabSize), teacher, stream });
      tokS[i].push(r.tokensPerSecond);
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${name}: ${r.tokensPerSecond.toFixed(0)} tok/s\n`);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  process.stdout.write(`| step (${STEPS} steps × ${ROUNDS} rounds, 1 worker) | training tok/s | against the default recipe |\n|---|---|---|\n`);
  for (const [i, [name]] of variants.entries()) {
    process.stdout.write(`| ${name} | ${mean(tokS[i]).toFixed(0)} | ${(mean(tokS[i]) / mean(tokS[0])).toFixed(3)}× |\n`);
  }
}

main().catch((e) => { process.stderr.write(`bench-train-options: ${(e as Error).message}\n`); process.exit(1); });
