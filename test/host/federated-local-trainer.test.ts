// A trainer's compute for one round (host/federated/local-trainer.ts) on the repository's
// default model: the update's wire form and size per method, the recipe's local DP honoured
// before the update leaves (its norm within the clip), the worker thread giving the same bytes
// as this thread, a kept client's rounds (recipe keepState) equal to the simulation's, and a
// global adapter for another base refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadModel } from "../../host/cli/model-source.js";
import { AdapterStorage } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { Engine } from "../../host/engine/engine.js";
import { bytesToF32, bytesToPairs, f32ToBytes } from "../../host/federated/chunks.js";
import { denseLocalRound, type KeptClients } from "../../host/federated/local-round.js";
import { LocalTrainer, LocalTrainerError, modelChecksum } from "../../host/federated/local-trainer.js";
import { TrainThread } from "../../host/federated/train-thread.js";
import type { Recipe } from "../../host/fleet/messages.js";
import { tokenizeRows } from "../../host/train/finetune-data.js";
import { f32AdapterImage, LORA_TARGET_KINDS, LoraTrainer } from "../../host/train/finetune.js";

const m = loadModel(undefined, undefined);
const examples = Array.from({ length: 12 }, (_, i) => ({ sentence: `turn ${i % 2 ? "on" : "off"} the light ${i}`, label: `HassTurn${i % 2 ? "On" : "Off"} ; domain=light` }));
const shaper = new LoraTrainer(m.image, modelChecksum(m), 32, { rank: 1, alpha: 1, targets: [...LORA_TARGET_KINDS], lr: 1e-2, lrDecay: 1, weightDecay: 0, batch: 2, steps: 2, seed: 3 });
const global = f32AdapterImage(shaper);
const dense: Recipe = { method: "backprop", steps: 2, lr: 1e-2, batch: 2, seq: 32, seed: 3 };

test("backprop: Δ as f32 of the adapter's size, |D_k| = the examples; local DP clips it before it leaves", () => {
  const t = new LocalTrainer(m, examples);
  const r = t.train("h", 1, dense, global);
  assert.equal(r.method, "backprop");
  assert.equal(r.examples, examples.length);
  const d = bytesToF32(r.bytes);
  assert.equal(d.length, shaper.nLora);
  const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
  assert.ok(norm(d) > 0.01, `the plain update is larger than the clip below (${norm(d)})`);
  const clipped = bytesToF32(t.train("h", 1, { ...dense, localDp: { clip: 0.01, noise: 0 } }, global).bytes);
  assert.ok(norm(clipped) <= 0.01 * (1 + 1e-5), `clipped to S: ${norm(clipped)}`);
  const noised = bytesToF32(t.train("h", 1, { ...dense, localDp: { clip: 0.01, noise: 1 } }, global).bytes);
  assert.ok(norm(noised) > 0.05, "noise of σ = z·S on every number");
});

test("mezo: (index, g) pairs, 8 bytes a step, indices in the pool", () => {
  const t = new LocalTrainer(m, examples);
  const r = t.train("h", 1, { method: "mezo", steps: 5, lr: 1e-3, batch: 2, seq: 32, seed: 3, mezo: { eps: 1e-3, pool: 16, poolSeed: 3 } }, global);
  assert.equal(r.bytes.length, 40);
  const p = bytesToPairs(r.bytes);
  assert.ok([...p.index].every((j) => j < 16));
  assert.ok([...p.grad].every(Number.isFinite));
  assert.throws(() => t.train("h", 1, { method: "mezo", steps: 5, lr: 1e-3, batch: 2, seq: 32, seed: 3 }, global), LocalTrainerError);
});

test("the worker thread's update is this thread's, bit for bit", async () => {
  const w = new TrainThread(m.bytes, examples);
  try {
    const there = await w.train("h", 2, dense, global);
    const here = new LocalTrainer(m, examples).train("h", 2, dense, global);
    assert.ok(Buffer.from(there.bytes).equals(Buffer.from(here.bytes)));
  } finally { await w.close(); }
});

test("a global adapter for another base model is refused", () => {
  const ad = shaper.adapter(AdapterStorage.F32);
  const other = writeAdapter({ ...ad, base: { ...ad.base, checksum: (ad.base.checksum ^ 1) >>> 0 } });
  assert.throws(() => new LocalTrainer(m, examples).train("h", 1, dense, other), (e: unknown) => e instanceof LocalTrainerError && /another base model/.test(e.message));
  assert.throws(() => new LocalTrainer(m, []), /no training examples/);
});

test("keepState: a trainer's rounds are a simulated kept client's, bit for bit; a round trained again starts where it first did", () => {
  const kept: Recipe = { ...dense, keepState: { rounds: 3 } };
  const t = new LocalTrainer(m, examples);
  const up = (r: number, recipe = kept, on = t) => Buffer.from(on.train("h", r, recipe, global).bytes);
  const [u1, u2] = [up(1), up(2)];
  assert.ok(up(2).equals(u2), "round 2 again (a resumed coordinator): from the state after round 1, not after round 2");
  const u3 = up(3);
  // The simulation's kept client (local-round.ts) on a trainer of the same shape, the same global each round.
  const sim = new LoraTrainer(m.image, modelChecksum(m), 32, { ...shaper.o });
  const rows = tokenizeRows(Engine.load(m.bytes, undefined, { engine: "simd", ctx: 2 }), { kind: "labelled", examples }, 32);
  const clients: KeptClients = { rounds: 3, clients: new Map() };
  const simulated = [1, 2, 3].map((r) => Buffer.from(f32ToBytes(denseLocalRound(sim, shaper.lora.slice(), rows, dense.steps, dense.seed, r, "h", undefined, clients).delta)));
  assert.deepEqual([u1, u2, u3].map((u) => u.toString("hex")), simulated.map((u) => u.toString("hex")));
  assert.ok(!up(2, dense, new LocalTrainer(m, examples)).equals(u2), "without keepState round 2 starts fresh: another update");
  const other: Recipe = { ...kept, seed: 4 };
  assert.ok(up(2, other).equals(up(2, other, new LocalTrainer(m, examples))), "another run's recipe starts fresh");
});
