// The quantization-type tables: one per language (host/format/qtypes.ts, assembly/model/qtypes.ts,
// firmware/core/kernels.c), checked against each other, ids frozen, and what a peer announces.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { instantiate } from "../../host/engine/module.js";
import { convertModel } from "../../host/format/convert.js";
import { imageToFloat } from "../../host/format/dequantize.js";
import { readModel } from "../../host/format/reader.js";
import { groupProblem, QTYPES, tensorBytes } from "../../host/format/qtypes.js";
import { writeModel } from "../../host/format/writer.js";
import { TestAgent } from "./agent-helpers.js";
import { ROOT } from "./helpers.js";

// Ids are append-only: a new type goes at the end, and these never change.
const FROZEN = ["f32", "int8", "ternary", "q4", "ternary-t5"];

test("type ids are append-only and index the TypeScript table", () => {
  assert.deepEqual(QTYPES.slice(0, FROZEN.length).map((t) => t.name), FROZEN);
  QTYPES.forEach((t, i) => assert.equal(t.id, i, `${t.name} sits at its id`));
});

test("the module's table gives every type and shape the TypeScript table's tensor size (both builds)", () => {
  for (const kind of ["simd", "mvp"] as const) {
    const x = instantiate(kind);
    assert.equal(x.qtypeCount(), QTYPES.length, `${kind}: type count`);
    assert.equal(x.qtypeTensorBytes(QTYPES.length, 4, 4, 0), -1, `${kind}: an unknown type is refused`);
    for (const t of QTYPES) {
      for (const [rows, cols] of [[1, 64], [3, 5], [7, 172], [64, 64], [512, 64], [5, 129]]) {
        for (const group of [0, 1, 4, cols, 3]) {
          const want = groupProblem(t.id, cols, group) === null ? tensorBytes(t.id, rows, cols, group) : -1;
          assert.equal(x.qtypeTensorBytes(t.id, rows, cols, group), want, `${kind} ${t.name} [${rows}, ${cols}] group ${group}`);
        }
      }
    }
  }
});

test("the firmware's table lists the same types, in id order, with the same row layout", () => {
  const c = readFileSync(join(ROOT, "firmware", "core", "kernels.c"), "utf8");
  const table = c.slice(c.indexOf("NK_QTYPES[QT_COUNT] = {"));
  const rows = [...table.matchAll(/\[QT_\w+\] = \{"([\w-]+)", (\d+), (\d+), NK_SCALES_(\w+),/g)];
  assert.deepEqual(rows.map((r) => r[1]), QTYPES.map((t) => t.name));
  const scales = { NONE: "none", PER_ROW: "row", PER_GROUP: "group" } as const;
  for (const [i, r] of rows.entries()) {
    const t = QTYPES[i];
    assert.deepEqual([Number(r[2]), Number(r[3]), scales[r[4] as keyof typeof scales]], [t.blockWeights, t.blockBytes, t.scales], t.name);
  }
});

test("a peer announces its model's real quantization: t5, q4, int8, and mixed precision by name", () => {
  const committed = (name: string) => new Uint8Array(readFileSync(join(ROOT, "models", name)));
  const q4 = committed("q4.ellm");
  const int8 = writeModel(convertModel(imageToFloat(readModel(q4)), { quant: "int8" }));
  const cases: [string, Uint8Array][] = [["ternary-t5", committed("default.ellm")], ["q4", q4], ["int8", int8], ["mixed", committed("mixed.ellm")]];
  for (const kind of ["simd", "mvp"] as const) {
    for (const [want, bytes] of cases) {
      const a = new TestAgent({ engine: kind, ctx: 32, modelBytes: bytes });
      a.connected();
      const st = a.of("status")[0];
      assert.equal(st.online ? st.model.quant : "offline", want, `${kind}: ${want}`);
    }
  }
});

test("unpack is pack's inverse: every quantized tensor of the committed models round-trips byte for byte", () => {
  for (const name of ["default.ellm", "q4.ellm", "mixed.ellm"]) {
    const m = readModel(new Uint8Array(readFileSync(join(ROOT, "models", name))));
    for (const t of m.tensors) {
      const traits = QTYPES[t.qtype];
      const u = traits.unpack(t.data, t.rows, t.cols, t.group);
      assert.ok(u, `${name}: ${traits.name} unpacks`);
      if (!traits.pack) continue; // f32: the weights themselves
      assert.deepEqual(traits.pack(u.ints, u.scales, t.rows, t.cols), t.data, `${name}: kind ${t.kind} layer ${t.layer} (${traits.name})`);
    }
  }
});
