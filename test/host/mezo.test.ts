// MeZO in the inference module (assembly/mezo): a step is θ − η·g·z with z = ±1 regenerated from
// (seed, step), g the two-point projected gradient of the label loss; the loss is the label
// tokens' cross-entropy; the loss falls; a resumed run ends where a whole one does; bad input is
// one line from the CLI.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseExamples, type Example } from "../../host/commands/examples.js";
import { Engine } from "../../host/engine/engine.js";
import { readAdapter } from "../../host/format/adapter-reader.js";
import { AdapterStorage } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { readModel } from "../../host/format/reader.js";
import { CHECKSUM_OFFSET } from "../../host/format/spec.js";
import { f32AdapterImage, LoraTrainer } from "../../host/train/finetune.js";
import { MezoTrainer, type MezoOptions } from "../../host/train/mezo.js";
import { ROOT, runCli } from "./helpers.js";

const DEFAULT = join(ROOT, "models", "default.ellm");
const dir = mkdtempSync(join(tmpdir(), "edgellm-mezo-"));
const DATA = [
  "turn off the porch light\tHassTurnOff ; name=porch light",
  "switch on the kitchen lights\tHassTurnOn ; area=kitchen ; domain=light",
  "set the bedroom to 40% brightness\tHassLightSet ; area=bedroom ; brightness=40",
  "what time is it\tHassGetCurrentTime",
].join("\n") + "\n";
const examples = (parseExamples(DATA) as { kind: "labelled"; examples: Example[] }).examples;
const base = new Uint8Array(readFileSync(DEFAULT));

// A fresh f32 adapter of rank 2 on every matrix, as training starts one: A random, B zero (the
// base's function; B's directions still change the loss, so g ≠ 0).
function startAdapter(): Uint8Array {
  const sum = new DataView(base.buffer, base.byteOffset).getUint32(CHECKSUM_OFFSET, true);
  const t = new LoraTrainer(readModel(base), sum, 8, { rank: 2, alpha: 2, targets: [2, 3, 4, 5, 7, 8, 9], lr: 1e-2, lrDecay: 1, weightDecay: 0, batch: 1, steps: 1, seed: 5 });
  return f32AdapterImage(t);
}
const START = startAdapter();

function trainer(adapter: Uint8Array, o: Partial<MezoOptions> = {}): { t: MezoTrainer; e: Engine } {
  const e = Engine.load(base, undefined, { ctx: 64 });
  e.loadAdapter(adapter, 1);
  return { e, t: new MezoTrainer(e, adapter.length, examples, { eps: 1e-3, lr: 1e-3, batch: 2, seed: 11n, ...o }) };
}

const params = (bytes: Uint8Array): Float32Array => {
  const ad = readAdapter(bytes);
  return Float32Array.from(ad.matrices.flatMap((m) => [...m.a, ...m.b]));
};

test("a step moves θ by −η·g·z, z = ±1 per parameter regenerated from (seed, step)", () => {
  const { t } = trainer(START, { lr: 0.05 });
  const p0 = params(t.adapterBytes());
  const st = t.step();
  const p1 = params(t.adapterBytes());
  assert.ok(Number.isFinite(st.gradient) && st.gradient !== 0, `g ${st.gradient}`);
  assert.ok(Math.abs(st.gradient - (st.lossPlus - st.lossMinus) / 2e-3) < 1e-3 * Math.abs(st.gradient) + 1e-2);
  // z from the same (seed, step) by the replay export, on a fresh copy.
  const { e: e2, t: t2 } = trainer(START);
  assert.equal(e2.x.mezoPerturb(11, 0, 1, 1), 0);
  const z = params(t2.adapterBytes()).map((v, i) => v - p0[i]);
  let plus = 0;
  z.forEach((v, i) => {
    assert.ok(Math.abs(Math.abs(v) - 1) < 1e-5, `z[${i}] = ${v}`);
    if (v > 0) plus++;
    const want = p0[i] - 0.05 * st.gradient * Math.sign(v);
    assert.ok(Math.abs(p1[i] - want) < 1e-5 + 1e-5 * Math.abs(want), `θ[${i}] ${p1[i]} want ${want}`);
  });
  assert.ok(plus > 0.45 * z.length && plus < 0.55 * z.length, `${plus} of ${z.length} directions are +1`);
});

test("the loss a step measures is the label tokens' mean cross-entropy", () => {
  const { e, t } = trainer(START);
  const rec = e.x.alloc(4 * 70), out = e.x.alloc(16);
  const s = new TextEncoder().encode(examples[0].sentence), l = new TextEncoder().encode(examples[0].label);
  const text = e.x.alloc(s.length + l.length);
  new Uint8Array(e.x.memory.buffer).set(s, text);
  new Uint8Array(e.x.memory.buffer).set(l, text + s.length);
  assert.ok(e.x.exampleEncode(text, s.length, text + s.length, l.length, rec, 70) > 0);
  assert.equal(e.x.mezoLoss(rec, 1, out), 0);
  const moduleLoss = new Float32Array(e.x.memory.buffer, out, 1)[0];
  const scored = t.evaluate([examples[0]]).loss;
  assert.ok(Math.abs(moduleLoss - scored) < 1e-4 * scored, `${moduleLoss} vs ${scored}`);
});

test("MeZO lowers the label loss; a run resumed from its adapter ends byte for byte where a whole one does", () => {
  const { t } = trainer(START);
  const before = t.evaluate(examples).loss;
  for (let s = 0; s < 200; s++) t.step();
  const after = t.evaluate(examples).loss;
  assert.ok(after < before - 0.05, `loss ${before} → ${after}`);

  const whole = trainer(START).t;
  for (let s = 0; s < 12; s++) whole.step();
  const half = trainer(START).t;
  for (let s = 0; s < 5; s++) half.step();
  const resumed = trainer(half.adapterBytes()).t;
  resumed.resumeAt(5);
  for (let s = 5; s < 12; s++) resumed.step();
  assert.deepEqual(resumed.adapterBytes(), whole.adapterBytes());
});

test("finetune --method mezo writes a valid adapter; an f16 start, plain text or two --lora are one line", () => {
  const data = join(dir, "data.tsv"), start = join(dir, "start.ella"), out = join(dir, "out.ella");
  writeFileSync(data, DATA);
  writeFileSync(start, START);
  const ok = runCli(["finetune", DEFAULT, "--method", "mezo", "--lora", start, "--data", data, "--val", data, "-o", out, "--steps", "20", "--eval-every", "10", "--batch", "2", "--json"]);
  assert.equal(ok.code, 0, ok.stderr);
  const lines = ok.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.step), [0, 10, 20]);
  const ad = readAdapter(new Uint8Array(readFileSync(out)));
  assert.equal(ad.rank, 2);
  assert.notDeepEqual(params(new Uint8Array(readFileSync(out))), params(START));

  const f16 = join(dir, "start16.ella");
  const a = readAdapter(START);
  writeFileSync(f16, writeAdapter({ ...a, matrices: a.matrices.map((m) => ({ ...m, storage: AdapterStorage.F16 })) }));
  const cases: [string[], RegExp][] = [
    [["--lora", f16, "--data", data], /MeZO trains an adapter stored as f32/],
    [["--data", join(ROOT, "README.md")], /--method mezo trains on SENTENCE<TAB>LABEL lines; the data file is plain text/],
    [["--lora", start, "--lora", start, "--data", data], /trains one adapter: give --lora once/],
  ];
  for (const [args, pattern] of cases) {
    const r = runCli(["finetune", DEFAULT, "--method", "mezo", ...args, "-o", join(dir, "x.ella"), "--steps", "2", "--checkpoint", join(dir, `ck${Math.random()}`)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
