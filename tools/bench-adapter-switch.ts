// What a fleet peer pays to change adapters between tasks (issue 18 part 6): switching among
// held adapters (adapterUse: detach, re-point the links held since start, nothing allocated)
// against what the alternatives would cost per task: loading the adapter anew (adapterClear +
// adapterLoad of the bytes, which also grows the heap every time) and reloading the base model.
// Both builds; medians of many repetitions.
// Usage: node dist/tools/bench-adapter-switch.js [MODEL] [ADAPTER.ella] [--reps N]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../host/engine/engine.js";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { median } from "../host/bench/measure.js";

const args = process.argv.slice(2);
const flag = (name: string, d: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : d; };
const paths = args.filter((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1].startsWith("--")));
const modelPath = paths[0] ?? join(PROJECT_ROOT, "models", "default.ellm");
const adapterPath = paths[1] ?? join(PROJECT_ROOT, "models", "home.ella");
const reps = flag("--reps", 2000);
const model = new Uint8Array(readFileSync(modelPath)), adapter = new Uint8Array(readFileSync(adapterPath));

// Median µs of one call of fn over n repetitions, timed in batches of `batch` (timer resolution).
function timeUs(fn: () => void, n: number, batch: number): number {
  for (let i = 0; i < batch * 3; i++) fn(); // warm-up
  const t: number[] = [];
  for (let r = 0; r < n / batch; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    t.push((performance.now() - t0) * 1000 / batch);
  }
  return median(t);
}

process.stdout.write(`${modelPath} with ${adapterPath} (${adapter.length} bytes): µs per change of adapter, median\n`);
process.stdout.write("engine  switch (held)   reload adapter   reload base\n");
for (const engine of ["simd", "mvp"] as const) {
  const e = Engine.load(model, undefined, { engine });
  const a = e.holdAdapter(adapter), b = e.holdAdapter(adapter);
  let k = 0;
  const mem0 = e.x.memoryBytes();
  const sw = timeUs(() => { e.useAdapter(k++ & 1 ? a : b, 1 + (k & 3)); }, reps * 10, 100);
  if (e.x.memoryBytes() !== mem0) throw new Error("switching grew linear memory");
  // A fresh engine for the reloads: every adapterLoad takes heap the bump allocator never returns.
  const r = Engine.load(model, undefined, { engine });
  const reload = timeUs(() => { r.x.adapterClear(); r.loadAdapter(adapter, 1); }, Math.min(reps, 200), 10);
  const base = timeUs(() => { Engine.load(model, undefined, { engine }); }, 30, 1);
  process.stdout.write(`${engine.padEnd(7)} ${sw.toFixed(2).padStart(13)}   ${reload.toFixed(1).padStart(14)}   ${base.toFixed(0).padStart(11)}\n`);
}
