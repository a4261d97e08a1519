// Sentence-to-label cost on the device: callgrind instructions of `edgellm-fw run` for whole home
// commands (BOS, the sentence and its newline forced, the label generated under the grammar until
// it ends), minus the start-up (the same run with -n 1), p50 / p95 over a sample of a data file,
// projected to an ESP32-S3 at 240 MHz (r·CPI 1.2–2.25, docs/benchmarks.md).
// Usage: node dist/tools/bench-command-latency.js DATA.tsv GRAMMAR.egrm [--every K] [--count N]
//        [--fw BIN] -- [edgellm-fw run flags: model, --lora, --host-weights, --kv-int8, --ctx …]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../host/engine/module.js";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const own = dash < 0 ? argv : argv.slice(0, dash), runFlags = dash < 0 ? [] : argv.slice(dash + 1);
const [data, grammar] = own.filter((a, i) => !a.startsWith("--") && !own[i - 1]?.startsWith("--"));
const opt = (name: string, dflt: string) => { const i = own.indexOf(name); return i >= 0 ? own[i + 1] : dflt; };
if (!data || !grammar) {
  process.stderr.write("usage: bench-command-latency DATA.tsv GRAMMAR.egrm [--every K] [--count N] [--fw BIN] -- [run flags]\n");
  process.exit(2);
}
const every = Number(opt("--every", "20")), count = Number(opt("--count", "20"));
const fw = opt("--fw", join(PROJECT_ROOT, "firmware", "build", "edgellm-fw-device"));

function instructions(prompt: string, steps: number): { ir: number; positions: number } {
  const r = spawnSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=/dev/null", fw, "run", ...runFlags,
    "--grammar", grammar, "-t", "0", "-n", String(steps), "-i", prompt], { encoding: "utf8", maxBuffer: 1 << 24 });
  const ir = /Collected : (\d+)/.exec(r.stderr), pos = /\((\d+) positions/.exec(r.stderr);
  if (r.status !== 0 || !ir) throw new Error(`edgellm-fw failed: ${r.stderr.split("\n").filter((l) => !l.startsWith("==")).join(" ")}`);
  return { ir: Number(ir[1]), positions: pos ? Number(pos[1]) : 1 };
}

const sentences = readFileSync(data, "utf8").split("\n").filter((l) => l.trim()).map((l) => l.split("\t")[0].trim());
const sample = sentences.filter((_, i) => i % every === 0).slice(0, count);
const startup = instructions("x\n", 1).ir;
const rows: { ir: number; positions: number }[] = [];
const t0 = Date.now();
sample.forEach((s, i) => {
  const m = instructions(`${s}\n`, 160);
  rows.push({ ir: m.ir - startup, positions: m.positions });
  const eta = ((Date.now() - t0) / (i + 1)) * (sample.length - i - 1) / 1000;
  process.stderr.write(`\r${i + 1}/${sample.length} ETA ${eta.toFixed(0)} s `);
});
process.stderr.write("\n");
const sorted = [...rows].sort((a, b) => a.ir - b.ir);
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const ms = (ir: number, rcpi: number) => (ir * rcpi / 240e6 * 1000).toFixed(0);
console.log(`start-up ${startup} Ir (subtracted); ${rows.length} sentences`);
for (const [name, q] of [["p50", 0.5], ["p95", 0.95]] as const) {
  const r = at(q);
  console.log(`${name} ${(r.ir / 1e6).toFixed(1)} M Ir, ${r.positions} positions, ESP32-S3 projection ${ms(r.ir, 1.2)}–${ms(r.ir, 2.25)} ms`);
}
console.log(`mean ${(rows.reduce((s, r) => s + r.ir / r.positions, 0) / rows.length / 1e6).toFixed(2)} M Ir per position`);
