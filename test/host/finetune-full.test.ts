// finetune --full (host/train/finetune-full.ts): starts as the base, lowers the label loss,
// writes a model in the base's types, resumes bit for bit (also after Ctrl-C through the CLI);
// adapter options, and an adapter run's checkpoint, are usage errors.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseExamples } from "../../host/commands/examples.js";
import { Engine } from "../../host/engine/engine.js";
import { readModel } from "../../host/format/reader.js";
import { CHECKSUM_OFFSET } from "../../host/format/spec.js";
import { tokenizeRows } from "../../host/train/finetune-data.js";
import { FullTrainer } from "../../host/train/finetune-full.js";
import { LoraTrainer } from "../../host/train/finetune.js";
import { CLI, ROOT, runCli } from "./helpers.js";

const DEFAULT = join(ROOT, "models", "default.ellm");
const dir = mkdtempSync(join(tmpdir(), "edgellm-full-"));
const DATA = [
  "turn off the porch light\tHassTurnOff ; name=porch light",
  "switch on the kitchen lights\tHassTurnOn ; area=kitchen ; domain=light",
  "what time is it\tHassGetCurrentTime",
  "pause the music\tHassMediaPause",
].join("\n") + "\n";
const bytes = new Uint8Array(readFileSync(DEFAULT));
const rows = tokenizeRows(Engine.load(bytes, undefined, { ctx: 2 }), parseExamples(DATA), 48);
const opts = { lr: 5e-3, lrDecay: 1, weightDecay: 0, batch: 4, steps: 30, seed: 2 };

test("full fine-tuning starts as the base, lowers the label loss, and resumes bit for bit", () => {
  const t = new FullTrainer(readModel(bytes), 48, opts);
  const lora = new LoraTrainer(readModel(bytes), new DataView(bytes.buffer, bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true), 48, { ...opts, rank: 2, alpha: 2, targets: [2] });
  const start = t.evaluate(rows).loss, base = lora.evaluate(rows).loss;
  assert.ok(Math.abs(start - base) < 1e-2 * base, `step 0 ${start} vs the base ${base}`);
  const first = t.state();
  for (let s = 0; s < opts.steps; s++) t.step(rows);
  const after = t.evaluate(rows).loss;
  assert.ok(after < start / 2, `loss ${start} → ${after}`);
  const again = new FullTrainer(readModel(bytes), 48, opts);
  for (let s = 0; s < 10; s++) again.step(rows);
  const resumed = new FullTrainer(readModel(bytes), 48, opts);
  resumed.restore(again.state(), 10);
  for (let s = 10; s < opts.steps; s++) resumed.step(rows);
  assert.deepEqual(resumed.state(), t.state());
  assert.notDeepEqual(first, t.state());
});

test("finetune --full writes a model in the base's types that runs; adapter options are usage errors", () => {
  const data = join(dir, "d.tsv"), out = join(dir, "full.ellm");
  writeFileSync(data, DATA);
  const r = runCli(["finetune", DEFAULT, "--full", "--data", data, "-o", out, "--steps", "6", "--batch", "4", "--seq", "48"]);
  assert.equal(r.code, 0, r.stderr);
  const m = readModel(new Uint8Array(readFileSync(out))), b = readModel(bytes);
  assert.deepEqual(m.tensors.map((t) => t.qtype), b.tensors.map((t) => t.qtype));
  assert.ok(m.tensors.some((t, i) => !Buffer.from(t.data).equals(Buffer.from(b.tensors[i].data))), "weights moved");
  Engine.load(new Uint8Array(readFileSync(out)), undefined, { ctx: 8 }).forward(1, 0);
  for (const extra of [["--rank", "4"], ["--targets", "wq"], ["--method", "mezo"]]) {
    const bad = runCli(["finetune", DEFAULT, "--full", "--data", data, "-o", join(dir, "x.ellm"), ...extra, "--checkpoint", join(dir, `ck-${extra[0].slice(2)}`)]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--full/);
  }
});

test("Ctrl-C stops finetune --full with a checkpoint, --resume writes what an uninterrupted run writes, and the other kind of run refuses it", async () => {
  const data = join(dir, "r.tsv"), out = join(dir, "stopped.ellm"), whole = join(dir, "whole.ellm");
  writeFileSync(data, DATA);
  const args = (o: string) => ["finetune", DEFAULT, "--full", "--data", data, "-o", o, "--steps", "60", "--eval-every", "20", "--batch", "4", "--seq", "48", "--json"];
  const w = runCli(args(whole), 120_000);
  assert.equal(w.code, 0, w.stderr);
  const child = spawn(process.execPath, [CLI, ...args(out)], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  child.stdout.on("data", (d) => {
    stdout += d;
    if (/"step":20,/.test(stdout) && !child.killed) child.kill("SIGINT");
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 130, stderr);
  const m = /interrupted after step (\d+); checkpoint saved/.exec(stdout);
  assert.ok(m && Number(m[1]) > 20, stdout + stderr);
  const resumed = runCli([...args(out), "--resume"], 120_000);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resuming from step ${m[1]} of 60`));
  assert.ok(readFileSync(out).equals(readFileSync(whole)), "the resumed model differs from the uninterrupted one");
  const lora = runCli(["finetune", DEFAULT, "--data", data, "-o", join(dir, "k.ella"), "--checkpoint", `${out}.ckpt`, "--resume"]);
  assert.equal(lora.code, 2, lora.stderr);
  assert.match(lora.stderr, /holds a --full run .*this is a backprop adapter run/);
  assert.equal(lora.stderr.trim().split("\n").length, 1);
});
