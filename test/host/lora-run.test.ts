// Adapters at inference (assembly/model/lora.ts): on an f32 base the adapted logits equal the
// merged model's W + (α/r)·B·A within f32 rounding; scale 0 is the base; SIMD and MVP print the
// same bytes; an adapter for another base is one line naming both files.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { AdapterStorage } from "../../host/format/adapter-spec.js";
import { readAdapter } from "../../host/format/adapter-reader.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { convertModel } from "../../host/format/convert.js";
import { imageToFloat } from "../../host/format/dequantize.js";
import { tensorKey } from "../../host/format/float-model.js";
import { readModel } from "../../host/format/reader.js";
import { writeModel } from "../../host/format/writer.js";
import { randomAdapter } from "./adapter-helpers.js";
import { ROOT, runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "edgellm-lora-run-"));
test("on an f32 base, base + adapter gives the merged model's logits (f32 and f16 storage, both builds)", () => {
  const baseBytes = new Uint8Array(readFileSync(join(ROOT, "test", "vectors", "tiny-f32.ellm")));
  for (const storage of [AdapterStorage.F32, AdapterStorage.F16]) {
    const adBytes = writeAdapter(randomAdapter(baseBytes, 3, storage, 11 + storage));
    const ad = readAdapter(adBytes); // the values as stored (f16 rounded)
    const f = imageToFloat(readModel(baseBytes));
    for (const m of ad.matrices) {
      const w = f.tensors.get(tensorKey(m.kind, m.layer))!, k = ad.alpha / ad.rank * 0.5;
      for (let o = 0; o < m.out; o++) for (let i = 0; i < m.in; i++) {
        let d = 0;
        for (let j = 0; j < ad.rank; j++) d += m.b[o * ad.rank + j] * m.a[j * m.in + i];
        w[o * m.in + i] += k * d;
      }
    }
    const merged = writeModel(convertModel(f, { quant: "f32", tokenizer: f.tokenizer }));
    for (const kind of ["simd", "mvp"] as const) {
      const e = Engine.load(baseBytes, undefined, { engine: kind });
      const before = Array.from(e.forward(1, 0));
      assert.equal(e.loadAdapter(adBytes, 0.5), ad.matrices.length);
      const m = Engine.load(merged, undefined, { engine: kind });
      for (const [tok, pos] of [[1, 0], [5, 1], [9, 2]]) {
        const got = e.forward(tok, pos), want = m.forward(tok, pos);
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `${kind} ${AdapterStorage[storage]} logit ${i}: ${got[i]} vs ${want[i]}`);
      }
      e.x.adapterClear();
      assert.deepEqual(Array.from(e.forward(1, 0)), before, "cleared: the base again");
    }
  }
});

test("run --lora: scale 0 is the base, the adapter changes the text, SIMD = MVP; another base's adapter is one line", () => {
  const model = join(ROOT, "models", "default.ellm");
  const bytes = new Uint8Array(readFileSync(model));
  const path = join(dir, "rand.ella");
  writeFileSync(path, writeAdapter(randomAdapter(bytes, 4, AdapterStorage.F16, 5, 3)));
  const run = (extra: string[]) => {
    const r = runCli(["run", model, "-i", "Once upon a time", "-t", "0", "-n", "48", ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const base = run([]);
  assert.equal(run(["--lora", `${path}:0`]), base, "scale 0");
  const adapted = run(["--lora", path]);
  assert.notEqual(adapted, base);
  assert.equal(run(["--lora", `${path}:1`, "--engine", "mvp"]), adapted, "MVP = SIMD");
  const other = runCli(["run", model, "--lora", join(ROOT, "test", "vectors", "adapter", "tiny-f32.ella")]);
  assert.notEqual(other.code, 0);
  assert.match(other.stderr, /tiny-f32\.ella was made for a model with .*default\.ellm has/);
  assert.equal(other.stderr.trim().split("\n").length, 1);
});
