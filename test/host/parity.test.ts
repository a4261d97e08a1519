// Correctness against llama2.c and across engines: the stories260K greedy reference byte for
// byte in both builds, and bit-identical logits between the SIMD and MVP builds per quantization.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { convertModel, QUANT_NAMES } from "../../host/format/convert.js";
import { readLlama2cV0 } from "../../host/format/llama2c.js";
import { writeModel } from "../../host/format/writer.js";
import { haveShared, REFERENCE, runCli, TEACHER, TOKENIZER } from "./helpers.js";

interface ReferenceCase { prompt: string | null; steps: number; temperature: number; stdout: string }

describe("parity", { skip: skipUnless(haveShared, "../shared/models") }, () => {
  const cases = haveShared ? (JSON.parse(readFileSync(REFERENCE, "utf8")) as { cases: ReferenceCase[] }).cases : [];
  for (const engine of ["simd", "mvp"] as const) {
    for (const c of cases) {
      test(`edgellm run (${engine}) prints llama2.c's greedy output for prompt ${JSON.stringify(c.prompt)}`, () => {
        const args = ["run", TEACHER, "-z", TOKENIZER, "-t", "0", "-n", String(c.steps), "--engine", engine];
        if (c.prompt !== null) args.push("-i", c.prompt);
        const r = runCli(args);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, c.stdout);
        assert.match(r.stderr, /tok\/s/); // statistics go to stderr, never stdout
      });
    }
  }

  const teacher = haveShared ? readLlama2cV0(new Uint8Array(readFileSync(TEACHER)), "stories260K.bin") : null;
  for (const quant of QUANT_NAMES) {
    for (const kvInt8 of [false, true]) {
      test(`${quant}${kvInt8 ? " with int8 KV cache" : ""}: SIMD and MVP builds give bit-identical logits`, () => {
        const bytes = writeModel(convertModel(teacher!, { quant }));
        const a = Engine.load(bytes, undefined, { engine: "simd", ctx: 96, kvInt8 });
        const b = Engine.load(bytes, undefined, { engine: "mvp", ctx: 96, kvInt8 });
        let token = 1;
        for (let pos = 0; pos < 96; pos++) {
          const la = a.forward(token, pos), lb = b.forward(token, pos);
          assert.deepEqual(new Uint32Array(la.buffer, la.byteOffset, la.length), new Uint32Array(lb.buffer, lb.byteOffset, lb.length), `position ${pos}`);
          token = la.indexOf(Math.max(...la));
          if (token === 1) token = 2;
        }
      });
    }
  }

  test("sampling is seeded and deterministic, and the same in both builds", () => {
    const run = (engine: string, seed: string) => runCli(["run", TEACHER, "-z", TOKENIZER, "-t", "1", "-p", "0.9", "-s", seed, "-n", "60", "--engine", engine]).stdout;
    const a = run("simd", "7");
    assert.equal(run("simd", "7"), a);
    assert.equal(run("mvp", "7"), a);
    assert.notEqual(run("simd", "8"), a);
  });

  test("int8 KV cache keeps greedy output close to the f32 cache", () => {
    const f = runCli(["run", TEACHER, "-z", TOKENIZER, "-t", "0", "-n", "64"]).stdout;
    const q = runCli(["run", TEACHER, "-z", TOKENIZER, "-t", "0", "-n", "64", "--kv-int8"]).stdout;
    // Same opening; small drift later is allowed by an int8 cache.
    assert.equal(q.slice(0, 40), f.slice(0, 40));
  });
});
