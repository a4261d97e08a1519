// Pruning as an option of distill: the gradual-pruning schedule, the written file's zeros
// (per-row magnitude sparsity and whole heads), resuming with the masks intact, config errors.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readLlama2cV0 } from "../../host/format/llama2c.js";
import { Kind } from "../../host/format/spec.js";
import { ConfigError, parseStudentConfig, studentModelConfig, type StudentConfig } from "../../host/train/config.js";
import { sparsityAt } from "../../host/train/sparsify.js";
import { train } from "../../host/train/trainer.js";
import { haveShared, TEACHER } from "./helpers.js";

const student = {
  dim: 64, hiddenDim: 48, nLayers: 1, nHeads: 8, nKvHeads: 4, seqLen: 32, init: "teacher", initLayers: [2],
  quant: "int8", loss: "forward-kl", steps: 6, batch: 2, warmup: 0, logEvery: 3, checkpointEvery: 3,
  sparsity: 0.5, pruneStart: 1, pruneEnd: 4, pruneHeads: 2,
};
const HEAD = 8; // head size of the teacher's 64 / 8

test("gradual pruning follows the cubic schedule from pruneStart to pruneEnd", () => {
  const c = { sparsity: 0.8, pruneHeads: 0, pruneStart: 100, pruneEnd: 200 };
  assert.equal(sparsityAt(c, 50), 0);
  assert.equal(sparsityAt(c, 100), 0);
  assert.ok(Math.abs(sparsityAt(c, 150) - 0.8 * (1 - 0.5 ** 3)) < 1e-12);
  assert.equal(sparsityAt(c, 200), 0.8);
  assert.equal(sparsityAt(c, 900), 0.8);
  assert.equal(sparsityAt({ ...c, pruneStart: 0, pruneEnd: 0 }, 0), 0.8, "start = end prunes at once");
  assert.equal(sparsityAt({ ...c, sparsity: 0 }, 150), 0);
});

describe("distill with pruning", { skip: skipUnless(haveShared, "../shared/models") }, () => {
  const teacher = haveShared ? readLlama2cV0(new Uint8Array(readFileSync(TEACHER)), "teacher") : undefined!;
  const stream = Int32Array.from({ length: 600 }, (_, i) => (i * 7 + 3) % 512);
  const config = (o: object = {}): StudentConfig => parseStudentConfig(JSON.stringify({ ...student, ...o }), "inline", teacher.config);
  const run = (c: StudentConfig, checkpointDir?: string, resume = false, stopAfter = Infinity) =>
    train({ cfg: c, shape: studentModelConfig(c, 512), teacher, stream, checkpointDir, resume,
      onStep: (step) => { if (step > stopAfter) throw new Error("interrupted"); } });

  test("the written matrices have the requested zeros in every row, and the pruned heads are empty", async () => {
    const r = await run(config());
    const img = r.net.toImage();
    for (const t of img.tensors.filter((t) => t.kind !== Kind.Embedding && t.rows > 1)) {
      const q = new Int8Array(t.data.buffer, t.data.byteOffset, t.rows * t.cols);
      for (let row = 0; row < t.rows; row++) {
        let zeros = 0;
        for (let j = 0; j < t.cols; j++) if (q[row * t.cols + j] === 0) zeros++;
        assert.ok(zeros >= Math.floor(t.cols * 0.5), `kind ${t.kind} row ${row}: ${zeros} of ${t.cols} zero`);
      }
    }
    const wq = img.tensors.find((t) => t.kind === Kind.Wq)!, wo = img.tensors.find((t) => t.kind === Kind.Wo)!;
    const q = new Int8Array(wq.data.buffer, wq.data.byteOffset, 64 * 64), o = new Int8Array(wo.data.buffer, wo.data.byteOffset, 64 * 64);
    const emptyHeads = Array.from({ length: 8 }, (_, h) => h).filter((h) =>
      q.subarray(h * HEAD * 64, (h + 1) * HEAD * 64).every((v) => v === 0) &&
      Array.from({ length: 64 }, (_, row) => o.subarray(row * 64 + h * HEAD, row * 64 + (h + 1) * HEAD)).every((s) => s.every((v) => v === 0)));
    assert.equal(emptyHeads.length, 2, `heads with no query rows and no output columns: ${emptyHeads}`);
  });

  test("an interrupted run resumed from its checkpoint ends where an uninterrupted one does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgellm-prune-"));
    try {
      const whole = (await run(config())).net.params.slice();
      await assert.rejects(run(config(), dir, false, 3), /interrupted/);
      assert.ok(existsSync(join(dir, "checkpoint.json")));
      const resumed = (await run(config(), dir, true)).net.params;
      let worst = 0;
      for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(whole[i] - resumed[i]));
      assert.equal(worst, 0, `max |Δparam| ${worst}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("pruning options that cannot work are config errors naming the field", () => {
    const bad = (o: object, pattern: RegExp) => assert.throws(() => config(o), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
    bad({ sparsity: 1 }, /"sparsity" must be a number in \[0, 0.99\]/);
    bad({ pruneHeads: 8 }, /"pruneHeads" 8 must leave at least one of the 8 heads/);
    bad({ pruneStart: 5, pruneEnd: 4 }, /"pruneStart" 5 is after "pruneEnd" 4/);
    bad({ pruneEnd: 7 }, /"pruneEnd" 7 is after the last step 6/);
    const { pruneEnd: _, ...noEnd } = student;
    assert.equal(parseStudentConfig(JSON.stringify({ ...noEnd, steps: 10 }), "s.json", teacher.config).pruneEnd, 5, "pruneEnd defaults to half the steps");
  });
});
