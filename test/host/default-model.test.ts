// The committed models: the default (models/default.ellm) is small enough for a
// microcontroller, ternary, carries its tokenizer, and generates text on both builds; the int4
// student (models/q4.ellm) is int4 throughout, the mixed student (models/mixed.ellm) keeps the
// default's budget with int4 attention; both carry their tokenizer.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { generate } from "../../host/engine/generate.js";
import { readModel } from "../../host/format/reader.js";
import { isTernary } from "../../host/format/qtypes.js";
import { Kind, QType } from "../../host/format/spec.js";
import { ROOT } from "./helpers.js";

const DEFAULT = join(ROOT, "models", "default.ellm");
const MAX_FILE_BYTES = 100_000;        // ≤ 100 KB

test("default model is at most 100 KB, ternary with a 4- or 8-bit embedding, with its tokenizer", () => {
  assert.ok(statSync(DEFAULT).size <= MAX_FILE_BYTES, `${statSync(DEFAULT).size} bytes`);
  const img = readModel(new Uint8Array(readFileSync(DEFAULT)), DEFAULT);
  assert.ok(img.tokenizer && img.tokenizer.length > 0);
  assert.equal(img.config.vocabSize, 512);
  for (const t of img.tensors) {
    if (t.kind === Kind.Embedding) assert.ok(t.qtype === QType.Q4 || t.qtype === QType.Q8, `embedding qtype ${t.qtype}`);
    else if (t.rows > 1) assert.ok(isTernary(t.qtype), `tensor kind ${t.kind} layer ${t.layer}: qtype ${t.qtype}`);
  }
});

test("the mixed student is at most 100 KB: ternary FFN, int4 attention and embedding, with its tokenizer", () => {
  const path = join(ROOT, "models", "mixed.ellm");
  assert.ok(statSync(path).size <= MAX_FILE_BYTES, `${statSync(path).size} bytes`);
  const img = readModel(new Uint8Array(readFileSync(path)), path);
  assert.ok(img.tokenizer && img.tokenizer.length > 0);
  const ffn = new Set([Kind.W1, Kind.W2, Kind.W3]);
  for (const t of img.tensors.filter((t) => t.rows > 1)) {
    assert.ok(ffn.has(t.kind) ? isTernary(t.qtype) : t.qtype === QType.Q4, `tensor kind ${t.kind} layer ${t.layer}: qtype ${t.qtype}`);
  }
});

test("the int4 student has int4 layers and embedding, with its tokenizer", () => {
  const path = join(ROOT, "models", "q4.ellm");
  const img = readModel(new Uint8Array(readFileSync(path)), path);
  assert.ok(img.tokenizer && img.tokenizer.length > 0);
  for (const t of img.tensors.filter((t) => t.rows > 1)) assert.equal(t.qtype, QType.Q4, `tensor kind ${t.kind} layer ${t.layer}`);
});

// The 144 KiB budget is the device's, where the weights stay in flash: that run is
// test/integration/default-model-device.test.ts. Here: both builds generate over the whole context.
for (const engine of ["simd", "mvp"] as const) {
  test(`default model generates over its whole context (${engine}, int8 KV)`, () => {
    const e = Engine.load(new Uint8Array(readFileSync(DEFAULT)), undefined, { engine, ctx: 0, kvInt8: true });
    assert.equal(e.info.ctx, e.info.seqLen);
    const parts: Buffer[] = [];
    generate(e, { prompt: "Once upon a time", steps: e.info.ctx - 1, temperature: 0, topp: 0.9, seed: 1n }, (b) => parts.push(Buffer.from(b)));
    const text = Buffer.concat(parts).toString("utf8");
    assert.match(text, /^Once upon a time/);
    assert.ok(text.split(" ").length > 20, text);
  });
}
