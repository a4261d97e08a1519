// edgellm merge (host/format/merge.ts): an adapter folded into an f32 base gives the logits of
// the base running it unmerged; a quantized base keeps its types (or takes --quant); matrices
// no adapter touches are copied byte for byte; bad input is one line.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import type { Adapter } from "../../host/format/adapter.js";
import { AdapterStorage, baseIdentity, targetShape } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { readModel } from "../../host/format/reader.js";
import { CHECKSUM_OFFSET, Kind, QType } from "../../host/format/spec.js";
import { rng, ROOT, runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "edgellm-merge-"));
const DEFAULT = join(ROOT, "models", "default.ellm");

function adapterFor(modelPath: string, kinds: Kind[], seed: number, name: string): string {
  const bytes = new Uint8Array(readFileSync(modelPath)), m = readModel(bytes), r = rng(seed);
  const base = baseIdentity(m.config, new DataView(bytes.buffer, bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true));
  const matrices: Adapter["matrices"] = [];
  for (let layer = 0; layer < m.config.nLayers; layer++) for (const kind of kinds) {
    const [out, inn] = targetShape(base, kind);
    matrices.push({ kind, layer, storage: AdapterStorage.F32, out, in: inn, a: Float32Array.from({ length: 4 * inn }, () => (r() - 0.5) / Math.sqrt(inn)), b: Float32Array.from({ length: out * 4 }, () => (r() - 0.5) * 0.5) });
  }
  const path = join(dir, name);
  writeFileSync(path, writeAdapter({ base, rank: 4, alpha: 4, matrices }));
  return path;
}

function logits(model: Uint8Array, adapters: { bytes: Uint8Array; scale: number }[], tokens: number[]): Float32Array[] {
  const e = Engine.load(model, undefined, { ctx: 16 });
  for (const a of adapters) e.loadAdapter(a.bytes, a.scale);
  return tokens.map((t, p) => e.forward(t, p).slice());
}

test("merged into an f32 base, two adapters give the logits of running them unmerged", () => {
  // The default model's weights as f32 (merge with a zero scale only converts).
  const zero = adapterFor(DEFAULT, [Kind.Wq], 1, "zero.ella"), f32 = join(dir, "base-f32.ellm");
  const conv = runCli(["merge", DEFAULT, `${zero}:0`, "-o", f32, "--quant", "f32"]);
  assert.equal(conv.code, 0, conv.stderr);
  const a = adapterFor(f32, [Kind.Wq, Kind.Wv, Kind.W2], 2, "a.ella"), b = adapterFor(f32, [Kind.Wo, Kind.W1, Kind.W3, Kind.Wq], 3, "b.ella");
  const out = join(dir, "merged.ellm");
  const r = runCli(["merge", f32, a, `${b}:0.5`, "-o", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /30 matrices merged from 2 adapters/);
  const tokens = [1, 40, 300, 7, 99, 250, 3, 60];
  const unmerged = logits(new Uint8Array(readFileSync(f32)), [{ bytes: new Uint8Array(readFileSync(a)), scale: 1 }, { bytes: new Uint8Array(readFileSync(b)), scale: 0.5 }], tokens);
  const merged = logits(new Uint8Array(readFileSync(out)), [], tokens);
  const plain = logits(new Uint8Array(readFileSync(f32)), [], tokens);
  let maxDiff = 0, maxEffect = 0;
  merged.forEach((row, p) => row.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - unmerged[p][i])); maxEffect = Math.max(maxEffect, Math.abs(unmerged[p][i] - plain[p][i])); }));
  assert.ok(maxEffect > 0.05, `the adapters change the logits (${maxEffect})`);
  assert.ok(maxDiff < 1e-3 * Math.max(1, maxEffect), `merged vs unmerged: ${maxDiff}`);
});

test("a quantized base keeps its types, untouched matrices byte for byte; --quant retypes the layers", () => {
  const a = adapterFor(DEFAULT, [Kind.Wq, Kind.W2], 4, "t.ella");
  const keep = join(dir, "keep.ellm"), int8 = join(dir, "int8.ellm");
  assert.equal(runCli(["merge", DEFAULT, a, "-o", keep]).code, 0);
  assert.equal(runCli(["merge", DEFAULT, a, "-o", int8, "--quant", "int8"]).code, 0);
  const base = readModel(new Uint8Array(readFileSync(DEFAULT))), k = readModel(new Uint8Array(readFileSync(keep))), q = readModel(new Uint8Array(readFileSync(int8)));
  base.tensors.forEach((t, i) => {
    assert.equal(k.tensors[i].qtype, t.qtype);
    if (t.kind !== Kind.Wq && t.kind !== Kind.W2) assert.deepEqual(k.tensors[i].data, t.data, `tensor ${i} copied`);
    const layerMatrix = [Kind.Wq, Kind.Wk, Kind.Wv, Kind.Wo, Kind.W1, Kind.W2, Kind.W3].includes(t.kind);
    assert.equal(q.tensors[i].qtype, layerMatrix ? QType.Q8 : t.qtype);
  });
  assert.ok(base.tensors.some((t, i) => t.kind === Kind.Wq && !Buffer.from(t.data).equals(Buffer.from(k.tensors[i].data))), "an adapted ternary matrix changed");
  Engine.load(new Uint8Array(readFileSync(int8)), undefined, { ctx: 8 }).forward(1, 0);
});

test("an int8 base with groups stays int8 in its groups, and runs close to the adapter unmerged", () => {
  // An int8 base with 32 weights a scale: the default model as f32 (zero-scale merge), quantized.
  const zero = adapterFor(DEFAULT, [Kind.Wq], 6, "zero-g.ella"), f32 = join(dir, "g-f32.ellm"), g32 = join(dir, "g32.ellm");
  assert.equal(runCli(["merge", DEFAULT, `${zero}:0`, "-o", f32, "--quant", "f32"]).code, 0);
  const q = runCli(["quantize", f32, "--quant", "int8", "--group", "32", "--embedding", "int8", "-o", g32]);
  assert.equal(q.code, 0, q.stderr);
  const a = adapterFor(g32, [Kind.Wk, Kind.W1, Kind.W3], 7, "g.ella"), out = join(dir, "g32-merged.ellm");
  const r = runCli(["merge", g32, `${a}:2`, "-o", out]);
  assert.equal(r.code, 0, r.stderr);
  const base = readModel(new Uint8Array(readFileSync(g32))), merged = readModel(new Uint8Array(readFileSync(out)));
  base.tensors.forEach((t, i) => {
    assert.equal(merged.tensors[i].qtype, t.qtype);
    assert.equal(merged.tensors[i].group, t.group, `tensor ${i} keeps its group`);
  });
  assert.ok(base.tensors.some((t) => t.qtype === QType.Q8 && t.group === 32), "the base has int8 groups of 32");
  const tokens = [1, 40, 300, 7, 99, 250];
  const unmerged = logits(new Uint8Array(readFileSync(g32)), [{ bytes: new Uint8Array(readFileSync(a)), scale: 2 }], tokens);
  const plain = logits(new Uint8Array(readFileSync(g32)), [], tokens);
  const float = logits(new Uint8Array(readFileSync(f32)), [], tokens);
  const folded = logits(new Uint8Array(readFileSync(out)), [], tokens);
  const maxAbs = (x: Float32Array[], y: Float32Array[]) => Math.max(...x.map((row, p) => Math.max(...row.map((v, i) => Math.abs(v - y[p][i])))));
  assert.ok(folded.every((row) => row.every(Number.isFinite)));
  // Re-quantizing the folded weights (new group scales, every weight rounded again) errs about as
  // much as quantizing the f32 base to int8 did, and far less than the adapter moves the logits.
  const diff = maxAbs(folded, unmerged), effect = maxAbs(unmerged, plain), int8Error = maxAbs(plain, float);
  assert.ok(effect > 1, `the adapter changes the logits (${effect})`);
  assert.ok(diff < 0.25 * effect && diff < 3 * int8Error, `re-quantization error ${diff}: the adapter's effect ${effect}, int8's own ${int8Error}`);
});

test("merge: an adapter for another base, an output that is an input, a bad --quant: one line, nothing written", () => {
  const out = join(dir, "never.ellm");
  const cases: [string[], RegExp][] = [
    [[DEFAULT, join(ROOT, "test", "vectors", "adapter", "tiny-f32.ella"), "-o", out], /was made for a model with checksum .*default\.ellm has checksum/],
    [[DEFAULT, adapterFor(DEFAULT, [Kind.Wq], 5, "x.ella"), "-o", DEFAULT], /it is also the base/],
    [[DEFAULT, join(dir, "x.ella"), `${join(dir, "x.ella")}:0.5`, "-o", join(dir, "x.ella")], /it is also the adapter 1/],
    [[DEFAULT, join(dir, "x.ella"), "-o", out, "--quant", "int3"], /--quant/],
    [[DEFAULT, join(dir, "missing.ella"), "-o", out], /missing\.ella/],
  ];
  for (const [args, pattern] of cases) {
    const r = runCli(["merge", ...args]);
    assert.ok(r.code === 1 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  assert.throws(() => readFileSync(out), /ENOENT/);
});
