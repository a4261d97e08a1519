// Gradient checks of the training module (assembly/train) against central finite differences,
// for every loss (cross-entropy, forward KL, reverse KL, hidden-state) on a tiny f32 model.
import assert from "node:assert/strict";
import { test } from "node:test";
import { instantiateTrain, type TrainExports } from "../../host/train/module.js";
import { TrainNet } from "../../host/train/net.js";
import type { ModelConfig } from "../../host/format/spec.js";
import { randomizeParams, rng } from "./helpers.js";

// |analytic − numeric| ≤ GRAD_RTOL·max(|analytic|, |numeric|) + GRAD_ATOL (f32 forward, h = FD_STEP).
const GRAD_RTOL = 0.05;
const GRAD_ATOL = 2e-3;
const FD_STEP = 1e-2;

const tiny: ModelConfig = { dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 16, seqLen: 4, ropeTheta: 10000, normEps: 1e-5, sharedClassifier: true };

// Norms in [0.8, 1.2), matrices in ±0.4.
const randomize = (net: TrainNet, r: () => number) => randomizeParams(net, r, 0.8, 0.4, 0.8);

interface Setup { x: TrainExports; s: TrainNet; t: TrainNet; tokens: number; targets: number; map: number }

function setup(): Setup {
  const x = instantiateTrain();
  const B = 2, T = 4;
  const s = new TrainNet(x, tiny, B, T, "f32");
  const t = new TrainNet(x, { ...tiny, nLayers: 3 }, B, T, "f32");
  const r = rng(7);
  randomize(s, r); randomize(t, r);
  const tokens = x.alloc(4 * B * T), targets = x.alloc(4 * B * T), map = x.alloc(8);
  const tk = new Int32Array(x.memory.buffer, tokens, B * T), tg = new Int32Array(x.memory.buffer, targets, B * T);
  for (let i = 0; i < B * T; i++) { tk[i] = Math.floor(r() * tiny.vocabSize); tg[i] = Math.floor(r() * tiny.vocabSize); }
  new Int32Array(x.memory.buffer, map, 2).set([0, 2]);
  x.forward(t.id, tokens);
  return { x, s, t, tokens, targets, map };
}

function lossOf(u: Setup, kind: number, hiddenWeight: number): number {
  u.x.forward(u.s.id, u.tokens);
  let l = u.x.loss(u.s.id, u.t.id, u.targets, kind, 2.0, 0.7);
  if (hiddenWeight > 0) l += u.x.hiddenLoss(u.s.id, u.t.id, u.map, hiddenWeight);
  return l;
}

function check(kind: number, hiddenWeight: number): void {
  const u = setup();
  lossOf(u, kind, hiddenWeight);
  u.x.zeroGrads(u.s.id);
  u.x.backward(u.s.id, u.tokens);
  const analytic = u.s.grads.slice();
  const r = rng(11 + kind);
  let checked = 0;
  for (const span of u.s.layout) {
    for (let k = 0; k < 4; k++) {
      const i = span.offset + Math.floor(r() * span.rows * span.cols);
      const p = u.s.params, w = p[i];
      p[i] = w + FD_STEP; const up = lossOf(u, kind, hiddenWeight);
      p[i] = w - FD_STEP; const down = lossOf(u, kind, hiddenWeight);
      p[i] = w;
      const numeric = (up - down) / (2 * FD_STEP);
      const tol = GRAD_RTOL * Math.max(Math.abs(analytic[i]), Math.abs(numeric)) + GRAD_ATOL;
      assert.ok(Math.abs(analytic[i] - numeric) <= tol, `kind ${kind} tensor ${span.kind}/${span.layer} index ${i}: analytic ${analytic[i]} numeric ${numeric}`);
      checked++;
    }
  }
  assert.ok(checked > 40);
}

test("cross-entropy gradients match finite differences", () => check(0, 0));
test("forward-KL distillation gradients match finite differences", () => check(1, 0));
test("reverse-KL (MiniLLM) gradients match finite differences", () => check(2, 0));
test("hidden-state loss gradients match finite differences", () => check(1, 0.5));
