// edgellm finetune end to end on the committed default model (ternary t5 base): the loss on the
// labels falls, the adapter file belongs to its base, a fresh adapter is the base, and bad
// input is a one-line error.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseExamples } from "../../host/commands/examples.js";
import { Engine } from "../../host/engine/engine.js";
import { modelBase, readAdapter } from "../../host/format/adapter-reader.js";
import { readModel } from "../../host/format/reader.js";
import { CHECKSUM_OFFSET } from "../../host/format/spec.js";
import { tokenizeRows } from "../../host/train/finetune-data.js";
import { LoraTrainer } from "../../host/train/finetune.js";
import { COMMAND_DATA } from "./command-lines.js";
import { ROOT, runCli } from "./helpers.js";

const DEFAULT = join(ROOT, "models", "default.ellm");
const dir = mkdtempSync(join(tmpdir(), "edgellm-finetune-"));
const DATA = COMMAND_DATA;

const opts = { rank: 4, alpha: 4, lr: 1e-2, lrDecay: 1, weightDecay: 0, batch: 6, steps: 60, seed: 3 } as const;

let cachedRows: ReturnType<typeof tokenizeRows> | undefined;
function rowsOf() {
  cachedRows ??= tokenizeRows(Engine.load(new Uint8Array(readFileSync(DEFAULT)), undefined, { ctx: 2 }), parseExamples(DATA), 64);
  return cachedRows;
}

function trainer() {
  const bytes = new Uint8Array(readFileSync(DEFAULT));
  const image = readModel(bytes);
  const rows = tokenizeRows(Engine.load(bytes, undefined, { ctx: 2 }), parseExamples(DATA), 64);
  const sum = new DataView(bytes.buffer, bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true);
  return { t: new LoraTrainer(image, sum, 64, { ...opts, targets: [2, 3, 4, 5, 7, 8, 9] }), rows, bytes };
}

test("labels only are trained on: every target sits in the label, the prompt's positions are -1", () => {
  const { rows } = trainer();
  for (let i = 0; i < rows.n; i++) {
    for (let p = 0; p + 1 < rows.from[i]; p++) assert.equal(rows.targets[i * 64 + p], -1);
    assert.ok(rows.targets[i * 64 + rows.from[i] - 1] >= 0, "the label's first token is a target");
    assert.ok(rows.intentTo[i] > rows.from[i]);
  }
});

test("training lowers the label loss and teaches the six labels; every B moves", () => {
  const { t, rows } = trainer();
  const before = t.evaluate(rows);
  for (let s = 0; s < opts.steps; s++) t.step(rows);
  const after = t.evaluate(rows);
  assert.ok(after.loss < before.loss / 3, `loss ${before.loss} → ${after.loss}`);
  assert.ok(after.intent >= 5 / 6, `intent ${after.intent}`);
  const ad = t.adapter(0);
  assert.equal(ad.matrices.length, 5 * 7);
  assert.ok(ad.matrices.every((m) => m.b.some((x) => x !== 0)), "every B moved");
});

test("a run stopped and resumed from its state ends bit for bit where an uninterrupted one does", () => {
  const whole = trainer().t;
  for (let s = 0; s < 12; s++) whole.step(rowsOf());
  const first = trainer().t;
  for (let s = 0; s < 5; s++) first.step(rowsOf());
  const resumed = trainer().t;
  resumed.restore(first.state(), 5);
  for (let s = 5; s < 12; s++) resumed.step(rowsOf());
  assert.deepEqual(resumed.state(), whole.state());
});

test("edgellm finetune writes an adapter that belongs to its base; bad input is one line", () => {
  const data = join(dir, "train.tsv"), out = join(dir, "a.ella");
  writeFileSync(data, DATA);
  const r = runCli(["finetune", DEFAULT, "--data", data, "--val", data, "-o", out, "--steps", "20", "--batch", "6", "--rank", "2", "--json"], 120_000);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { step: number; valLoss: number });
  assert.deepEqual(lines.map((l) => l.step), [0, 20]);
  assert.ok(lines[1].valLoss < lines[0].valLoss);
  const bytes = new Uint8Array(readFileSync(DEFAULT));
  const ad = readAdapter(new Uint8Array(readFileSync(out)), out, modelBase(bytes, DEFAULT));
  assert.equal(ad.rank, 2);
  assert.match(readFileSync(join(dir, "a.curve.svg"), "utf8"), /<svg/);
  const again = runCli(["finetune", DEFAULT, "--data", data, "-o", out, "--steps", "20", "--batch", "6", "--rank", "2"]);
  assert.match(again.stderr, /checkpoint .*a\.ella\.ckpt holds an earlier run: add --resume/);
  const resumed = runCli(["finetune", DEFAULT, "--data", data, "-o", out, "--steps", "30", "--batch", "6", "--rank", "2", "--resume"], 120_000);
  assert.match(resumed.stderr + resumed.stdout, /checkpoint .* was made with steps 20, this run has 30/);
  const bad = join(dir, "bad.tsv");
  writeFileSync(bad, "turn off the light\tHassTurnOff\nno label on this line\n");
  const e1 = runCli(["finetune", DEFAULT, "--data", bad, "-o", join(dir, "b.ella")]);
  assert.equal(e1.code, 2, e1.stderr);
  assert.match(e1.stderr, /data file .*bad\.tsv: line 2 has no label/);
  assert.equal(e1.stderr.trim().split("\n").length, 1);
  const e2 = runCli(["finetune", DEFAULT, "--data", data, "-o", join(dir, "c.ella"), "--targets", "wq,emb"]);
  assert.match(e2.stderr, /--targets: 'emb' is not one of wq,wk,wv,wo,w1,w2,w3/);
  const e3 = runCli(["finetune", DEFAULT, "--data", data, "-o", join(dir, "d.ella"), "--rank", "0"]);
  assert.notEqual(e3.code, 0);
});

test("finetune --lora continues an adapter: step 0 is that adapter, its shape is kept, conflicting shape options are refused", () => {
  const data = join(dir, "train-start.tsv"), first = join(dir, "start.ella"), next = join(dir, "next.ella");
  writeFileSync(data, DATA);
  const valLosses = (stdout: string) => stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => (JSON.parse(l) as { valLoss: number }).valLoss);
  const a = runCli(["finetune", DEFAULT, "--data", data, "--val", data, "-o", first, "--steps", "20", "--batch", "6", "--rank", "2", "--targets", "wq,wv", "--lr", "1e-2", "--json"], 120_000);
  assert.equal(a.code, 0, a.stderr);
  const b = runCli(["finetune", DEFAULT, "--data", data, "--val", data, "-o", next, "--lora", first, "--steps", "10", "--batch", "6", "--json"], 120_000);
  assert.equal(b.code, 0, b.stderr);
  const [ended, began] = [valLosses(a.stdout).at(-1)!, valLosses(b.stdout)[0]];
  assert.ok(ended < valLosses(a.stdout)[0] - 0.3, "the first run learned something");
  assert.ok(Math.abs(began - ended) < 1e-4, `the second run begins where the first ended (${began} vs ${ended})`);
  const bytes = new Uint8Array(readFileSync(DEFAULT));
  const ad = readAdapter(new Uint8Array(readFileSync(next)), next, modelBase(bytes, DEFAULT));
  assert.equal(ad.rank, 2);
  assert.deepEqual([...new Set(ad.matrices.map((m) => m.kind))].sort(), [...new Set(readAdapter(new Uint8Array(readFileSync(first)), first).matrices.map((m) => m.kind))].sort());
  const e = runCli(["finetune", DEFAULT, "--data", data, "-o", join(dir, "x.ella"), "--lora", first, "--rank", "4"]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /--rank comes from the --lora adapter/);
});
