// The dense ternary layout (qtype t5, docs/model-format.md): the writer's bytes, lossless
// repacking against t2, the readers' checks, and the CLI and config options that produce it.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { convertModel } from "../../host/format/convert.js";
import { repackTernary } from "../../host/format/dequantize.js";
import { FormatError } from "../../host/format/errors.js";
import { readLlama2cV0 } from "../../host/format/llama2c.js";
import { packT5, unpackTernary } from "../../host/format/quantize.js";
import { readModel } from "../../host/format/reader.js";
import { tensorBytes } from "../../host/format/qtypes.js";
import { QType } from "../../host/format/spec.js";
import { writeModel } from "../../host/format/writer.js";
import { parseStudentConfig } from "../../host/train/config.js";
import { haveShared, reseal, runCli, TEACHER, TOKENIZER } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "edgellm-t5-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const teacherImage = (format: "t2" | "t5") =>
  convertModel(readLlama2cV0(new Uint8Array(readFileSync(TEACHER)), "stories260K"), {
    quant: "ternary", embedding: "q4", ternaryFormat: format, tokenizer: new Uint8Array(readFileSync(TOKENIZER)),
  });

const bitsOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe("t5: five ternary weights a byte", () => {
  test("the writer packs base-3 digits, pads with zero weights and zero bytes, then the scales", () => {
    // Two rows of 6 weights: 2 bytes a row, 4 code bytes, no padding; scales at 4.
    const ints = Int8Array.from([-1, 0, 1, 1, -1, 0, /**/ 1, 1, 1, 1, 1, -1]);
    const data = packT5({ ints, scales: Float32Array.from([0.5, 2]) }, 2, 6);
    assert.equal(data.length, tensorBytes(QType.T5, 2, 6, 0));
    // Σ (t+1)·3^k: 0 + 1·3 + 2·9 + 2·27 + 0·81 = 75; [0, pad×4] = 1+3+9+27+81 = 121.
    assert.deepEqual(Array.from(data.subarray(0, 4)), [75, 121, 242, 0 + 3 + 9 + 27 + 81]);
    assert.deepEqual(Array.from(new Float32Array(data.slice(4).buffer)), [0.5, 2]);
    const back = unpackTernary(data, QType.T5, 2, 6);
    assert.deepEqual(back.ints, ints);
    // Three rows of 3: 1 byte a row, 3 code bytes padded to 4 with a zero byte.
    const odd = packT5({ ints: new Int8Array(9), scales: new Float32Array(3) }, 3, 3);
    assert.deepEqual(Array.from(odd.subarray(0, 4)), [121, 121, 121, 0]);
  });

  test("repacking t2 ⇄ t5 is lossless, and t5 is the smaller file", { skip: skipUnless(haveShared, "../shared/models") }, () => {
    const t2 = teacherImage("t2"), t5 = teacherImage("t5");
    assert.deepEqual(writeModel(repackTernary(t2, QType.T5)), writeModel(t5));
    assert.deepEqual(writeModel(repackTernary(t5, QType.T2)), writeModel(t2));
    const ternaryBytes = (img: typeof t2) => img.tensors.filter((t) => t.qtype !== QType.F32 && t.kind !== 0).reduce((n, t) => n + t.data.length, 0);
    // stories260K: 64-wide rows go from 16 to 13 bytes, the 172-wide w2 rows from 48 to 35.
    assert.equal(ternaryBytes(t2), 70_240);
    assert.equal(ternaryBytes(t5), 58_040);
  });

  test("a t5 model gives the t2 model's logits bit for bit on both builds", { skip: skipUnless(haveShared, "../shared/models") }, () => {
    const b2 = writeModel(teacherImage("t2")), b5 = writeModel(teacherImage("t5"));
    for (const engine of ["simd", "mvp"] as const) {
      const e2 = Engine.load(b2, undefined, { engine }), e5 = Engine.load(b5, undefined, { engine });
      for (const [pos, tok] of [1, 403, 407, 261, 378, 300].entries()) {
        assert.deepEqual(bitsOf(e5.forward(tok, pos)), bitsOf(e2.forward(tok, pos)), `${engine}, position ${pos}`);
      }
    }
  });

  test("a code byte above 242 is refused by the reader, naming the tensor and row", { skip: skipUnless(haveShared, "../shared/models") }, () => {
    const bytes = writeModel(teacherImage("t5"));
    const table = readModel(bytes);
    const wq = table.tensors.find((t) => t.kind === 2 && t.layer === 0)!;
    const bad = bytes.slice();
    bad[wq.data.byteOffset + 13] = 243; // row 1, byte 0
    reseal(bad);
    assert.throws(() => readModel(bad, "bad.ellm"), (e: unknown) =>
      e instanceof FormatError && e.code === "E_TENSOR" && /bad\.ellm: tensor \d+ \(wq, layer 0\): row 1, byte 0: t5 code 243/.test(e.message));
  });

  test("t2's invalid code 3 is refused by the reader too", { skip: skipUnless(haveShared, "../shared/models") }, () => {
    const bytes = writeModel(teacherImage("t2"));
    const wo = readModel(bytes).tensors.find((t) => t.kind === 5 && t.layer === 2)!;
    const bad = bytes.slice();
    bad[wo.data.byteOffset + 16] |= 3 << 4; // row 1, column 32
    reseal(bad);
    assert.throws(() => readModel(bad, "bad.ellm"), (e: unknown) =>
      e instanceof FormatError && e.code === "E_TENSOR" && /tensor \d+ \(wo, layer 2\): row 1, column 32: t2 code 3 is invalid/.test(e.message));
  });

  test("the student config takes \"ternaryFormat\" and names a useless or unknown one", () => {
    const base = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4 };
    assert.equal(parseStudentConfig(JSON.stringify({ ...base, ternaryFormat: "t5" }), "s.json").ternaryFormat, "t5");
    assert.equal(parseStudentConfig(JSON.stringify(base), "s.json").ternaryFormat, "t2");
    assert.throws(() => parseStudentConfig(JSON.stringify({ ...base, ternaryFormat: "t3" }), "s.json"), /"ternaryFormat" must be one of t2, t5, got "t3"/);
    assert.throws(() => parseStudentConfig(JSON.stringify({ ...base, quant: "q4", ternaryFormat: "t5" }), "s.json"), /"ternaryFormat": ternary format t5 needs ternary matrices/);
    // A mixed student with ternary FFN matrices may store them as t5.
    assert.equal(parseStudentConfig(JSON.stringify({ ...base, attentionQuant: "q4", ternaryFormat: "t5" }), "s.json").ternaryFormat, "t5");
  });

  test("edgellm convert --quant keep --ternary-format t5 repacks a file without changing its output", { skip: skipUnless(haveShared, "../shared/models") }, () => {
    const t2Path = join(dir, "t2.ellm"), t5Path = join(dir, "t5.ellm");
    writeFileSync(t2Path, writeModel(teacherImage("t2")));
    const r = runCli(["convert", t2Path, "-o", t5Path, "--quant", "keep", "--ternary-format", "t5"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*t5\.ellm: \d+ bytes, keep, ternary t5/);
    assert.deepEqual(new Uint8Array(readFileSync(t5Path)), writeModel(teacherImage("t5")));
    const info = runCli(["info", t5Path, "--json"]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /"ternary-t5"/);
    const gen = (p: string) => runCli(["run", p, "-t", "0", "-n", "24", "-i", "Once upon a time"]);
    const a = gen(t2Path), b = gen(t5Path);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, a.stdout);
  });

  test("CLI errors: keep needs an edgellm file and no retyping options; t5 needs ternary matrices", { skip: skipUnless(haveShared, "../shared/models") }, () => {
    const out = join(dir, "never.ellm");
    const cases: Array<[string[], RegExp]> = [
      [["convert", TEACHER, "-o", out, "--quant", "keep"], /--quant keep needs an edgellm file \(this is a llama2c-v0 checkpoint\)/],
      [["convert", join(dir, "t2.ellm"), "-o", out, "--quant", "keep", "--embedding", "q4"], /--quant keep keeps every tensor's type/],
      [["convert", TEACHER, "-o", out, "--quant", "int8", "--ternary-format", "t5"], /--ternary-format: ternary format t5 needs ternary matrices \(quant int8 has none\)/],
      [["quantize", TEACHER, "-z", TOKENIZER, "-o", out, "--quant", "q4", "--ternary-format", "t5"], /--ternary-format: ternary format t5 needs ternary matrices/],
      [["convert", TEACHER, "-o", out, "--quant", "ternary", "--ternary-format", "t4"], /ternary-format/],
    ];
    writeFileSync(join(dir, "t2.ellm"), writeModel(teacherImage("t2")));
    for (const [args, message] of cases) {
      const r = runCli(args);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  });
});
