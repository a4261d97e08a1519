// The model file format: writer → reader round trips, rejection of malformed files, and the
// committed test vectors (test/vectors) that the module's reader must accept identically.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { FormatError } from "../../host/format/errors.js";
import { readModel } from "../../host/format/reader.js";
import { writeModel } from "../../host/format/writer.js";
import { crc32 } from "../../host/format/crc32.js";
import { tensorBytes } from "../../host/format/qtypes.js";
import { QType } from "../../host/format/spec.js";
import { convertModel } from "../../host/format/convert.js";
import { dequantizeQ4, q4At, quantizeQ4 } from "../../host/format/quantize.js";
import { buildVector, greedyTokens, tinyFloatModel, VECTOR_NAMES } from "../../tools/vectors.js";
import { ROOT } from "./helpers.js";

const VECTORS = join(ROOT, "test", "vectors");

interface VectorDescription {
  bytes: number;
  crc32: number;
  config: Record<string, number | boolean>;
  tensors: Array<{ kind: number; layer: number; qtype: number; rows: number; cols: number; group: number; bytes: number }>;
  greedy: number[];
  logits0: number[];
}

describe("model format", () => {
  test("crc32 matches the IEEE check value", () => {
    assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  });

  test("q4: layout (low nibble = even column, odd rows padded), sizes and round trip", () => {
    const rows = 3, cols = 5;
    const w = new Float32Array([0.7, -0.7, 0.1, -0.35, 0.0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    const d = quantizeQ4(w, rows, cols);
    assert.equal(d.length, tensorBytes(QType.Q4, rows, cols, 0));
    assert.equal(d.length, 12 + 12); // align4(3 rows × 3 bytes) + 3 scales
    assert.deepEqual(Array.from(d.subarray(0, 3)), [0x97, 0xd1, 0x00]); // 7, -7 | 1, -3 | 0, pad
    assert.deepEqual([0, 1, 2, 3, 4].map((c) => q4At(d, cols, 0, c)), [7, -7, 1, -3, 0]);
    assert.deepEqual([0, 1, 2, 3, 4].map((c) => q4At(d, cols, 1, c)), [7, 7, 7, 7, 7]);
    assert.deepEqual(Array.from(dequantizeQ4(d, rows, cols).subarray(10)), [0, 0, 0, 0, 0]);
    const back = dequantizeQ4(d, rows, cols);
    for (let i = 0; i < 10; i++) assert.ok(Math.abs(back[i] - w[i]) <= Math.fround(0.7 / 7) / 2 + 1e-6, `weight ${i}`);
    // Writer → reader: a tied q4 embedding keeps its type, group 0 and bytes.
    const image = convertModel(tinyFloatModel(true), { quant: "ternary", embedding: "q4" });
    const m = readModel(writeModel(image), "q4");
    const emb = m.tensors.find((t) => t.kind === 0)!;
    assert.equal(emb.qtype, QType.Q4);
    assert.equal(emb.group, 0);
    assert.deepEqual(emb.data, image.tensors.find((t) => t.kind === 0)!.data);
    // A ternary table takes the ternary layout asked for, even beside int8 layers.
    for (const [quant, format, qtype] of [["ternary", "t5", QType.T5], ["int8", "t2", QType.T2]] as const) {
      const t = convertModel(tinyFloatModel(true), { quant, embedding: "ternary", ternaryFormat: format });
      const read = readModel(writeModel(t), "ternary embedding");
      assert.equal(read.tensors.find((x) => x.kind === 0)!.qtype, qtype, `${quant} layers, ${format}`);
    }
    assert.throws(() => convertModel(tinyFloatModel(true), { quant: "int8", embedding: "q5" as "q4" }), /embedding type "q5"/);
  });

  for (const name of VECTOR_NAMES) {
    test(`vector ${name}: the writer reproduces the committed bytes`, () => {
      const committed = new Uint8Array(readFileSync(join(VECTORS, `${name}.ellm`)));
      assert.deepEqual(writeModel(buildVector(name)), committed);
    });

    test(`vector ${name}: the TypeScript reader matches its description`, () => {
      const bytes = new Uint8Array(readFileSync(join(VECTORS, `${name}.ellm`)));
      const desc = JSON.parse(readFileSync(join(VECTORS, `${name}.json`), "utf8")) as VectorDescription;
      const m = readModel(bytes, name);
      assert.equal(bytes.length, desc.bytes);
      assert.equal(crc32(bytes), desc.crc32);
      // Header floats are f32: compare at f32 precision.
      for (const [k, v] of Object.entries(desc.config)) {
        assert.equal((m.config as unknown as Record<string, unknown>)[k], typeof v === "number" ? Math.fround(v) : v, k);
      }
      assert.deepEqual(m.tensors.map(({ data, ...t }) => ({ ...t, bytes: data.length })), desc.tensors);
    });

    for (const engine of ["simd", "mvp"] as const) {
      test(`vector ${name}: the module (${engine}) reads it and gives the recorded logits`, () => {
        const bytes = new Uint8Array(readFileSync(join(VECTORS, `${name}.ellm`)));
        const desc = JSON.parse(readFileSync(join(VECTORS, `${name}.json`), "utf8")) as VectorDescription;
        const e = Engine.load(bytes, undefined, { engine });
        assert.deepEqual(Array.from(e.forward(1, 0)), desc.logits0.map(Math.fround));
        assert.deepEqual(greedyTokens(e, desc.greedy.length), desc.greedy);
      });
    }
  }

  // Every refusal, by both readers and the firmware with the same code: test/integration/model-refusals.test.ts.
  test("a refusal names the file and carries its code", () => {
    assert.throws(() => readModel(new Uint8Array(0), "bad.ellm"), (e: unknown) => e instanceof FormatError && e.code === "E_TOO_SHORT" && e.message === "bad.ellm: file is empty");
  });
});
