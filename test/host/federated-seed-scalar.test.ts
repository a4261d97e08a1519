// Seed-and-scalar rounds (host/federated/seed-scalar.ts): a client's round is (index, g) pairs,
// 8 bytes a step; replaying one client's pairs gives its adapter back (to rounding); every
// party replaying a round's aggregate gets the same bytes; FedAvg weights by example count;
// malformed pair lists are refused.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseExamples, type Example } from "../../host/commands/examples.js";
import { Engine } from "../../host/engine/engine.js";
import { readAdapter } from "../../host/format/adapter-reader.js";
import { AdapterStorage } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { readModel } from "../../host/format/reader.js";
import { CHECKSUM_OFFSET } from "../../host/format/spec.js";
import { aggregateScalars, localRound, replayAggregate, scalarProblem, SeedPool } from "../../host/federated/seed-scalar.js";
import { LoraTrainer } from "../../host/train/finetune.js";
import { MezoTrainer } from "../../host/train/mezo.js";
import { ROOT } from "./helpers.js";

const base = new Uint8Array(readFileSync(join(ROOT, "models", "default.ellm")));
const examples = (parseExamples([
  "turn off the porch light\tHassTurnOff ; name=porch light",
  "what time is it\tHassGetCurrentTime",
  "pause the music\tHassMediaPause",
].join("\n")) as { kind: "labelled"; examples: Example[] }).examples;
const START = writeAdapter(new LoraTrainer(readModel(base), new DataView(base.buffer, base.byteOffset).getUint32(CHECKSUM_OFFSET, true), 8,
  { rank: 2, alpha: 2, targets: [2, 4], lr: 0, lrDecay: 1, weightDecay: 0, batch: 1, steps: 1, seed: 3 }).adapter(AdapterStorage.F32));

function holder(): MezoTrainer {
  const e = Engine.load(base, undefined, { ctx: 64 });
  e.loadAdapter(START, 1);
  return new MezoTrainer(e, START.length, examples, { eps: 1e-3, lr: 5e-3, batch: 2, seed: 1n });
}
const params = (b: Uint8Array) => Float32Array.from(readAdapter(b).matrices.flatMap((m) => [...m.a, ...m.b]));

test("a client's round is 8 bytes a step, and replaying its pairs gives its adapter back", () => {
  const pool = new SeedPool(64, 9), client = holder(), server = holder();
  const u = localRound(client, START, pool, "home-a", examples, 12, 5);
  assert.equal(u.index.length, 12);
  assert.equal(u.index.byteLength + u.grad.byteLength, 8 * 12);
  assert.ok(u.grad.some((g) => g !== 0));
  const local = params(client.adapterBytes());
  replayAggregate(server, pool, aggregateScalars([u]), 5e-3);
  const replayed = params(server.adapterBytes());
  assert.notDeepEqual(replayed, params(START), "the replay moved the adapter");
  replayed.forEach((v, i) => assert.ok(Math.abs(v - local[i]) < 1e-5, `parameter ${i}: ${v} vs ${local[i]}`));
});

test("every party replaying a round's aggregate holds the same bytes; weights follow example counts", () => {
  const pool = new SeedPool(8, 2);
  const a = { client: "a", examples: 10, index: Uint32Array.from([3, 1, 3]), grad: Float32Array.from([1, 2, 3]), loss: 1 };
  const b = { client: "b", examples: 30, index: Uint32Array.from([1, 7]), grad: Float32Array.from([-4, 0.5]), loss: 1 };
  const agg = aggregateScalars([a, b]);
  assert.deepEqual([...agg.index], [1, 3, 7]);
  assert.deepEqual([...agg.grad], [0.25 * 2 + 0.75 * -4, 0.25 * (1 + 3), 0.75 * 0.5]);
  const x = holder(), y = holder();
  replayAggregate(x, pool, agg, 1e-2);
  replayAggregate(y, pool, agg, 1e-2);
  assert.deepEqual(x.adapterBytes(), y.adapterBytes());
});

test("pair lists that do not fit the round are refused with a reason", () => {
  const pool = new SeedPool(8, 2);
  const ok = { client: "a", examples: 5, index: Uint32Array.from([1, 2]), grad: Float32Array.from([0.1, 0.2]), loss: 1 };
  assert.equal(scalarProblem(ok, pool, 4), null);
  assert.match(scalarProblem({ ...ok, index: Uint32Array.from([1, 8]) }, pool, 4)!, /outside the pool of 8/);
  assert.match(scalarProblem({ ...ok, grad: Float32Array.from([NaN, 0]) }, pool, 4)!, /gradient 0 is NaN/);
  assert.match(scalarProblem({ ...ok, index: Uint32Array.from([1]) }, pool, 4)!, /1 seed indices but 2 gradients/);
  assert.match(scalarProblem(ok, pool, 1)!, /more than the round's 1/);
  assert.match(scalarProblem({ ...ok, examples: 0 }, pool, 4)!, /example count 0/);
});
