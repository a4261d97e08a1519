// edgellm federate --simulate end to end on the committed default model with two tiny "homes":
// one JSON line a round, the global adapter and the run's state written after each, --resume
// continues where the state ends, --lora starts both client kinds from the same adapter, and
// bad input is one line.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { modelBase, readAdapter } from "../../host/format/adapter-reader.js";
import { COMMAND_LINES } from "./command-lines.js";
import { ROOT, runCli } from "./helpers.js";

const DEFAULT = join(ROOT, "models", "default.ellm");
const dir = mkdtempSync(join(tmpdir(), "edgellm-federate-"));
const homeA = join(dir, "home-a.tsv"), homeB = join(dir, "home-b.tsv"), val = join(dir, "val.tsv");
writeFileSync(homeA, COMMAND_LINES.slice(0, 3).join("\n") + "\n");
writeFileSync(homeB, COMMAND_LINES.slice(3).join("\n") + "\n");
writeFileSync(val, COMMAND_LINES.join("\n") + "\n");

interface Round { round: number; clients: number; valLoss?: number; valExact?: number; bytesPerClient: number }
const rounds = (stdout: string): Round[] => stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Round);
const common = ["--data", homeA, homeB, "--val", val, "--clients-per-round", "2", "--local-steps", "4", "--batch", "3", "--lr", "1e-2", "--json"];

test("rounds are logged and saved; --resume continues from the saved state", () => {
  const out = join(dir, "g.ella");
  const r = runCli(["federate", "--simulate", ...common, "-o", out, "--rounds", "2", "--rank", "2", "--targets", "wq,wv"], 120_000);
  assert.equal(r.code, 0, r.stderr);
  const log = rounds(r.stdout);
  assert.deepEqual(log.map((x) => [x.round, x.clients]), [[1, 2], [2, 2]]);
  assert.ok(log[1].valLoss! < log[0].valLoss!, `validation loss falls (${log[0].valLoss} → ${log[1].valLoss})`);
  const ad = readAdapter(new Uint8Array(readFileSync(out)), out, modelBase(new Uint8Array(readFileSync(DEFAULT)), DEFAULT));
  assert.equal(ad.rank, 2);
  assert.equal(log[0].bytesPerClient, 2 * 4 * ad.matrices.reduce((s, m) => s + m.a.length + m.b.length, 0), "an f32 adapter down and an update up");
  assert.ok(existsSync(`${out}.federate.json`));
  const again = runCli(["federate", "--simulate", ...common, "-o", out, "--rounds", "3", "--rank", "2", "--targets", "wq,wv"]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /holds an earlier run: add --resume/);
  const resumed = runCli(["federate", "--simulate", ...common, "-o", out, "--rounds", "3", "--rank", "2", "--targets", "wq,wv", "--resume"], 120_000);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(rounds(resumed.stdout).map((x) => x.round), [3]);
  const changed = runCli(["federate", "--simulate", ...common, "-o", out, "--rounds", "4", "--rank", "4", "--targets", "wq,wv", "--resume"]);
  assert.equal(changed.code, 2);
  assert.match(changed.stderr, /was made with rank 2, this run has 4/);
});

test("--lora starts backprop and MeZO clients from the same global adapter", () => {
  const start = join(dir, "start.ella");
  assert.equal(runCli(["federate", "--simulate", ...common, "-o", start, "--rounds", "2", "--rank", "2", "--targets", "wq,wv"], 120_000).code, 0);
  const first = (method: string) => {
    const out = join(dir, `from-${method}.ella`);
    const r = runCli(["federate", "--simulate", ...common, "-o", out, "--rounds", "1", "--lora", start, "--method", method, "--lr", "1e-7"], 120_000);
    assert.equal(r.code, 0, r.stderr);
    return { log: rounds(r.stdout)[0], adapter: readAdapter(new Uint8Array(readFileSync(out)), out) };
  };
  const dense = first("backprop"), mezo = first("mezo");
  assert.equal(dense.adapter.rank, 2);
  assert.equal(mezo.adapter.rank, 2);
  assert.ok(mezo.log.bytesPerClient < dense.log.bytesPerClient / 100, "seed-and-scalar rounds move a few bytes");
  const weights = (a: typeof dense.adapter) => a.matrices.flatMap((m) => [...m.a, ...m.b]);
  const [d, m] = [weights(dense.adapter), weights(mezo.adapter)];
  const s = weights(readAdapter(new Uint8Array(readFileSync(start)), start));
  assert.ok(d.every((x, i) => Math.abs(x - s[i]) < 1e-4) && m.every((x, i) => Math.abs(x - s[i]) < 1e-4), "a near-zero rate keeps the start");
  const e = runCli(["federate", "--simulate", ...common, "-o", join(dir, "x.ella"), "--lora", start, "--rank", "4"]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /--rank comes from the --lora adapter/);
});

test("bad data and options are one line and a non-zero exit", () => {
  const bad = join(dir, "bad.tsv");
  writeFileSync(bad, "turn off the light\tHassTurnOff\nno label on this line\n");
  const cases: [string[], RegExp, number][] = [ // usage mistakes exit 2, unreadable files 1 (as `run`)
    [["--data", bad, homeA], /bad\.tsv: line 2 has no label/, 2],
    [["--data", homeA, "--targets", "wq,emb"], /--targets: 'emb' is not one of/, 2],
    [["--data", homeA, "--lora", join(dir, "missing.ella")], /missing\.ella: no such file/, 1],
  ];
  for (const [args, why, code] of cases) {
    const r = runCli(["federate", "--simulate", ...args, "-o", join(dir, "bad-out.ella")]);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
