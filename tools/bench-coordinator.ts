// Coordinator throughput (issue 20 part 5): a whole round (sample, K submits with their checks,
// close: FedAvg or DP-FedAvg with the accountant's step, the server step) for K clients and an
// adapter of P numbers, against the arithmetic floor measured beside it in the same run: a bare
// weighted sum of the same K updates into one array. The ratio says what the checks, the clip,
// the noise and the bookkeeping cost on top of the sum no coordinator can skip.
// Usage: node dist/tools/bench-coordinator.js [--reps N]
import { Coordinator, type ClientUpdate } from "../host/federated/coordinator.js";
import { median } from "../host/bench/measure.js";

const args = process.argv.slice(2);
const repsAt = args.indexOf("--reps");
const reps = repsAt >= 0 ? Number(args[repsAt + 1]) : 5;
if (!(Number.isInteger(reps) && reps >= 1)) { process.stderr.write("bench-coordinator: --reps must be a positive integer\n"); process.exit(2); }

// P: rank 1 and rank 16 on all seven matrices of the default model (6,560 and 104,960 numbers).
const SIZES = [6560, 104960];
const CLIENTS = [10, 100, 1000];

function updates(k: number, p: number): ClientUpdate[] {
  return Array.from({ length: k }, (_, c) => {
    const delta = new Float32Array(p); // [P] a client's Δ
    for (let i = 0; i < p; i++) delta[i] = Math.sin(c * 7919 + i) * 1e-3;
    return { client: `c${String(c).padStart(4, "0")}`, round: 1, examples: 10 + (c % 7), delta };
  });
}

function roundMs(us: ClientUpdate[], p: number, dp: boolean): number {
  const c = new Coordinator(new Float32Array(p), {
    clientsPerRound: us.length, roundMs: 1000, server: "fedavg", seed: 1,
    ...(dp ? { dp: { clip: 1, noise: 1, delta: 1e-5, epsilon: Infinity, sampleRate: 1 } } : {}),
  });
  const t0 = performance.now();
  c.startRound(us.map((u) => u.client), 0);
  for (const u of us) if (c.submit(u)) throw new Error("a benchmark update was refused");
  c.close();
  return performance.now() - t0;
}

function floorMs(us: ClientUpdate[], p: number): number {
  const t0 = performance.now();
  const sum = new Float32Array(p); // [P] Σ n_k Δ_k / Σ n_k
  const total = us.reduce((s, u) => s + u.examples, 0);
  for (const u of us) { const w = u.examples / total; for (let i = 0; i < p; i++) sum[i] += w * u.delta[i]; }
  if (!Number.isFinite(sum[0])) throw new Error("unreachable");
  return performance.now() - t0;
}

console.log("| P | K | FedAvg round ms | DP-FedAvg round ms | bare sum ms | FedAvg / sum | DP / sum | updates/s (DP) |");
console.log("|---|---|---|---|---|---|---|---|");
const t0 = Date.now();
const total = SIZES.length * CLIENTS.length;
let done = 0;
for (const p of SIZES) {
  for (const k of CLIENTS) {
    const us = updates(k, p);
    const fed: number[] = [], dp: number[] = [], bare: number[] = [];
    for (let r = 0; r < reps; r++) { bare.push(floorMs(us, p)); fed.push(roundMs(us, p, false)); dp.push(roundMs(us, p, true)); }
    const [f, d, b] = [median(fed), median(dp), median(bare)];
    console.log(`| ${p} | ${k} | ${f.toFixed(1)} | ${d.toFixed(1)} | ${b.toFixed(1)} | ${(f / b).toFixed(2)}× | ${(d / b).toFixed(2)}× | ${Math.round(k / (d / 1000))} |`);
    done++;
    process.stderr.write(`${done}/${total} ETA ${(((Date.now() - t0) / done) * (total - done) / 1000).toFixed(0)} s\n`);
  }
}
