// Bad input gets one line on stderr naming the file and the problem, a non-zero exit, and no
// stack trace or hang: model files, tokenizer files and CLI arguments.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { convertModel } from "../../host/format/convert.js";
import { tensorKey, tensorList } from "../../host/format/float-model.js";
import { readModel } from "../../host/format/reader.js";
import { Kind, QType, tensorShape } from "../../host/format/spec.js";
import { writeModel } from "../../host/format/writer.js";
import { tinyFloatModel, tinyTokenizer } from "../../tools/vectors.js";
import { haveShared, runCli, SAMPLE_TEXT, TEACHER, TOKENIZER, type CliResult } from "./helpers.js";

// Generous bound against hangs on a loaded machine; the real cost is Node's start-up.
const HANG_LIMIT_MS = 3000;

function assertCleanError(r: CliResult, pattern: RegExp, code = 1): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0], /^edgellm: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.equal(r.stdout, "");
  assert.ok(r.ms < HANG_LIMIT_MS, `took ${r.ms} ms`);
}

describe("bad input", { skip: skipUnless(haveShared, "../shared/models") }, () => {
  const dir = mkdtempSync(join(tmpdir(), "edgellm-bad-"));
  const teacher = haveShared ? new Uint8Array(readFileSync(TEACHER)) : new Uint8Array();
  const file = (name: string, bytes: Uint8Array | string) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const good = join(dir, "good.ellm");

  test("setup: a valid edgellm file", () => {
    assert.equal(runCli(["convert", TEACHER, "-o", good, "--quant", "int8", "-z", TOKENIZER]).code, 0);
  });

  const modelCases: Array<[string, () => string, RegExp]> = [
    ["missing", () => join(dir, "nope.bin"), /nope\.bin: no such file/],
    ["empty", () => file("empty.bin", new Uint8Array(0)), /empty\.bin: file is empty/],
    ["shorter than a header", () => file("short.bin", new Uint8Array(10)), /short\.bin: .*shorter/],
    ["truncated llama2.c checkpoint", () => file("trunc.bin", teacher.subarray(0, 100_000)), /trunc\.bin: .*truncated/],
    ["absurd dimensions", () => {
      const b = teacher.slice(0, 4096);
      new DataView(b.buffer).setInt32(0, 1_000_000_000, true);
      return file("absurd.bin", b);
    }, /absurd\.bin: .*dim 1000000000/],
    ["a llama2.c header that describes a smaller model than the file", () => {
      const b = teacher.slice();
      new DataView(b.buffer).setInt32(0, 32, true); // dim 64 → 32
      return file("halfdim.bin", b);
    }, /halfdim\.bin: 1056540 bytes, but its header \(dim 32, .*\) describes 466844/],
    ["a text file", () => file("notes.txt", "this is not a model at all, just some words\n".repeat(20)), /notes\.txt: /],
    ["truncated edgellm file", () => file("trunc.ellm", readFileSync(good).subarray(0, 50_000)), /trunc\.ellm: .*truncated/],
    ["corrupted edgellm file", () => {
      const b = new Uint8Array(readFileSync(good));
      b[b.length >> 1] ^= 0x10;
      return file("corrupt.ellm", b);
    }, /corrupt\.ellm: checksum mismatch/],
    ["wrong magic", () => {
      const b = new Uint8Array(readFileSync(good));
      b.set([0x45, 0x4c, 0x4c, 0x46]); // "ELLF"
      return file("magic.ellm", b);
    }, /magic\.ellm: /],
  ];
  for (const [what, make, pattern] of modelCases) {
    for (const cmd of ["run", "info", "eval"]) {
      test(`${cmd}: ${what} model file`, () => {
        const args = cmd === "eval" ? [cmd, make(), "-z", TOKENIZER, "--text", SAMPLE_TEXT] : cmd === "run" ? [cmd, make(), "-z", TOKENIZER] : [cmd, make()];
        assertCleanError(runCli(args), pattern);
      });
    }
  }

  test("truncated tokenizer", () => {
    const tok = file("tok-trunc.bin", readFileSync(TOKENIZER).subarray(0, 2000));
    assertCleanError(runCli(["run", TEACHER, "-z", tok]), /tokenizer .*tok-trunc\.bin: truncated at token \d+ of 512/);
  });

  test("missing tokenizer", () => {
    assertCleanError(runCli(["run", TEACHER, "-z", join(dir, "no-tok.bin")]), /tokenizer .*no-tok\.bin: no such file/);
  });

  test("a model without a tokenizer and no -z", () => {
    assertCleanError(runCli(["run", TEACHER]), /carries no tokenizer: pass -z/, 2);
  });

  const argCases: Array<[string[], RegExp]> = [
    [["run", TEACHER, "-z", TOKENIZER, "-t", "abc"], /temperature must be a number/],
    [["run", TEACHER, "-z", TOKENIZER, "-t", "-1"], /temperature must be a number in \[0, 100\]/],
    [["run", TEACHER, "-z", TOKENIZER, "-p", "1.5"], /topp must be a number in \[0, 1\]/],
    [["run", TEACHER, "-z", TOKENIZER, "-n", "-5"], /steps must be an integer/],
    [["run", TEACHER, "-z", TOKENIZER, "-s", "x1"], /seed must be a non-negative integer/],
    [["run", TEACHER, "-z", TOKENIZER, "--engine", "gpu"], /engine must be one of simd, mvp/],
    [["run", TEACHER, "--bogus"], /unknown option '--bogus'/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["convert", TEACHER, "-o", "/tmp/x.ellm", "--quant", "int4"], /quant must be one of f32, int8, ternary, q4/],
    [["convert", TEACHER], /required option '-o, --output <path>'/],
    [["quantize", TEACHER, "-o", "/tmp/x.ellm", "--attention-quant", "f16"], /attention-quant must be one of int8, ternary, q4/],
  ];
  for (const [args, pattern] of argCases) {
    test(`arguments: ${args.slice(1).filter((a) => a !== TEACHER && a !== TOKENIZER).join(" ")}`, () => {
      assertCleanError(runCli(args), pattern, 2);
    });
  }

  test("an output that cannot be written is refused before the work starts", () => {
    const notADir = file("plain.txt", "x");
    const student = file("student.json", JSON.stringify({ dim: 64, hiddenDim: 32, nLayers: 1, nHeads: 8, nKvHeads: 4, steps: 1, corpusTokens: 300 }));
    const under = join(notADir, "out.ellm");
    const cases: Array<[string[], RegExp]> = [
      [["sample", good, "-o", under, "--tokens", "10"], /output \S+out\.ellm: cannot be written \(\S+plain\.txt is not a directory\)/],
      [["sample", good, "-o", dir, "--tokens", "10"], /output \S+: cannot be written \(it is a directory\)/],
      [["convert", TEACHER, "-z", TOKENIZER, "-o", under], /output \S+out\.ellm: cannot be written/],
      [["quantize", TEACHER, "-z", TOKENIZER, "-o", under], /output \S+out\.ellm: cannot be written/],
      [["prune", TEACHER, "-z", TOKENIZER, "--heads", "1", "-o", under], /output \S+out\.ellm: cannot be written/],
      [["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", student, "-o", join(dir, "s.ellm"), "--log", under], /log \S+out\.ellm: cannot be written/],
    ];
    for (const [args, pattern] of cases) assertCleanError(runCli(args), pattern, 2);
  });

  test("a binary file given as text is refused by eval, quantize --calibrate, prune --eval and distill --text", () => {
    const binary = file("looks-like-text.txt", new Uint8Array([0x45, 0x44, 0xff, 0xfe, 0x00, 0x41]));
    const nul = file("nul.txt", "Once\0upon a time\n");
    assertCleanError(runCli(["eval", good, "--text", binary]), /text file \S+looks-like-text\.txt: not UTF-8 text/, 2);
    assertCleanError(runCli(["eval", good, "--text", nul]), /text file \S+nul\.txt: not text \(it contains NUL bytes\)/, 2);
    assertCleanError(runCli(["quantize", TEACHER, "-z", TOKENIZER, "-o", join(dir, "q.ellm"), "--calibrate", TOKENIZER]), /calibration file \S+tok512\.bin: not UTF-8 text/, 2);
    const pruned = runCli(["prune", TEACHER, "-z", TOKENIZER, "--heads", "1", "-o", join(dir, "p.ellm"), "--eval", binary]);
    assert.equal(pruned.code, 2);
    assert.match(pruned.stderr, /^edgellm: text file \S+looks-like-text\.txt: not UTF-8 text\n$/);
    const student = file("student3.json", JSON.stringify({ dim: 64, hiddenDim: 32, nLayers: 1, nHeads: 8, nKvHeads: 4, steps: 1 }));
    assertCleanError(runCli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", student, "-o", join(dir, "s3.ellm"), "--text", binary]), /text file \S+: not UTF-8 text/, 2);
  });

  test("a damaged distillation corpus cache is refused, naming the problem", () => {
    const student = file("student2.json", JSON.stringify({ dim: 64, hiddenDim: 32, nLayers: 1, nHeads: 8, nKvHeads: 4, steps: 1, corpusTokens: 300 }));
    const distill = (corpus: string) => runCli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", student, "-o", join(dir, "s2.ellm"), "--corpus", corpus]);
    assertCleanError(distill(file("odd.bin", new Uint8Array(10))), /corpus cache \S+odd\.bin: 10 bytes is not a whole number of 4-byte tokens/);
    assertCleanError(distill(file("big.bin", new Uint8Array(new Int32Array([1, 5, 9999]).buffer))), /token 9999 at position 2 is outside the vocabulary of 512/);
  });

  test("a KV cache beyond the 4 GiB address space is refused, not wrapped", () => {
    const m = tinyFloatModel(true);
    Object.assign(m.config, { nLayers: 256, seqLen: 65536, dim: 64, nHeads: 8, nKvHeads: 8 });
    m.tensors = new Map(tensorList(m.config).map(([k, l]) => {
      const [r, c] = tensorShape(m.config, k);
      return [tensorKey(k, l), new Float32Array(r * c)];
    }));
    const path = file("huge-kv.ellm", writeModel(convertModel(m, { quant: "f32", tokenizer: tinyTokenizer() })));
    const text = file("t.txt", "a b c\n");
    assertCleanError(runCli(["eval", path, "--text", text]), /does not fit in linear memory: use a smaller --ctx/);
    assert.equal(runCli(["run", path, "-n", "8", "--ctx", "8"]).code, 0);
  });

  test("a prompt far longer than the context is refused, not tokenized for minutes", () => {
    const r = runCli(["run", good, "-n", "64", "-i", "Once upon a time ".repeat(5000)]);
    assertCleanError(r, /prompt is 85000 bytes; at most 512 fit a context of 64 positions/);
  });

  test("huge -n and --ctx are clamped to the model's context, not allocated", () => {
    const r = runCli(["run", good, "-t", "0", "-n", "1000000", "--ctx", "65536"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /512 positions|positions/);
  });

  test("an output that is also an input is refused before anything is written, and the input survives", () => {
    const input = file("keep.ellm", readFileSync(good));
    const before = readFileSync(input);
    const student = file("student-same.json", JSON.stringify({ dim: 64, hiddenDim: 32, nLayers: 1, nHeads: 8, nKvHeads: 4, steps: 1 }));
    const cases: Array<[string[], RegExp]> = [
      [["convert", input, "-o", input], /output \S+keep\.ellm: cannot be written \(it is also the input model\)/],
      [["quantize", input, "-o", join(dir, ".", "keep.ellm")], /it is also the input model/],
      [["prune", input, "--heads", "1", "-o", input], /it is also the input model/],
      [["sample", input, "-o", input, "--tokens", "10"], /it is also the model/],
      [["convert", TEACHER, "-z", TOKENIZER, "-o", TOKENIZER], /it is also the tokenizer/],
      [["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", student, "-o", join(dir, "d.ellm"), "--curve", join(dir, "d.ellm")], /output \S+d\.ellm: cannot be written \(it is also the curve\)/],
      [["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", student, "-o", student], /it is also the student config/],
    ];
    for (const [args, pattern] of cases) assertCleanError(runCli(args), pattern, 2);
    assert.ok(readFileSync(input).equals(before));
  });

  test("empty paths, unreadable files, a bad --group and a temperature too small to sample with", () => {
    assertCleanError(runCli(["run", ""]), /the model path is empty/, 2);
    assertCleanError(runCli(["quantize", TEACHER, "-z", "", "-o", join(dir, "e.ellm")]), /tokenizer: the path is empty/);
    assertCleanError(runCli(["info", dir]), /model \S+: not a regular file/);
    assertCleanError(runCli(["quantize", TEACHER, "-z", TOKENIZER, "-o", join(dir, "g.ellm"), "--group", "7"]), /--group: group size 7 does not divide row length 64/, 2);
    assertCleanError(runCli(["run", good, "-t", "1e-40"]), /temperature must be 0 \(greedy\) or at least/, 2);
    assertCleanError(runCli(["quantize", TEACHER, "-z", TOKENIZER, "-o", join(dir, "a.ellm"), "--alpha", "0.5"]), /--alpha sets SmoothQuant's strength, which needs calibration text/, 2);
    const commented = file("commented.json", "// a comment\n{\"dim\": 64}\n");
    assertCleanError(runCli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", commented, "-o", join(dir, "c.ellm"), "--dry-run"]), /student config \S+commented\.json: not valid JSON/);
    if (process.getuid?.() === 0 && process.platform === "linux") return; // root reads anything
    const locked = file("locked.ellm", readFileSync(good));
    chmodSync(locked, 0);
    assertCleanError(runCli(["info", locked]), /model \S+locked\.ellm: permission denied/);
  });

  test("a model with a context of 1 is refused by eval rather than looping forever", () => {
    const m = tinyFloatModel(true);
    m.config.seqLen = 1;
    const path = file("ctx1.ellm", writeModel(convertModel(m, { quant: "f32", tokenizer: tinyTokenizer() })));
    assertCleanError(runCli(["eval", path, "--text", file("t1.txt", "a b c\n")]), /a context of 1 position cannot predict a next token/);
  });

  test("a checkpoint that is not a directory, or is damaged, is refused before training", () => {
    const student = file("student-ck.json", JSON.stringify({ dim: 64, hiddenDim: 32, nLayers: 1, nHeads: 8, nKvHeads: 4, steps: 2, corpusTokens: 300 }));
    const distill = (ck: string, ...more: string[]) => runCli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", student, "-o", join(dir, "ck.ellm"), "--checkpoint", ck, ...more]);
    assertCleanError(distill(file("ck-file", "x")), /checkpoint \S+ck-file: cannot be written \(it is not a directory\)/, 2);
    for (const [json, pattern] of [["null", /not a JSON object/], ['{"version":1,"step":-5,"history":[]}', /"step" -5 is not a whole number of steps/], ['{"version":1,"step":1,"history":null}', /"history" is not a list/]] as const) {
      const ck = join(dir, `ck-${Math.random().toString(36).slice(2)}`);
      mkdirSync(ck);
      writeFileSync(join(ck, "checkpoint.json"), json);
      assertCleanError(distill(ck, "--resume"), pattern);
    }
  });

  test("a student too large for the training module is refused by name, dry run or not", () => {
    const huge = file("huge-student.json", JSON.stringify({ dim: 1024, hiddenDim: 4096, nLayers: 8, nHeads: 16, nKvHeads: 16 }));
    assertCleanError(runCli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", huge, "-o", join(dir, "h.ellm"), "--dry-run"]),
      /the student has 134,759,424 parameters; training holds at most 16,777,216/);
  });

  test("non-finite weights or norm epsilon are refused at load, naming the tensor", () => {
    const nan = tinyFloatModel(true);
    nan.tensors.values().next().value![3] = NaN;
    const nanPath = file("nan.ellm", writeModel(convertModel(nan, { quant: "f32", tokenizer: tinyTokenizer() })));
    for (const cmd of [["info", nanPath], ["run", nanPath, "-n", "4"], ["convert", nanPath, "-o", join(dir, "nan2.ellm")]]) {
      assertCleanError(runCli(cmd), /nan\.ellm: tensor token_embedding of layer 0 holds a non-finite value \(NaN at element 3\)/);
    }
    // Quantized tensors: only their f32 scales can be non-finite (the codes are integers).
    const q4 = new Uint8Array(writeModel(convertModel(tinyFloatModel(true), { quant: "q4", tokenizer: tinyTokenizer() })));
    const scaled = file("nan-scale.ellm", q4);
    const image = readModel(q4, scaled);
    const w1 = image.tensors.find((t) => t.qtype === QType.Q4 && t.kind === Kind.W1)!;
    new DataView(w1.data.buffer, w1.data.byteOffset + w1.data.length - 4).setFloat32(0, NaN, true);
    writeFileSync(scaled, writeModel(image)); // the writer seals it with a fresh checksum
    assertCleanError(runCli(["info", scaled]), /nan-scale\.ellm: scales of tensor w1 of layer 0 holds a non-finite value \(NaN at element \d+\)/);
    const inf = tinyFloatModel(true);
    inf.config.normEps = Infinity;
    const infPath = file("inf-eps.ellm", writeModel(convertModel(inf, { quant: "f32", tokenizer: tinyTokenizer() })));
    assertCleanError(runCli(["info", infPath]), /normEps and ropeTheta must be positive finite numbers/);
  });

  test("a broken embedded tokenizer is refused by convert and quantize too, not sealed into a new file", () => {
    const m = tinyFloatModel(true);
    const broken = file("broken-tok.ellm", writeModel(convertModel(m, { quant: "f32", tokenizer: new Uint8Array([8, 0, 0, 0, 1, 2, 3]) })));
    for (const cmd of [["convert", broken, "--quant", "keep", "-o", join(dir, "bt1.ellm")], ["quantize", broken, "-o", join(dir, "bt2.ellm")]]) {
      assertCleanError(runCli(cmd), /embedded in \S+broken-tok\.ellm/);
    }
  });
});
