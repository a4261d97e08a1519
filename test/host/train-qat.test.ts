// Quantization-aware training runs exactly as trained: the training forward with ternary,
// int8 or int4 fake quantization (or a mix: attention in one type, FFN in another) and the
// inference module's t2/q8/q4 kernels on the exported file give the same logits.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import type { ModelConfig } from "../../host/format/spec.js";
import { writeModel } from "../../host/format/writer.js";
import { quantOf } from "../../host/format/load.js";
import { instantiateTrain } from "../../host/train/module.js";
import { ATTENTION_KINDS, Kind, QType } from "../../host/format/spec.js";
import { TrainNet, type TableQuant, type TrainQuant } from "../../host/train/net.js";
import type { TernaryFormat } from "../../host/format/convert.js";
import { randomizeParams, rng } from "./helpers.js";

// The training forward calls the inference kernels themselves (rmsnorm, attention scores/mix,
// exp, swiglu) and does integer matmuls exactly, then applies the scales in the kernels' order,
// so the logits are bit-identical.
const QAT_LOGIT_TOL = 0;

const cfg: ModelConfig = { dim: 64, hiddenDim: 172, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 16, ropeTheta: 10000, normEps: 1e-5, sharedClassifier: true };

function run(quant: TrainQuant, table: TableQuant, engine: "simd" | "mvp", attention: TrainQuant = quant, format: TernaryFormat = "t2"): number {
  const x = instantiateTrain();
  const T = 16;
  const net = new TrainNet(x, cfg, 1, T, quant, table, attention);
  randomizeParams(net, rng(12345), 0.5, 1, 0.3);
  const tokens = Array.from({ length: T }, (_, i) => (i * 37 + 1) % cfg.vocabSize);
  const image = net.toImage(undefined, format);
  const qtype = (q: TrainQuant) => ({ ternary: format === "t5" ? QType.T5 : QType.T2, int8: QType.Q8, q4: QType.Q4, f32: QType.F32 })[q];
  assert.equal(image.tensors[0].qtype, qtype(table), "embedding stored in the trained type");
  for (const t of image.tensors.filter((t) => t.rows > 1 && t.kind !== Kind.Embedding)) {
    assert.equal(t.qtype, qtype(ATTENTION_KINDS.includes(t.kind) ? attention : quant), `kind ${t.kind} stored in the trained type`);
  }
  const named = (q: TrainQuant) => (q === "ternary" && format === "t5" ? "ternary-t5" : q);
  assert.equal(quantOf(image), attention === quant ? named(quant) : `${named(quant)}, attention ${named(attention)}`, "info and eval name the mix");
  const ptr = x.alloc(4 * T);
  new Int32Array(x.memory.buffer, ptr, T).set(tokens);
  x.forward(net.id, ptr);
  const trained = net.logits.slice();
  const e = Engine.load(writeModel(image), undefined, { engine });
  let worst = 0;
  for (let pos = 0; pos < T; pos++) {
    const logits = e.forward(tokens[pos], pos);
    for (let v = 0; v < cfg.vocabSize; v++) worst = Math.max(worst, Math.abs(logits[v] - trained[pos * cfg.vocabSize + v]));
  }
  return worst;
}

for (const [quant, table] of [["ternary", "int8"], ["int8", "int8"], ["ternary", "q4"], ["int8", "q4"], ["q4", "q4"]] as const) {
  for (const engine of ["simd", "mvp"] as const) {
    test(`${quant} QAT with ${table === "int8" ? "an" : "a"} ${table} embedding: logits equal the ${engine} inference module's`, () => {
      const worst = run(quant, table, engine);
      assert.ok(worst <= QAT_LOGIT_TOL, `max |Δlogit| ${worst} > ${QAT_LOGIT_TOL}`);
    });
  }
}

// Mixed precision: the attention matrices in another type than the FFN's.
for (const [quant, attention] of [["ternary", "q4"], ["ternary", "int8"], ["q4", "ternary"]] as const) {
  for (const engine of ["simd", "mvp"] as const) {
    test(`${quant} FFN with ${attention} attention (q4 embedding): logits equal the ${engine} inference module's`, () => {
      const worst = run(quant, "q4", engine, attention);
      assert.ok(worst <= QAT_LOGIT_TOL, `max |Δlogit| ${worst} > ${QAT_LOGIT_TOL}`);
    });
  }
}

// The dense ternary layout (t5) stores the same integers and scales: still exactly as trained,
// on the SIMD build (repacked to t2 at load) and the MVP build (t5 lookup tables).
for (const attention of ["ternary", "q4"] as const) {
  for (const engine of ["simd", "mvp"] as const) {
    test(`ternary stored as t5${attention === "q4" ? ", q4 attention" : ""} (q4 embedding): logits equal the ${engine} inference module's`, () => {
      const worst = run("ternary", "q4", engine, attention, "t5");
      assert.ok(worst <= QAT_LOGIT_TOL, `max |Δlogit| ${worst} > ${QAT_LOGIT_TOL}`);
    });
  }
}

// A ternary embedding and tied classifier (absmean per row, like the layer matrices), in both
// layouts: the lookup dequantizes a ternary row, the classifier runs the ternary kernels.
for (const [quant, format] of [["ternary", "t2"], ["ternary", "t5"], ["q4", "t5"]] as const) {
  for (const engine of ["simd", "mvp"] as const) {
    test(`${quant} QAT with a ternary embedding stored as ${format}: logits equal the ${engine} inference module's`, () => {
      const worst = run(quant, "ternary", engine, quant, format);
      assert.ok(worst <= QAT_LOGIT_TOL, `max |Δlogit| ${worst} > ${QAT_LOGIT_TOL}`);
    });
  }
}
