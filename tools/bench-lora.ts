// What an adapter costs per token: the default model greedy from BOS with no adapter, a rank-4
// and a rank-16 adapter on all seven matrices of every layer, in both builds, rounds interleaved
// (median of rounds), printed side by side with the ratio to no adapter. With --adapter, that
// adapter file replaces the synthetic ones and is the reference of the ratios; each --merged
// model (`edgellm merge` of MODEL and the adapter) is a row of its own, run without adapter:
// what merging saves per token.
// Usage: node dist/tools/bench-lora.js [MODEL] [--rounds N] [--steps N] [--adapter FILE] [--merged FILE]...
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
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
const values = (name: string) => args.flatMap((a, i) => (a === name && i + 1 < args.length ? [args[i + 1]] : []));
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

// The rows of one engine: a label, the model's bytes, the adapter's (or none).
interface Row { label: string; model: Uint8Array; adapter?: Uint8Array }
const adapterPath = values("--adapter")[0];
const rows: Row[] = [{ label: "none", model: bytes }];
if (adapterPath) rows.push({ label: basename(adapterPath), model: bytes, adapter: new Uint8Array(readFileSync(adapterPath)) });
else rows.push({ label: "rank 4", model: bytes, adapter: adapter(4) }, { label: "rank 16", model: bytes, adapter: adapter(16) }); // B = 0: the same tokens, the full cost
for (const path of values("--merged")) rows.push({ label: basename(path), model: new Uint8Array(readFileSync(path)) });

const cases = (["simd", "mvp"] as const).flatMap((engine) => rows.map((row) => {
  const e = Engine.load(row.model, undefined, { engine, ctx: steps });
  if (row.adapter) e.loadAdapter(row.adapter, 1);
  for (let i = 0; i < 3; i++) decodeGreedy(e, steps); // warm-up (V8 tiers up)
  return { engine, label: row.label, e, times: [] as number[], positions: 0 };
}));
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    const t0 = performance.now();
    c.positions = decodeGreedy(c.e, steps).length;
    c.times.push((performance.now() - t0) / 1000);
  }
  process.stderr.write(`round ${r + 1}/${rounds}\r`);
}
process.stdout.write(`${modelPath}: ${steps} positions greedy from BOS, median of ${rounds} interleaved rounds${adapterPath ? "" : "; adapters on wq wk wv wo w1 w2 w3 of every layer"}\n`);
const width = Math.max(8, ...rows.map((r) => r.label.length));
// Ratios to the unmerged adapter when one is given: the base alone may stop early (a token costs
// more as the context grows), the adapter and the models it was merged into write 256 positions.
const reference = adapterPath ? rows[1].label : "none";
process.stdout.write(`engine  ${"adapter".padEnd(width)}    tok/s   × ${reference}  positions\n`);
for (const c of cases) {
  const tps = c.positions / median(c.times);
  const ref = cases.find((x) => x.engine === c.engine && x.label === reference)!;
  const base0 = ref.positions / median(ref.times);
  process.stdout.write(`${c.engine.padEnd(7)} ${c.label.padEnd(width)} ${tps.toFixed(0).padStart(7)}   ${(tps / base0).toFixed(3)}  ${String(c.positions).padStart(9)}\n`);
}
