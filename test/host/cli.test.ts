// The CLI's commands end to end: convert (v0 and v2 checkpoints), info, eval, bench.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readLlama2cV0 } from "../../host/format/llama2c.js";
import { tensorKey } from "../../host/format/float-model.js";
import { Kind, kvDim } from "../../host/format/spec.js";
import { haveShared, runCli, SAMPLE_TEXT, TEACHER, TOKENIZER } from "./helpers.js";

// Writes a llama2.c v2 ("ak42") int8 checkpoint the way llama2.c's export does: norms in
// fp32, then each tensor's int8 values and fp32 scales over groups of the flattened tensor.
function writeV2(v0: Uint8Array, groupSize: number): Uint8Array {
  const m = readLlama2cV0(v0, "teacher");
  const c = m.config;
  const parts: Uint8Array[] = [];
  const header = new DataView(new ArrayBuffer(256));
  header.setUint32(0, 0x616b3432, true);
  header.setInt32(4, 2, true);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, c.seqLen].forEach((v, i) => header.setInt32(8 + 4 * i, v, true));
  header.setUint8(36, c.sharedClassifier ? 1 : 0);
  header.setInt32(37, groupSize, true);
  parts.push(new Uint8Array(header.buffer));
  const f32 = (a: Float32Array) => parts.push(new Uint8Array(a.slice().buffer));
  for (let l = 0; l < c.nLayers; l++) f32(m.tensors.get(tensorKey(Kind.RmsAtt, l))!);
  for (let l = 0; l < c.nLayers; l++) f32(m.tensors.get(tensorKey(Kind.RmsFfn, l))!);
  f32(m.tensors.get(tensorKey(Kind.RmsFinal))!);
  const q8 = (w: Float32Array) => {
    const q = new Int8Array(w.length), s = new Float32Array(w.length / groupSize);
    for (let g = 0; g < s.length; g++) {
      let amax = 0;
      for (let i = 0; i < groupSize; i++) amax = Math.max(amax, Math.abs(w[g * groupSize + i]));
      s[g] = amax / 127;
      for (let i = 0; i < groupSize; i++) q[g * groupSize + i] = s[g] ? Math.round(w[g * groupSize + i] / s[g]) : 0;
    }
    parts.push(new Uint8Array(q.buffer), new Uint8Array(s.buffer));
  };
  q8(m.tensors.get(tensorKey(Kind.Embedding))!);
  for (const kind of [Kind.Wq, Kind.Wk, Kind.Wv, Kind.Wo, Kind.W1, Kind.W2, Kind.W3]) {
    for (let l = 0; l < c.nLayers; l++) q8(m.tensors.get(tensorKey(kind, l))!);
  }
  assert.equal(kvDim(c) * c.dim % groupSize, 0);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

describe("cli", { skip: skipUnless(haveShared, "../shared/models") }, () => {
  const dir = mkdtempSync(join(tmpdir(), "edgellm-cli-"));
  const models: Record<string, string> = {};

  test("convert writes f32, int8 and ternary files that carry the tokenizer", () => {
    for (const quant of ["f32", "int8", "ternary"]) {
      const out = join(dir, `s-${quant}.ellm`);
      const r = runCli(["convert", TEACHER, "-o", out, "--quant", quant, "-z", TOKENIZER]);
      assert.equal(r.code, 0, r.stderr);
      models[quant] = out;
    }
    const sizes = ["f32", "int8", "ternary"].map((q) => readFileSync(models[q]).length);
    assert.ok(sizes[0] > 3.5 * sizes[1], `int8 ${sizes[1]} should be ~4x smaller than f32 ${sizes[0]}`);
    assert.ok(sizes[1] > 2 * sizes[2], `ternary ${sizes[2]} should be much smaller than int8 ${sizes[1]}`);
  });

  test("a converted f32 file runs without -z and matches the checkpoint's output", () => {
    const a = runCli(["run", models.f32, "-t", "0", "-n", "50", "-i", "One day"]);
    const b = runCli(["run", TEACHER, "-z", TOKENIZER, "-t", "0", "-n", "50", "-i", "One day"]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
  });

  test("convert refuses an int8 group size that does not divide every row", () => {
    const r = runCli(["convert", TEACHER, "-o", join(dir, "bad.ellm"), "--quant", "int8", "--group", "64"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /group size 64 does not divide row length 172/);
  });

  test("llama2.c v2 int8 checkpoints run directly and convert", () => {
    const v2 = join(dir, "s-v2.bin");
    writeFileSync(v2, writeV2(new Uint8Array(readFileSync(TEACHER)), 32));
    const r = runCli(["run", v2, "-z", TOKENIZER, "-t", "0", "-n", "40"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Once upon a time/);
    const info = JSON.parse(runCli(["info", v2, "--json"]).stdout);
    assert.equal(info.format, "llama2c-v2");
    assert.equal(info.quant, "int8");
    const c = runCli(["convert", v2, "-o", join(dir, "from-v2.ellm"), "--quant", "ternary"]);
    assert.equal(c.code, 0, c.stderr);
  });

  test("info --json reports path, bytes, quant and config", () => {
    const info = JSON.parse(runCli(["info", models.ternary, "--json"]).stdout);
    assert.equal(info.path, models.ternary);
    assert.equal(info.bytes, readFileSync(models.ternary).length);
    assert.equal(info.quant, "ternary");
    assert.equal(info.embedding, "int8");
    assert.equal(info.config.dim, 64);
    assert.equal(info.config.nLayers, 5);
    assert.equal(info.tokenizer, "embedded");
  });

  test("eval --json: int8 stays near f32 perplexity, post-training ternary does not", () => {
    const ppl = (m: string) => {
      const r = runCli(["eval", m, "--text", SAMPLE_TEXT, "--json"], 120_000);
      assert.equal(r.code, 0, r.stderr);
      const last = r.stdout.trim().split("\n").pop()!;
      return JSON.parse(last).perplexity as number;
    };
    const f = ppl(models.f32), q = ppl(models.int8), t = ppl(models.ternary);
    assert.ok(f > 1 && f < 20, `f32 perplexity ${f}`);
    assert.ok(q < f * 1.02, `int8 ${q} vs f32 ${f}`);
    assert.ok(t > f * 5, `post-training ternary ${t} should be far worse than f32 ${f}`);
  });

  test("bench --json prints a row per engine and quantization plus the native-c baseline", () => {
    const r = runCli(["bench", TEACHER, "--json", "-n", "24", "--rounds", "1"], 120_000);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    for (const engine of ["simd", "mvp"]) {
      for (const quant of ["f32", "int8", "ternary", "q4", "ternary-q4", "ternary-t5-q4"]) {
        const row = rows.find((x) => x.engine === engine && x.quant === quant);
        assert.ok(row, `${engine}/${quant}`);
        assert.ok(row.tokens_per_s > 0 && row.peak_memory_bytes > 0);
      }
    }
    const native = rows.find((x) => x.engine === "native-c");
    assert.equal(native.quant, "f32");
    assert.ok(native.tokens_per_s > 0);
    // The C baseline computes the same forward pass: same greedy tokens as the module.
    assert.equal(rows.find((x) => x.engine === "simd" && x.quant === "f32").same_tokens_as_native_c, true);
  });

  test("bench --quants measures only the rows named, and names a bad one", () => {
    const r = runCli(["bench", TEACHER, "--json", "-n", "16", "--rounds", "1", "--quants", "ternary-q4,ternary-t5-q4"], 120_000);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { engine: string; quant: string });
    assert.deepEqual(rows.filter((x) => x.engine !== "native-c").map((x) => `${x.engine}/${x.quant}`).sort(),
      ["mvp/ternary-q4", "mvp/ternary-t5-q4", "simd/ternary-q4", "simd/ternary-t5-q4"]);
    const bad = runCli(["bench", TEACHER, "--quants", "ternary,t9"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /quants must be a comma-separated list of .*got 'ternary,t9'/);
  });
});
