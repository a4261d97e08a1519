// edgellm distill end to end on a tiny student (seconds), resumable checkpoints, data-parallel
// workers agreeing with in-process training, and clear errors for bad student configs.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Command } from "commander";
import { compressCommands } from "../../host/cli/compress.js";
import { Engine } from "../../host/engine/engine.js";
import { readLlama2cV0 } from "../../host/format/llama2c.js";
import { readModel } from "../../host/format/reader.js";
import { Kind, QType } from "../../host/format/spec.js";
import { ConfigError, parseStudentConfig, studentModelConfig, type StudentConfig } from "../../host/train/config.js";
import { train } from "../../host/train/trainer.js";
import { haveShared, runCli, SAMPLE_TEXT, TEACHER, TOKENIZER } from "./helpers.js";
import { FormatError } from "../../host/format/errors.js";
import { UsageError } from "../../host/cli/errors.js";

// Each of n workers averages the gradient of 1/n of the batch; the mean equals the whole
// batch's gradient up to f32 summation order, so one AdamW step moves parameters alike.
const PARALLEL_PARAM_TOL = 1e-5;

const tinyStudent = {
  dim: 64, hiddenDim: 32, nLayers: 1, nHeads: 8, nKvHeads: 2, seqLen: 32, init: "teacher", initLayers: [4],
  quant: "ternary", loss: "forward-kl", steps: 6, batch: 2, corpusTokens: 1500, logEvery: 2, checkpointEvery: 3,
};

async function cli(args: string[]): Promise<void> {
  const p = new Command("edgellm").exitOverride();
  for (const c of compressCommands()) p.addCommand(c.exitOverride());
  await p.parseAsync(["node", "edgellm", ...args]);
}

describe("distill", { skip: skipUnless(haveShared, "../shared/models") }, () => {
  const dir = mkdtempSync(join(tmpdir(), "edgellm-distill-"));

  test("a tiny ternary student trains, writes a runnable model with its tokenizer, a curve and a checkpoint", async () => {
    const cfg = join(dir, "tiny.json"), out = join(dir, "tiny.ellm");
    writeFileSync(cfg, JSON.stringify(tinyStudent));
    await cli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", cfg, "-o", out, "--corpus", join(dir, "corpus.bin"), "--log", join(dir, "log.json"), "--text", SAMPLE_TEXT]);
    assert.ok(existsSync(join(dir, "tiny.curve.svg")));
    assert.ok(existsSync(join(dir, "tiny.ellm.ckpt", "checkpoint.json")));
    const log = JSON.parse(readFileSync(join(dir, "log.json"), "utf8")) as { history: Array<{ step: number; loss: number }> };
    assert.deepEqual(log.history.map((e) => e.step), [2, 4, 6]);
    assert.ok(log.history.every((e) => Number.isFinite(e.loss)));
    const e = Engine.load(new Uint8Array(readFileSync(out)), undefined, { ctx: 32, kvInt8: true });
    assert.equal(e.info.hasTokenizer, true);
    assert.equal(e.info.nLayers, 1);
    const tokens = e.encode("Once upon a time", true, false);
    assert.ok(tokens.length > 2);
    const next = e.step(tokens[0], 0, -1);
    assert.ok(next >= 0 && next < 512);
  });

  test("--dry-run prints the exact size of the file the config trains, and writes nothing", () => {
    const cfg = join(dir, "tiny.json"), trained = join(dir, "tiny.ellm"), planned = join(dir, "planned.ellm");
    const r = runCli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", cfg, "-o", planned, "--dry-run"]);
    assert.equal(r.code, 0, r.stderr);
    const bytes = Number(/dry run: (\d+) bytes/.exec(r.stdout)?.[1]);
    assert.equal(bytes, statSync(trained).size, r.stdout);
    assert.match(r.stdout, /6 steps × 64 tokens = 384 training tokens/);
    assert.ok(!existsSync(planned) && !existsSync(`${planned}.ckpt`), "a dry run writes no model and no checkpoint");
  });

  test("a student with a q4 embedding is written with the q4 table it trained with", async () => {
    const cfg = join(dir, "tinyq4.json"), out = join(dir, "tinyq4.ellm");
    writeFileSync(cfg, JSON.stringify({ ...tinyStudent, embedding: "q4", steps: 2, logEvery: 1 }));
    await cli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", cfg, "-o", out, "--corpus", join(dir, "corpus.bin")]);
    const img = readModel(new Uint8Array(readFileSync(out)), out);
    assert.equal(img.tensors.find((t) => t.kind === Kind.Embedding)?.qtype, QType.Q4);
    const e = Engine.load(new Uint8Array(readFileSync(out)), undefined, { ctx: 32, kvInt8: true });
    const next = e.step(1, 0, -1);
    assert.ok(next >= 0 && next < 512);
  });

  test("--resume continues from the checkpoint's step", async () => {
    const cfg = join(dir, "tiny8.json"), out = join(dir, "tiny.ellm");
    writeFileSync(cfg, JSON.stringify({ ...tinyStudent, steps: 8 }));
    await cli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", cfg, "-o", out, "--corpus", join(dir, "corpus.bin"), "--resume", "--log", join(dir, "log8.json")]);
    const log = JSON.parse(readFileSync(join(dir, "log8.json"), "utf8")) as { history: Array<{ step: number }>; seconds: number };
    assert.deepEqual(log.history.map((e) => e.step), [2, 4, 6, 8]);
  });

  test("--resume refuses a checkpoint of another student or a damaged one, naming what is wrong", async () => {
    const ckpt = join(dir, "tiny.ellm.ckpt"), cfg = join(dir, "tinyq4-resume.json"), out = join(dir, "r.ellm");
    writeFileSync(cfg, JSON.stringify({ ...tinyStudent, embedding: "q4", steps: 8 }));
    const resume = (checkpoint: string) => cli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", cfg, "-o", out, "--corpus", join(dir, "corpus.bin"), "--resume", "--checkpoint", checkpoint]);
    const coded = (pattern: RegExp) => (e: unknown) => (e as { code?: string }).code === "E_CHECKPOINT" && pattern.test((e as Error).message);
    await assert.rejects(resume(ckpt), coded(/is for a different student .*embedding int8/));
    const damaged = join(dir, "damaged.ckpt");
    mkdirSync(damaged);
    writeFileSync(join(damaged, "checkpoint.json"), "{\"version\": 1, \"step\"");
    await assert.rejects(resume(damaged), coded(/checkpoint\.json is not valid JSON/));
    assert.ok(!existsSync(out), "nothing written when the checkpoint is refused");
  });

  test("a missing teacher or student config is a one-line error naming the file", async () => {
    const cfg = join(dir, "tiny.json");
    await assert.rejects(cli(["distill", "--teacher", join(dir, "nope.bin"), "--student", cfg, "-o", join(dir, "x.ellm")]), (e: unknown) => e instanceof FormatError && /nope\.bin: no such file/.test(e.message));
    await assert.rejects(cli(["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", join(dir, "missing.json"), "-o", join(dir, "x.ellm")]), (e: unknown) => e instanceof UsageError && /missing\.json: cannot be read/.test(e.message));
  });

  test("two or four data-parallel workers take the same steps as one process, with and without a quantization ramp", async () => {
    const teacher = readLlama2cV0(new Uint8Array(readFileSync(TEACHER)), "teacher");
    const stream = Int32Array.from({ length: 400 }, (_, i) => (i * 7 + 3) % 512);
    const run = (c: StudentConfig) => train({ cfg: c, shape: studentModelConfig(c, 512), teacher, stream });
    for (const ramp of [{}, { steps: 2, quantRamp: 2 }]) {
      const base = parseStudentConfig(JSON.stringify({ ...tinyStudent, batch: 4, steps: 1, warmup: 0, ...ramp }), "inline", teacher.config);
      const a = (await run(base)).net.params.slice();
      for (const workers of [2, 4]) {
        const b = (await run({ ...base, workers })).net.params;
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        assert.ok(worst <= PARALLEL_PARAM_TOL, `${workers} workers${base.quantRamp ? ", ramp" : ""}: max |Δparam| ${worst}`);
      }
    }
  });
});

describe("student config errors", () => {
  const teacher = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, ropeTheta: 10000, normEps: 1e-5, sharedClassifier: true };
  const bad = (cfg: unknown, pattern: RegExp) => assert.throws(() => parseStudentConfig(typeof cfg === "string" ? cfg : JSON.stringify(cfg), "s.json", teacher), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
  test("not JSON, not an object", () => { bad("{dim: 64", /not valid JSON/); bad([1, 2], /JSON object/); });
  test("missing and unknown fields", () => {
    bad({ dim: 64, hiddenDim: 64, nLayers: 2, nHeads: 8 }, /missing required field "nKvHeads"/);
    bad({ ...tinyStudent, layers: 3 }, /unknown field "layers"/);
  });
  test("wrong types and ranges", () => {
    bad({ ...tinyStudent, quant: "binary" }, /"quant" must be one of ternary, int8, q4, f32/);
    bad({ ...tinyStudent, embedding: "q2" }, /"embedding" must be one of int8, q4/);
    bad({ ...tinyStudent, quant: "f32", embedding: "q4" }, /"embedding" "q4" needs a quantized student/);
    bad({ ...tinyStudent, quant: "f32", attentionQuant: "q4" }, /"attentionQuant" "q4" cannot be mixed with "quant" "f32"/);
    bad({ ...tinyStudent, attentionQuant: "int2" }, /"attentionQuant" must be one of ternary, int8, q4, f32/);
    assert.equal(parseStudentConfig(JSON.stringify(tinyStudent), "s.json", teacher).attentionQuant, "ternary", "attention follows \"quant\" by default");
    bad({ ...tinyStudent, steps: 1.5 }, /"steps" must be an integer/);
    bad({ ...tinyStudent, lr: -1 }, /"lr" must be a number/);
    bad({ ...tinyStudent, nHeads: 7 }, /dim 64 must be nHeads 7 times an even head size|nKvHeads/);
  });
  test("options that do not fit the teacher", () => {
    bad({ ...tinyStudent, dim: 32, nHeads: 4 }, /"dim" must be the teacher's 64 or a multiple of it \(got 32\)/);
    bad({ ...tinyStudent, dim: 128, nHeads: 8 }, /"nHeads" must be 16 at dim 128/);
    bad({ ...tinyStudent, dim: 128, nHeads: 16, nKvHeads: 16 }, /"nKvHeads" must divide 8 \(the teacher's 4 × 2\)/);
    // A student twice the teacher's width repeats its channels and heads.
    assert.equal(parseStudentConfig(JSON.stringify({ ...tinyStudent, dim: 128, nHeads: 16, nKvHeads: 8 }), "s.json", teacher).dim, 128);
    // A wider FFN than the teacher's is grown by splitting neurons, not refused.
    assert.equal(parseStudentConfig(JSON.stringify({ ...tinyStudent, hiddenDim: 256 }), "s.json", teacher).hiddenDim, 256);
    bad({ ...tinyStudent, initLayers: [9] }, /names layer 9, the teacher has 5/);
    bad({ ...tinyStudent, repeatedLayers: "identity" }, /"repeatedLayers" "identity" needs init "teacher" and a teacher layer named twice/);
    bad({ ...tinyStudent, repeatedLayers: "zero" }, /"repeatedLayers" must be one of copy, identity/);
    bad({ ...tinyStudent, initLayers: [0, 1] }, /one teacher layer for each of the 1 student layers/);
    bad({ ...tinyStudent, nKvHeads: 3, nHeads: 8 }, /nKvHeads/);
    bad({ ...tinyStudent, loss: "ce", hiddenWeight: 1 }, /needs a distillation loss/);
    bad({ ...tinyStudent, batch: 3, workers: 2 }, /multiple of "workers"/);
    bad({ ...tinyStudent, quantRamp: 7 }, /"quantRamp" 7 is longer than "steps" 6/);
    bad({ ...tinyStudent, quant: "f32", quantRamp: 2 }, /"quantRamp" needs a quantized student/);
    bad({ ...tinyStudent, quantRamp: -1 }, /"quantRamp" must be an integer/);
    bad({ ...tinyStudent, batch: 128, workers: 65 }, /"workers" must be an integer in \[1, 64\]/);
    assert.equal(parseStudentConfig(JSON.stringify({ ...tinyStudent, batch: 8, workers: 4 }), "s.json", teacher).workers, 4);
  });
});
