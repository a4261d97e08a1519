// Fine-tuning with adapters in the training module (model.ts initLora, lora.ts): the base is
// frozen as written, B = 0 keeps the base's logits exactly, the adapters' gradients match central
// finite differences of the cross-entropy, and a target below 0 is not predicted.
import assert from "node:assert/strict";
import { test } from "node:test";
import { instantiateTrain } from "../../host/train/module.js";
import { TrainNet } from "../../host/train/net.js";
import type { ModelConfig } from "../../host/format/spec.js";
import { randomizeParams, rng } from "./helpers.js";

const tiny: ModelConfig = { dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 16, seqLen: 4, ropeTheta: 10000, normEps: 1e-5, sharedClassifier: true };
const B = 2, T = 4, N = B * T, RANK = 2, K = 0.5;
const GRAD_RTOL = 0.05, GRAD_ATOL = 2e-3, FD_STEP = 1e-2;

function setup(masked: boolean) {
  const x = instantiateTrain();
  const net = new TrainNet(x, tiny, B, T, "f32");
  const r = rng(5);
  randomizeParams(net, r, 0.8, 0.4, 0.8);
  const tokens = x.alloc(4 * N), targets = x.alloc(4 * N);
  const tk = new Int32Array(x.memory.buffer, tokens, N), tg = new Int32Array(x.memory.buffer, targets, N);
  for (let i = 0; i < N; i++) { tk[i] = Math.floor(r() * 16); tg[i] = masked && i % 3 !== 2 ? -1 : Math.floor(r() * 16); }
  x.forward(net.id, tokens); // the last quantization of the base: what stays frozen
  const base = net.logits.slice();
  const n = x.loraInit(net.id, RANK, 0x7f, K);
  const lora = () => new Float32Array(x.memory.buffer, x.loraParams(net.id), n);
  const loss = () => { x.forward(net.id, tokens); return x.loss(net.id, -1, targets, 0, 1, 0); };
  return { x, net, n, r, lora, loss, base, tokens, targets };
}

test("initLora counts A [R][in] and B [out][R] for every target of every layer; B = 0 keeps the base's logits", () => {
  const u = setup(false);
  const perLayer = RANK * (8 + 8) + RANK * (8 + 4) * 2 + RANK * (8 + 8) + RANK * (8 + 12) * 2 + RANK * (12 + 8);
  assert.equal(u.n, 2 * perLayer);
  assert.equal(u.x.loraOffset(u.net.id, 0, 0), 0);
  assert.equal(u.x.loraOffset(u.net.id, 1, 0), perLayer);
  assert.equal(u.x.loraOffset(u.net.id, 2, 0), -1);
  const lora = u.lora();
  for (let i = 0; i < lora.length; i++) lora[i] = 0;
  // A random A with B = 0: the adapter adds nothing.
  for (let l = 0; l < 2; l++) for (let t = 0; t < 7; t++) {
    const a = u.x.loraOffset(u.net.id, l, t), inW = t === 5 ? 12 : 8;
    for (let i = 0; i < RANK * inW; i++) lora[a + i] = u.r() - 0.5;
  }
  u.x.forward(u.net.id, u.tokens);
  assert.deepEqual(u.net.logits, u.base);
  assert.equal(u.x.loraInit(u.net.id, 0, 1, 1), -1, "rank 0 is refused");
});

for (const masked of [false, true]) {
  test(`the adapters' gradients match finite differences${masked ? " (prompt positions masked)" : ""}; the base does not move`, () => {
    const u = setup(masked);
    const lora = u.lora();
    for (let i = 0; i < lora.length; i++) lora[i] = (u.r() - 0.5) * 0.6;
    const baseParams = u.net.params.slice();
    u.loss();
    u.x.loraZeroGrads(u.net.id);
    u.x.backward(u.net.id, u.tokens);
    const analytic = new Float32Array(u.x.memory.buffer, u.x.loraGrads(u.net.id), u.n).slice();
    const r = rng(masked ? 9 : 8);
    for (let k = 0; k < 40; k++) {
      const i = Math.floor(r() * u.n);
      const w = lora[i];
      lora[i] = w + FD_STEP; const up = u.loss();
      lora[i] = w - FD_STEP; const down = u.loss();
      lora[i] = w;
      const numeric = (up - down) / (2 * FD_STEP);
      const tol = GRAD_RTOL * Math.max(Math.abs(analytic[i]), Math.abs(numeric)) + GRAD_ATOL;
      assert.ok(Math.abs(analytic[i] - numeric) <= tol, `lora[${i}]: analytic ${analytic[i]} numeric ${numeric}`);
    }
    u.x.loraAdamw(u.net.id, 0, u.n, 0.01, 0.9, 0.999, 1e-8, 0, 1);
    assert.deepEqual(u.net.params, baseParams, "the frozen base's parameters are untouched");
  });
}

test("a target below 0 is not predicted: the loss is the mean over the others", () => {
  const u = setup(true);
  const lossMasked = u.loss();
  const logits = u.net.logits, tg = new Int32Array(u.x.memory.buffer, u.targets, N);
  let sum = 0, n = 0;
  for (let t = 0; t < N; t++) {
    if (tg[t] < 0) continue;
    const row = logits.subarray(t * 16, t * 16 + 16);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0));
    sum += lse - row[tg[t]]; n++;
  }
  assert.ok(Math.abs(lossMasked - sum / n) < 1e-4, `${lossMasked} vs ${sum / n}`);
});
