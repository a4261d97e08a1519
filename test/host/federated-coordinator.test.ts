// The coordinator's round logic (host/federated/coordinator.ts): FedAvg weighted by |D_k|,
// refused updates never reach the average, a client that drops out costs nothing but its own
// update, DP rounds are counted by the accountant and stop at the budget, FedAdam moves the
// global by its own rule, and sampling replays from the seed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Coordinator, type CoordinatorOptions } from "../../host/federated/coordinator.js";
import { RdpAccountant } from "../../host/privacy/accountant.js";

const opts: CoordinatorOptions = { clientsPerRound: 3, roundMs: 1000, server: "fedavg", seed: 7 };
const clients = ["a", "b", "c", "d", "e"];
const delta = (v: number, n = 4) => new Float32Array(n).fill(v);

test("FedAvg weights each accepted update by its example count", () => {
  const c = new Coordinator(new Float32Array(4), opts);
  const ann = c.startRound(clients, 0)!;
  assert.equal(ann.clients.length, 3);
  assert.equal(ann.deadlineAt, 1000);
  const [x, y, z] = ann.clients;
  assert.equal(c.submit({ client: x, round: 1, examples: 10, delta: delta(1) }), null);
  assert.equal(c.submit({ client: y, round: 1, examples: 30, delta: delta(2) }), null);
  assert.equal(c.due(500), false, "one sampled client has not answered");
  assert.equal(c.submit({ client: z, round: 1, examples: 60, delta: delta(-1) }), null);
  assert.equal(c.due(500), true, "every sampled client answered");
  const r = c.close();
  assert.equal(r.accepted, 3);
  assert.equal(r.examples, 100);
  const want = (10 * 1 + 30 * 2 + 60 * -1) / 100;
  for (const v of c.global) assert.ok(Math.abs(v - want) < 1e-6, `${v} vs ${want}`);
});

test("late, early, unsampled, duplicate, wrong-shape, non-finite and uncounted updates are refused and never averaged", () => {
  const c = new Coordinator(new Float32Array(4), opts);
  const refused: string[] = [];
  c.on("refused", (r) => refused.push(r.reason));
  const ann = c.startRound(clients, 0)!;
  const [x, y] = ann.clients;
  const outsider = clients.find((k) => !ann.clients.includes(k))!;
  assert.equal(c.submit({ client: x, round: 1, examples: 5, delta: delta(1) }), null);
  const bad = [
    c.submit({ client: x, round: 1, examples: 5, delta: delta(100) }),
    c.submit({ client: outsider, round: 1, examples: 5, delta: delta(100) }),
    c.submit({ client: y, round: 2, examples: 5, delta: delta(100) }),
    c.submit({ client: y, round: 1, examples: 5, delta: delta(100, 5) }),
    c.submit({ client: y, round: 1, examples: 5, delta: Float32Array.from([1, NaN, 0, 0]) }),
    c.submit({ client: y, round: 1, examples: 5, delta: Float32Array.from([1, Infinity, 0, 0]) }),
    c.submit({ client: y, round: 1, examples: 0, delta: delta(100) }),
    c.submit({ client: y, round: 1, examples: 2.5, delta: delta(100) }),
  ];
  assert.deepEqual(bad.map((b) => b?.reason), ["duplicate", "not-sampled", "early", "shape", "non-finite", "non-finite", "examples", "examples"]);
  assert.equal(c.due(999), false);
  assert.equal(c.due(1000), true, "the deadline closes a round whose clients dropped out");
  const r = c.close();
  assert.equal(r.accepted, 1);
  assert.equal(r.refused.length, bad.length);
  assert.deepEqual([...c.global], [1, 1, 1, 1], "only the accepted update moved the global");
  assert.equal(c.submit({ client: y, round: 1, examples: 5, delta: delta(100) })?.reason, "late");
  assert.equal(refused.length, bad.length + 1);
});

test("a round nobody answers leaves the global as it was", () => {
  const c = new Coordinator(Float32Array.from([0.5, -0.5]), opts);
  c.startRound(clients, 0);
  const r = c.close();
  assert.equal(r.accepted, 0);
  assert.deepEqual([...c.global], [0.5, -0.5]);
});

test("sampling replays from the seed and does not depend on the order clients connected in", () => {
  const draw = (order: string[]) => {
    const c = new Coordinator(new Float32Array(1), opts);
    const out: string[][] = [];
    for (let r = 0; r < 5; r++) { out.push(c.startRound(order, r)!.clients); c.close(); }
    return out;
  };
  const a = draw(clients), b = draw([...clients].reverse());
  assert.deepEqual(a, b);
  assert.ok(new Set(a.map((s) => s.join())).size > 1, "rounds draw different clients");
});

test("DP rounds: clipped, noised, counted by the accountant; no round starts past the budget", () => {
  const dp = { clip: 1, noise: 1.1, delta: 1e-5, epsilon: 8, sampleRate: 0.6 }; // ε 3.6 after one round, 8.06 after five
  const c = new Coordinator(new Float32Array(8), { ...opts, dp });
  const ref = new RdpAccountant();
  let rounds = 0;
  for (;;) {
    const ann = c.startRound(clients, rounds);
    if (!ann) break;
    for (const k of ann.clients) assert.equal(c.submit({ client: k, round: ann.round, examples: 50, delta: delta(10, 8) }), null);
    const r = c.close();
    rounds++;
    ref.step(dp.noise, dp.sampleRate);
    assert.equal(r.epsilon, ref.epsilon(dp.delta).epsilon, "ε counts every round that ran");
    assert.ok(r.epsilon! <= dp.epsilon);
    assert.equal(r.clipped, r.accepted, "updates of norm 28 are clipped to 1");
    assert.ok(rounds < 100);
  }
  assert.equal(rounds, 4);
  assert.ok(ref.epsilonAfter(dp.noise, dp.sampleRate, dp.delta).epsilon > dp.epsilon, "it stopped exactly at the budget");
  // With updates of norm 28 clipped to 1 the global moves by far less than one undefended round would.
  assert.ok(Math.max(...c.global.map(Math.abs)) < 5);
});

test("FedAdam keeps moments across rounds and resumes from its state", () => {
  const run = (stopAt?: number) => {
    let c = new Coordinator(new Float32Array(2), { ...opts, server: "fedadam" });
    for (let r = 1; r <= 4; r++) {
      if (stopAt === r) c = new Coordinator(c.global, { ...opts, server: "fedadam" }, c.state());
      const ann = c.startRound(clients, r)!;
      for (const k of ann.clients) c.submit({ client: k, round: r, examples: 1, delta: Float32Array.from([1, -2]) });
      c.close();
    }
    return c;
  };
  const whole = run(), resumed = run(3);
  assert.deepEqual([...resumed.global], [...whole.global]);
  assert.equal(whole.round, 4);
  assert.ok(whole.global[0] > 0 && whole.global[1] < 0);
  // Δ constant: m_t = 1 − 0.9^t, v_t = 1 − 0.99^t (× Δ, Δ²), each step lr·m/(√v + τ) with lr 0.01, τ 0.001.
  let want = 0;
  for (let t = 1; t <= 4; t++) want += 0.01 * (1 - 0.9 ** t) / (Math.sqrt(1 - 0.99 ** t) + 0.001);
  assert.ok(Math.abs(whole.global[0] - want) < 1e-5, `${whole.global[0]} vs ${want}`);
});
