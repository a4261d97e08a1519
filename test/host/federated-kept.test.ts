// A federated client's local run options. Kept AdamW state between rounds (federate
// --keep-client-state): its local runs, stitched together, are one continuous optimization; with
// a single example every batch is the same, so two rounds of 3 steps must end bit for bit where
// one run of 6 does. FedProx (--prox-mu): the proximal term pulls the local run toward the global.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseExamples } from "../../host/commands/examples.js";
import { Engine } from "../../host/engine/engine.js";
import { readModel } from "../../host/format/reader.js";
import { CHECKSUM_OFFSET, Kind } from "../../host/format/spec.js";
import { tokenizeRows } from "../../host/train/finetune-data.js";
import { LoraTrainer } from "../../host/train/finetune.js";
import { COMMAND_LINES } from "./command-lines.js";
import { ROOT } from "./helpers.js";

const bytes = new Uint8Array(readFileSync(join(ROOT, "models", "default.ellm")));
const rows = tokenizeRows(Engine.load(bytes, undefined, { ctx: 2 }), parseExamples(COMMAND_LINES[0] + "\n"), 32);
const trainer = () => new LoraTrainer(readModel(bytes), new DataView(bytes.buffer, bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true), 32,
  { rank: 2, alpha: 2, targets: [Kind.Wq, Kind.Wv], lr: 1e-2, lrDecay: 1, weightDecay: 0, batch: 2, steps: 6, seed: 5 });

test("a kept client's two rounds of 3 steps end where one run of 6 does; fresh rounds do not", () => {
  const one = trainer(), start = one.lora.slice();
  const zero = { moments: new Float32Array(2 * start.length), adamSteps: 0 };
  one.beginLocal(start, 1, 6, { ...zero, schedule: { done: 0, total: 6 } });
  for (let s = 0; s < 6; s++) one.step(rows);
  const kept = trainer();
  kept.beginLocal(start, 1, 3, { ...zero, schedule: { done: 0, total: 6 } });
  for (let s = 0; s < 3; s++) kept.step(rows);
  const state = kept.keptState({ done: 3, total: 6 });
  assert.equal(state.adamSteps, 3);
  kept.beginLocal(kept.lora.slice(), 2, 3, state);
  for (let s = 0; s < 3; s++) kept.step(rows);
  assert.deepEqual(kept.lora, one.lora);
  const fresh = trainer();
  fresh.beginLocal(start, 1, 3);
  for (let s = 0; s < 3; s++) fresh.step(rows);
  fresh.beginLocal(fresh.lora.slice(), 2, 3);
  for (let s = 0; s < 3; s++) fresh.step(rows);
  assert.notDeepEqual(fresh.lora, one.lora, "fresh moments and a per-round cosine take another path");
  assert.throws(() => kept.beginLocal(start, 1, 3, { ...state, moments: new Float32Array(3) }), /optimizer state holds/);
});

test("FedProx: μ pulls a client's local run toward the global; μ = 0 is FedAvg's client", () => {
  const norm = (mu: number) => {
    const t = trainer(), start = t.lora.slice();
    t.beginLocal(start, 1, 6, undefined, mu);
    for (let s = 0; s < 6; s++) t.step(rows);
    return { norm: Math.hypot(...t.lora.map((x, i) => x - start[i])), lora: t.lora.slice() };
  };
  const plain = trainer(), start = plain.lora.slice();
  plain.beginLocal(start, 1, 6);
  for (let s = 0; s < 6; s++) plain.step(rows);
  assert.deepEqual(norm(0).lora, plain.lora);
  const [free, pulled] = [norm(0).norm, norm(50).norm];
  assert.ok(pulled < 0.9 * free, `a strong proximal term keeps the update small (${pulled} vs ${free})`);
});
