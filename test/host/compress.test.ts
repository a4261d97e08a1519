// edgellm quantize and prune on the stories260K teacher: outputs load and run, structured
// pruning shrinks the model, magnitude pruning reaches its sparsity, bad requests are refused.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Command } from "commander";
import { compressCommands } from "../../host/cli/compress.js";
import { UsageError } from "../../host/cli/errors.js";
import { Engine } from "../../host/engine/engine.js";
import { readModel } from "../../host/format/reader.js";
import { quantOf } from "../../host/format/load.js";
import { readLlama2cV0 } from "../../host/format/llama2c.js";
import { ATTENTION_KINDS, Kind, QType } from "../../host/format/spec.js";
import { convertModel } from "../../host/format/convert.js";
import { tensorKey, type FloatModel } from "../../host/format/float-model.js";
import { writeModel } from "../../host/format/writer.js";
import { magnitudePrune, sparsityOf } from "../../host/compress/magnitude.js";
import { growFfn, growWidth, identityRepeats, selectLayers } from "../../host/compress/surgery.js";
import { haveShared, SAMPLE_TEXT, TEACHER, TOKENIZER } from "./helpers.js";

async function cli(args: string[]): Promise<void> {
  const p = new Command("edgellm").exitOverride();
  for (const c of compressCommands()) p.addCommand(c.exitOverride());
  await p.parseAsync(["node", "edgellm", ...args]);
}

// Logits of an f32 model over a few positions, to compare a reshaped model with its source.
function f32Logits(m: FloatModel): number[] {
  const e = Engine.load(writeModel(convertModel(m, { quant: "f32" })), undefined, { ctx: 16 });
  return [1, 403, 407, 261, 378, 425].flatMap((t, pos) => Array.from(e.forward(t, pos)));
}

function runs(path: string): Engine {
  const e = Engine.load(new Uint8Array(readFileSync(path)), undefined, { ctx: 16 });
  const t = e.encode("Once upon a time", true, false);
  const next = e.step(t[0], 0, -1);
  assert.ok(next >= 0 && next < e.info.vocabSize);
  return e;
}

describe("quantize and prune", { skip: skipUnless(haveShared, "../shared/models") }, () => {
  const dir = mkdtempSync(join(tmpdir(), "edgellm-compress-"));
  const calib = join(dir, "calib.txt");
  writeFileSync(calib, readFileSync(SAMPLE_TEXT, "utf8").split("\n").slice(0, 2).join("\n"));

  test("int8 PTQ with calibration writes per-channel int8 matrices", async () => {
    const out = join(dir, "q8.ellm");
    await cli(["quantize", TEACHER, "-z", TOKENIZER, "-o", out, "--calibrate", calib, "--max-docs", "2"]);
    const img = readModel(new Uint8Array(readFileSync(out)));
    const wq = img.tensors.find((t) => t.kind === 2)!;
    assert.equal(wq.qtype, QType.Q8);
    assert.equal(wq.group, wq.cols);
    runs(out);
  });

  test("int4 PTQ writes q4 layer matrices beside an int8 embedding", async () => {
    const out = join(dir, "q4.ellm");
    await cli(["quantize", TEACHER, "-z", TOKENIZER, "-o", out, "--quant", "q4"]);
    const img = readModel(new Uint8Array(readFileSync(out)));
    assert.ok(img.tensors.filter((t) => t.kind !== Kind.Embedding && t.rows > 1).every((t) => t.qtype === QType.Q4));
    assert.equal(img.tensors.find((t) => t.kind === Kind.Embedding)!.qtype, QType.Q8);
    runs(out);
  });

  test("mixed-precision PTQ stores the attention matrices in their own type", async () => {
    const out = join(dir, "mixed.ellm");
    await cli(["quantize", TEACHER, "-z", TOKENIZER, "-o", out, "--quant", "ternary", "--attention-quant", "q4"]);
    const img = readModel(new Uint8Array(readFileSync(out)));
    for (const t of img.tensors.filter((t) => t.kind !== Kind.Embedding && t.rows > 1)) {
      assert.equal(t.qtype, ATTENTION_KINDS.includes(t.kind) ? QType.Q4 : QType.T2, `kind ${t.kind}`);
    }
    assert.equal(quantOf(img), "ternary, attention q4");
    runs(out);
  });

  test("SmoothQuant scaling at a fixed alpha keeps the model working", async () => {
    const out = join(dir, "sq.ellm");
    await cli(["quantize", TEACHER, "-z", TOKENIZER, "-o", out, "--calibrate", calib, "--alpha", "0.5", "--max-docs", "1"]);
    runs(out);
  });

  test("structured pruning shrinks FFN and KV heads; head pruning zeroes heads", async () => {
    const out = join(dir, "p.ellm");
    await cli(["prune", TEACHER, "-z", TOKENIZER, "-o", out, "--ffn", "128", "--kv-heads", "2", "--heads", "2", "--quant", "int8"]);
    const e = runs(out);
    assert.equal(e.info.hiddenDim, 128);
    assert.equal(e.info.nKvHeads, 2);
  });

  test("magnitude pruning reaches the requested per-row sparsity", () => {
    const m = readLlama2cV0(new Uint8Array(readFileSync(TEACHER)), "teacher");
    const s = sparsityOf(magnitudePrune(m, 0.5));
    assert.ok(s >= 0.49 && s <= 0.52, `sparsity ${s}`);
  });

  test("growing the FFN splits neurons: the f32 function is kept, and noise tells the copies apart", () => {
    const m = readLlama2cV0(new Uint8Array(readFileSync(TEACHER)), "teacher");
    const base = f32Logits(m);
    const exact = growFfn(m, 400, () => 1, 0);
    assert.equal(exact.config.hiddenDim, 400);
    assert.equal(exact.tensors.get(tensorKey(Kind.W2, 0))!.length, 64 * 400);
    const worst = Math.max(...f32Logits(exact).map((v, i) => Math.abs(v - base[i])));
    assert.ok(worst < 1e-3, `max |Δlogit| ${worst} after an exact split`);
    let g = 0;
    const noisy = growFfn(m, 344, () => ((g = (g * 7 + 3) % 11) - 5) / 5, 0.02); // noise in [-1, 1]
    const w1 = noisy.tensors.get(tensorKey(Kind.W1, 0))!, w2 = noisy.tensors.get(tensorKey(Kind.W2, 0))!, D = 64, H = 344;
    const row = (i: number) => Array.from(w1.subarray(i * D, (i + 1) * D));
    const copy = row(172);
    const source = [...Array(172).keys()].find((j) => row(j).every((v, k) => Math.abs(copy[k] - v) <= 0.0201 * Math.abs(v)));
    assert.ok(source !== undefined, "neuron 172 is a jittered copy of one of the teacher's neurons");
    assert.notDeepEqual(copy, row(source), "the copy's input weights differ from its source's");
    for (let r = 0; r < D; r++) assert.equal(w2[r * H + 172], w2[r * H + source], "source and copy share the output column equally");
    assert.throws(() => growFfn(m, 100, () => 0), /cannot grow/);
  });

  test("widening the residual stream repeats channels and heads: the f32 function is kept", () => {
    const m = readLlama2cV0(new Uint8Array(readFileSync(TEACHER)), "teacher");
    const base = f32Logits(m);
    for (const k of [2, 3]) {
      const wide = growWidth(m, k, () => 1, 0);
      assert.deepEqual([wide.config.dim, wide.config.nHeads, wide.config.nKvHeads], [64 * k, 8 * k, 4 * k]);
      const worst = Math.max(...f32Logits(wide).map((v, i) => Math.abs(v - base[i])));
      // RMSNorm's ε does not shrink with the stream's 1/√k, hence a looser bound than growFfn's.
      assert.ok(worst < 5e-3, `max |Δlogit| ${worst} at ${k}× the width`);
    }
    let g = 0;
    const noisy = growWidth(m, 2, () => ((g = (g * 7 + 3) % 11) - 5) / 5, 0.02);
    const wq = m.tensors.get(tensorKey(Kind.Wq, 0))!, wide = noisy.tensors.get(tensorKey(Kind.Wq, 0))!;
    for (const [i, j] of [[3, 5], [60, 1]]) {
      assert.equal(wide[i * 128 + j], wq[i * 64 + j] / 2, "the first copy is the exact share");
      const copy = wide[(64 + i) * 128 + 64 + j];
      assert.ok(Math.abs(copy / (wq[i * 64 + j] / 2) - 1) <= 0.0201, "later copies are within the noise");
    }
    assert.notDeepEqual(wide.subarray(0, 64), wide.subarray(64 * 128 + 64, 64 * 128 + 128), "noise tells the copies apart");
    assert.throws(() => growWidth(m, 0, () => 0), /cannot widen/);
  });

  test("deepening with identity repeats keeps the f32 function; a plain repeat changes it", () => {
    const m = readLlama2cV0(new Uint8Array(readFileSync(TEACHER)), "teacher");
    const base = f32Logits(m);
    const layers = [0, 1, 2, 2, 3, 4];
    const copied = selectLayers(m, layers), deep = identityRepeats(copied, layers);
    assert.equal(deep.config.nLayers, 6);
    const worst = (x: FloatModel) => Math.max(...f32Logits(x).map((v, i) => Math.abs(v - base[i])));
    assert.ok(worst(deep) < 1e-4, `max |Δlogit| ${worst(deep)} with layer 3 as an identity`);
    assert.ok(worst(copied) > 0.1, "running teacher layer 2 twice is another function");
    assert.ok(deep.tensors.get(tensorKey(Kind.W1, 3))!.some((v) => v !== 0), "the repeat keeps its input weights");
    assert.ok(copied.tensors.get(tensorKey(Kind.Wo, 3))!.some((v) => v !== 0), "the source model is not changed");
  });

  test("prune with nothing to do and impossible requests are usage errors", async () => {
    const out = join(dir, "x.ellm");
    await assert.rejects(cli(["prune", TEACHER, "-z", TOKENIZER, "-o", out]), (e: unknown) => e instanceof UsageError && /nothing to prune/.test(e.message));
    await assert.rejects(cli(["prune", TEACHER, "-o", out, "--kv-heads", "3"]), (e: unknown) => e instanceof UsageError && /must divide/.test(e.message));
    await assert.rejects(cli(["prune", TEACHER, "-o", out, "--ffn", "500"]), (e: unknown) => e instanceof UsageError && /more than the model's 172/.test(e.message));
  });
});
