// The POSIX firmware (wasm3) against the V8 engine and llama2.c's reference output.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { join } from "node:path";
import { Engine } from "../../host/engine/engine.js";
import { fw, FW_DEVICE, model, REFERENCE, ROOT, TOKENIZER, v8Output } from "./firmware-helpers.js";

interface ReferenceCase { prompt: string | null; steps: number; temperature: number; stdout: string }

test("fp32 stories260K under wasm3 prints llama2.c's reference output byte for byte", () => {
  const ref = JSON.parse(readFileSync(REFERENCE, "utf8")) as { cases: ReferenceCase[] };
  assert.ok(ref.cases.length > 0);
  for (const c of ref.cases) {
    const args = ["run", model("f32"), "-t", "0", "-n", String(c.steps)];
    if (c.prompt !== null) args.push("-i", c.prompt);
    const r = fw(args);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString("utf8"), c.stdout, `prompt ${JSON.stringify(c.prompt)}`);
    assert.match(r.stderr, /^achieved tok\/s: [\d.]+ \(\d+ positions, wasm3 engine/);
  }
});

test("a tokenizer given with -z is used like edgellm run's", () => {
  const r = fw(["run", model("f32", false), "-z", TOKENIZER, "-t", "0", "-n", "40", "-i", "Once upon a time"]);
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(readFileSync(REFERENCE, "utf8")) as { cases: ReferenceCase[] };
  const want = ref.cases.find((c) => c.prompt === "Once upon a time")!.stdout;
  // Exactly what the V8 engine prints with the tokenizer embedded, and (greedy output being
  // prefix-stable) a real prefix of llama2.c's 128-step text: an empty or cut output fails both.
  const out = r.stdout.toString("utf8");
  assert.equal(out, v8Output(model("f32"), { prompt: "Once upon a time", steps: 40 }).toString("utf8"));
  assert.ok(out.trimEnd().length > 100 && want.startsWith(out.trimEnd()), out);
});

const VARIANTS = [["f32", "t2"], ["int8", "t2"], ["ternary", "t2"], ["q4", "t2"], ["ternary", "t5"]] as const;
for (const [quant, format] of VARIANTS) {
  for (const hostWeights of [false, true]) {
    const where = hostWeights ? "weights in host memory, native kernels" : "weights in linear memory, wasm kernels";
    test(`${quant}${format === "t5" ? " (t5)" : ""}: greedy output under wasm3 (${where}) equals V8's byte for byte`, () => {
      const path = model(quant, true, "default", format);
      const want = v8Output(path, { prompt: "Lily went to the park", steps: 120 });
      const args = ["run", path, "-t", "0", "-n", "120", "-i", "Lily went to the park"];
      if (hostWeights) args.push("--host-weights");
      const r = fw(args);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.length > 40);
      assert.deepEqual(r.stdout, want);
    });
  }
}

const TABLE_VARIANTS = [["int8", "t2", "q4"], ["ternary", "t2", "q4"], ["ternary", "t5", "q4"], ["ternary", "t5", "ternary"]] as const;
for (const [quant, format, embedding] of TABLE_VARIANTS) {
  test(`${quant}${format === "t5" ? " (t5)" : ""} with a ${embedding} embedding: logits and greedy text equal on SIMD, MVP and wasm3 (with and without --host-weights)`, () => {
    const path = model(quant, true, embedding, format);
    const bytes = new Uint8Array(readFileSync(path));
    const simd = Engine.load(bytes, undefined, { engine: "simd" }), mvp = Engine.load(bytes, undefined, { engine: "mvp" });
    for (let pos = 0; pos < 8; pos++) {
      const tok = [1, 403, 407, 261, 378, 300, 280, 270][pos];
      const a = simd.forward(tok, pos), b = mvp.forward(tok, pos);
      assert.deepEqual(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength), `logits at ${pos}`);
    }
    const want = v8Output(path, { prompt: "Lily went to the park", steps: 120 });
    assert.deepEqual(v8Output(path, { prompt: "Lily went to the park", steps: 120, engine: "mvp" }), want);
    for (const extra of [[], ["--host-weights"]]) {
      const r = fw(["run", path, "-t", "0", "-n", "120", "-i", "Lily went to the park", ...extra]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.length > 40);
      assert.deepEqual(r.stdout, want, extra.join(" "));
    }
  });
}

test("sampling (-t 0.9 -p 0.9 -s 42) with an int8 KV cache matches V8 on every build path", () => {
  for (const quant of ["int8", "ternary"] as const) {
    const path = model(quant);
    const want = v8Output(path, { steps: 80, temperature: 0.9, topp: 0.9, seed: 42n, kvInt8: true });
    for (const extra of [[], ["--host-weights"]]) {
      const r = fw(["run", path, "-t", "0.9", "-p", "0.9", "-s", "42", "-n", "80", "--kv-int8", ...extra]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout, want, `${quant} ${extra.join(" ")}`);
    }
  }
});

test("budget: ternary stories260K, int8 KV cache, ctx 128 runs in --max-memory 147456 (144 KiB)", () => {
  const path = model("ternary");
  const r = fw(["run", path, "-t", "0", "-n", "128", "--ctx", "128", "--kv-int8", "--host-weights", "--max-memory", "147456"]);
  assert.equal(r.status, 0, r.stderr);
  const mem = Number(/linear memory (\d+) bytes/.exec(r.stderr)?.[1]);
  assert.ok(mem > 0 && mem <= 147456, r.stderr);
  assert.match(r.stderr, /\(128 positions/);
  assert.deepEqual(r.stdout, v8Output(path, { steps: 128, ctx: 128, kvInt8: true }));
});

test("the memory cap is enforced: too small a cap, or weights copied into linear memory, fail cleanly", () => {
  const path = model("ternary");
  const base = ["run", path, "-t", "0", "-n", "128", "--ctx", "128", "--kv-int8"];
  for (const args of [[...base, "--host-weights", "--max-memory", "65536"], [...base, "--max-memory", "147456"]]) {
    const r = fw(args);
    assert.equal(r.signal, null);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.trim(), /^edgellm-fw: error: .*(memory|run state)/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

test("device profile (wasm3 configured as on ESP32, 8 KiB wasm stack): the 144 KiB run and f32/int8 parity", () => {
  const path = model("ternary");
  const r = fw(["run", path, "-t", "0", "-n", "128", "--ctx", "128", "--kv-int8", "--host-weights", "--max-memory", "147456", "--stack", "8192"], FW_DEVICE);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout, v8Output(path, { steps: 128, ctx: 128, kvInt8: true }));
  for (const quant of ["f32", "int8"] as const) {
    const p = model(quant);
    const d = fw(["run", p, "-t", "0", "-n", "64", "-i", "Tom had a", "--stack", "8192"], FW_DEVICE);
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(d.stdout, v8Output(p, { prompt: "Tom had a", steps: 64 }));
  }
});

test("the default model (no model argument, as edgellm run) runs in 144 KiB on the device profile and matches V8", () => {
  const args = ["run", "-t", "0", "-n", "128", "--ctx", "128", "--kv-int8", "--host-weights", "--max-memory", "147456", "--stack", "8192", "-i", "Once upon a time"];
  const r = fw(args, FW_DEVICE);
  assert.equal(r.status, 0, r.stderr);
  const mem = Number(/linear memory (\d+) bytes/.exec(r.stderr)?.[1]);
  assert.ok(mem > 0 && mem <= 147456, r.stderr);
  const want = v8Output(join(ROOT, "models", "default.ellm"), { prompt: "Once upon a time", steps: 128, ctx: 128, kvInt8: true });
  assert.deepEqual(r.stdout, want);
  assert.ok(r.stdout.length > 100);
});
