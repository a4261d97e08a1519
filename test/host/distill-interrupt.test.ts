// Stopping a training run: the trainer's abort signal saves a checkpoint at the step boundary,
// `edgellm distill` turns Ctrl-C into that stop (exit 130), and a fresh run refuses to
// overwrite an earlier run's checkpoint.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { readLlama2cV0 } from "../../host/format/llama2c.js";
import { parseStudentConfig, studentModelConfig } from "../../host/train/config.js";
import { train, TrainingInterrupted } from "../../host/train/trainer.js";
import { CLI, haveShared, runCli, TEACHER, TOKENIZER } from "./helpers.js";

const tiny = {
  dim: 64, hiddenDim: 32, nLayers: 1, nHeads: 8, nKvHeads: 2, seqLen: 32, init: "teacher", initLayers: [4],
  quant: "ternary", loss: "forward-kl", steps: 6, batch: 2, warmup: 0, logEvery: 1, checkpointEvery: 100,
};

describe("interrupting distill", { skip: skipUnless(haveShared, "../shared/models") }, () => {
  const dir = mkdtempSync(join(tmpdir(), "edgellm-interrupt-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("an aborted run checkpoints the steps it finished, and resuming ends where an uninterrupted run does", async () => {
    const teacher = readLlama2cV0(new Uint8Array(readFileSync(TEACHER)), "teacher");
    const cfg = parseStudentConfig(JSON.stringify(tiny), "inline", teacher.config);
    const stream = Int32Array.from({ length: 600 }, (_, i) => (i * 7 + 3) % 512);
    const run = (checkpointDir?: string, resume = false, signal?: AbortSignal, onStep?: (step: number) => void) =>
      train({ cfg, shape: studentModelConfig(cfg, 512), teacher, stream, checkpointDir, resume, signal, onStep });
    const whole = (await run()).net.params.slice();

    const ckpt = join(dir, "unit.ckpt"), stop = new AbortController();
    await assert.rejects(run(ckpt, false, stop.signal, (step) => { if (step === 2) stop.abort(); }),
      (e: unknown) => e instanceof TrainingInterrupted && e.code === "E_INTERRUPTED" && e.step === 2 && e.checkpointDir === ckpt);
    // checkpointEvery is 100: the only save is the one the stop made.
    assert.equal(JSON.parse(readFileSync(join(ckpt, "checkpoint.json"), "utf8")).step, 2);
    const resumed = (await run(ckpt, true)).net.params;
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(whole[i] - resumed[i]));
    assert.equal(worst, 0, `max |Δparam| ${worst}`);
  });

  test("Ctrl-C stops edgellm distill with a checkpoint and exit 130; a fresh run will not overwrite it; --resume finishes", async () => {
    const cfg = join(dir, "long.json"), out = join(dir, "long.ellm"), ckpt = `${out}.ckpt`;
    writeFileSync(cfg, JSON.stringify({ ...tiny, steps: 100_000, corpusTokens: 1500 }));
    const args = ["distill", "--teacher", TEACHER, "-z", TOKENIZER, "--student", cfg, "-o", out, "--corpus", join(dir, "corpus.bin")];
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stderr.on("data", (d) => { stderr += d; });
    child.stdout.on("data", (d) => {
      stdout += d;
      if (/^step 3\//m.test(stdout) && !child.killed) child.kill("SIGINT");
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 130, stderr);
    assert.match(stdout, /stopping after the step in progress/);
    const m = /interrupted after step (\d+); checkpoint saved in (\S+), continue with --resume/.exec(stderr);
    assert.ok(m, stderr);
    assert.equal(m[2], ckpt);
    const stopped = JSON.parse(readFileSync(join(ckpt, "checkpoint.json"), "utf8")).step as number;
    assert.equal(stopped, Number(m[1]));
    assert.ok(stopped >= 3, `stopped at ${stopped}`);
    assert.ok(!existsSync(out), "no model file from a stopped run");

    const fresh = runCli(args);
    assert.equal(fresh.code, 2);
    assert.match(fresh.stderr, new RegExp(`checkpoint \\S+ holds step ${stopped} of an earlier run: add --resume`));
    assert.equal(JSON.parse(readFileSync(join(ckpt, "checkpoint.json"), "utf8")).step, stopped, "the refused run left the checkpoint alone");

    writeFileSync(cfg, JSON.stringify({ ...tiny, steps: stopped + 2, corpusTokens: 1500 }));
    const resumed = runCli([...args, "--resume"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`resuming from step ${stopped} of ${stopped + 2}`));
    assert.match(resumed.stdout, new RegExp(`step ${stopped + 2}/${stopped + 2}`));
    assert.ok(existsSync(out));
  });
});
