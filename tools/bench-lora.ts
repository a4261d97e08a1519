// What an adapter costs per token: the default model greedy from BOS with no adapter, a rank-4
// and a rank-16 adapter on all seven matrices of every layer, in both builds, rounds interleaved
// (median of rounds), printed side by side with the ratio to no adapter.
// Usage: node dist/tools/bench-lora.js [MODEL] [--rounds N] [--steps N]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../host/engine/engine.js";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { decodeGreedy, median } from "../host/bench/measure.js";
import type { Adapter } from "../host/format/adapter.js";
import { AdapterStorage, baseIdentity, targetShape } from "../host/format/adapter-spec.js";
import { writeAdapter } from "../host/format/adapter-writer.js";
import { readModel } from "../host/format/reader.js";
import { CHECKSUM_OFFSET, Kind } from "../host/format/spec.js";

const args = process.argv.slice(2);
const flag = (name: string, d: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : d; };
const modelPath = args.find((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1].startsWith("--"))) ?? join(PROJECT_ROOT, "models", "default.ellm");
const rounds = flag("--rounds", 7), steps = flag("--steps", 256);
const bytes = new Uint8Array(readFileSync(modelPath)), m = readModel(bytes);
const base = baseIdentity(m.config, new DataView(bytes.buffer, bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true));

function adapter(rank: number): Uint8Array {
  const matrices: Adapter["matrices"] = [];
  for (let layer = 0; layer < m.config.nLayers; layer++) for (const kind of [Kind.Wq, Kind.Wk, Kind.Wv, Kind.Wo, Kind.W1, Kind.W2, Kind.W3]) {
    const [out, inn] = targetShape(base, kind);
    matrices.push({ kind, layer, storage: AdapterStorage.F32, out, in: inn, a: new Float32Array(rank * inn).fill(0.01), b: new Float32Array(out * rank) });
  }
  return writeAdapter({ base, rank, alpha: rank, matrices });
}

const cases = (["simd", "mvp"] as const).flatMap((engine) => [0, 4, 16].map((rank) => {
  const e = Engine.load(bytes, undefined, { engine, ctx: steps });
  if (rank) e.loadAdapter(adapter(rank), 1); // B = 0: the same tokens, the full cost
  for (let i = 0; i < 3; i++) decodeGreedy(e, steps); // warm-up (V8 tiers up)
  return { engine, rank, e, times: [] as number[], positions: 0 };
}));
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    const t0 = performance.now();
    c.positions = decodeGreedy(c.e, steps).length;
    c.times.push((performance.now() - t0) / 1000);
  }
  process.stderr.write(`round ${r + 1}/${rounds}\r`);
}
process.stdout.write(`${modelPath}: ${steps} positions greedy from BOS, median of ${rounds} interleaved rounds; adapters on wq wk wv wo w1 w2 w3 of every layer\n`);
process.stdout.write("engine  adapter    tok/s   × none\n");
for (const c of cases) {
  const tps = c.positions / median(c.times);
  const none = cases.find((x) => x.engine === c.engine && x.rank === 0)!;
  const base0 = none.positions / median(none.times);
  process.stdout.write(`${c.engine.padEnd(7)} ${(c.rank ? `rank ${c.rank}` : "none").padEnd(8)} ${tps.toFixed(0).padStart(7)}   ${(tps / base0).toFixed(3)}\n`);
}
