// The quantization ramp ("quantRamp"): during the ramp the training forward runs a weighted
// mean of the latent and the quantized weights; the written model is always the fully
// quantized one, so it still runs exactly as the training forward at the ramp's end.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import type { ModelConfig } from "../../host/format/spec.js";
import { writeModel } from "../../host/format/writer.js";
import { DEFAULTS, type StudentConfig } from "../../host/train/config.js";
import { instantiateTrain } from "../../host/train/module.js";
import { isMatrix, TrainNet } from "../../host/train/net.js";
import { quantBlend } from "../../host/train/trainer.js";
import { randomizeParams, rng } from "./helpers.js";

const cfg: ModelConfig = { dim: 64, hiddenDim: 96, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 16, ropeTheta: 10000, normEps: 1e-5, sharedClassifier: true };
const T = 16;
// w / s · s in f32: one rounding of the division and one of the product.
const BLEND_REL_TOL = 1e-6;

function randomNet() {
  const x = instantiateTrain();
  const net = new TrainNet(x, cfg, 1, T, "ternary", "q4");
  randomizeParams(net, rng(777), 0.5, 1, 0.3);
  const tokens = x.alloc(4 * T);
  new Int32Array(x.memory.buffer, tokens, T).set(Array.from({ length: T }, (_, i) => (i * 37 + 1) % cfg.vocabSize));
  // The weights the forward used: integers (or blends) times their row scale.
  const effective = (blend: number) => {
    net.setQuantBlend(blend);
    x.forward(net.id, tokens);
    const wi = new Float32Array(x.memory.buffer, x.quantWeights(net.id), net.n).slice();
    const ws = new Float32Array(x.memory.buffer, x.quantScales(net.id), net.n);
    for (const sp of net.layout.filter((l) => isMatrix(l.kind))) {
      for (let i = 0; i < sp.rows * sp.cols; i++) wi[sp.offset + i] *= ws[sp.offset + Math.floor(i / sp.cols)];
    }
    return { weights: wi, logits: net.logits.slice() };
  };
  return { x, net, tokens, effective };
}

test("blend 0 runs the latent weights, blend 1 the quantized ones, and between their weighted mean", () => {
  const { net, effective } = randomNet();
  const latent = net.params.slice();
  const w0 = effective(0), w1 = effective(1), wq = effective(0.25);
  let worst0 = 0, worstMid = 0;
  for (const sp of net.layout.filter((l) => isMatrix(l.kind))) {
    for (let i = sp.offset; i < sp.offset + sp.rows * sp.cols; i++) {
      const scale = Math.max(Math.abs(latent[i]), 1e-3);
      worst0 = Math.max(worst0, Math.abs(w0.weights[i] - latent[i]) / scale);
      worstMid = Math.max(worstMid, Math.abs(wq.weights[i] - (0.25 * w1.weights[i] + 0.75 * latent[i])) / scale);
    }
  }
  assert.ok(worst0 <= BLEND_REL_TOL, `blend 0: max relative |w_eff − w| ${worst0}`);
  assert.ok(worstMid <= 4 * BLEND_REL_TOL, `blend 0.25: max relative error ${worstMid}`);
  const differ = w0.logits.some((v, i) => Math.abs(v - w1.logits[i]) > 1e-3);
  assert.ok(differ, "the latent and the ternary weights give different logits");
});

test("a model exported mid-ramp is the fully quantized one and runs exactly as the blend-1 forward", () => {
  const { net, x, tokens, effective } = randomNet();
  effective(0.4);
  const image = net.toImage();
  x.forward(net.id, tokens);
  const trained = net.logits.slice();
  const e = Engine.load(writeModel(image), undefined, { engine: "simd" });
  let worst = 0;
  for (let pos = 0; pos < T; pos++) {
    const logits = e.forward((pos * 37 + 1) % cfg.vocabSize, pos);
    for (let v = 0; v < cfg.vocabSize; v++) worst = Math.max(worst, Math.abs(logits[v] - trained[pos * cfg.vocabSize + v]));
  }
  assert.equal(worst, 0, `max |Δlogit| ${worst}`);
});

test("the ramp rises linearly from 0 at step 0 to 1 at quantRamp, and is 1 throughout when off", () => {
  const c = { ...DEFAULTS, quantRamp: 100 } as StudentConfig;
  assert.deepEqual([0, 25, 50, 99, 100, 500].map((s) => quantBlend(c, s)), [0, 0.25, 0.5, 0.99, 1, 1]);
  assert.deepEqual([0, 1, 999].map((s) => quantBlend({ ...c, quantRamp: 0 }, s)), [1, 1, 1]);
});
