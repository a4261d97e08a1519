// edgellm federate's command line: one-line refusals for options that do not go together, and
// the simulated run through the shared state file (federate-state.ts): --json lines, the
// adapter held in the state, --resume after the last round, a changed option refused.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "edgellm-federate-"));
function home(k: number): string {
  const p = join(dir, `home${k}.tsv`);
  const lines = Array.from({ length: 16 }, (_, i) => (i + k) % 2 ? `turn on the light ${i}\tHassTurnOn ; domain=light` : `open the door ${i}\tHassOpen ; domain=door`);
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
}

const refusals: [string, string[], RegExp][] = [
  ["neither driver", ["federate", "-o", join(dir, "x.ella")], /needs --broker URL .* or --simulate/],
  ["--simulate without data", ["federate", "--simulate", "-o", join(dir, "x.ella")], /--simulate needs --data/],
  ["--data on the fleet", ["federate", "--broker", "mqtt://127.0.0.1:1", "--data", "a.tsv", "-o", join(dir, "x.ella")], /--data is for --simulate/],
  ["DP on the fleet without a sample rate", ["federate", "--broker", "mqtt://127.0.0.1:1", "--dp-noise", "1", "-o", join(dir, "x.ella")], /--dp-noise on the fleet needs --sample-rate/],
  ["both drivers", ["federate", "--broker", "mqtt://127.0.0.1:1", "--simulate", "--data", "a.tsv", "-o", join(dir, "x.ella")], /cannot be used with/],
  ["kept state for MeZO clients", ["federate", "--broker", "mqtt://127.0.0.1:1", "--method", "mezo", "--keep-client-state", "-o", join(dir, "x.ella")], /--keep-client-state keeps backprop clients' AdamW state/],
  ["kept state in a resumed simulation", ["federate", "--simulate", "--data", "a.tsv", "--keep-client-state", "--resume", "-o", join(dir, "x.ella")], /--simulate cannot --resume/],
  ["serve --train-data of a missing file", ["serve", "--broker", "mqtt://127.0.0.1:1", "--id", "p", "--train-data", join(dir, "none.tsv")], /none\.tsv/],
];
for (const [name, args, want] of refusals) {
  test(`refused with one line: ${name}`, () => {
    const r = runCli(args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, want);
    assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`);
  });
}

test("federate --simulate: JSON lines, the adapter saved with its state, --resume continues after the last round", () => {
  const out = join(dir, "sim.ella");
  const args = ["federate", "--simulate", "--data", home(1), home(2), "-o", out, "--clients-per-round", "2", "--local-steps", "2", "--batch", "4", "--rank", "1", "--seq", "24", "--json"];
  const first = runCli([...args, "--rounds", "2"]);
  assert.equal(first.code, 0, first.stderr);
  const rounds = first.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  assert.deepEqual(rounds.map((r) => [r.round, r.clients]), [[1, 2], [2, 2]]);
  const state = JSON.parse(readFileSync(`${out}.federate.json`, "utf8"));
  assert.ok(Buffer.from(state.adapter, "base64").equals(readFileSync(out)), "the state holds the adapter written beside it");
  const again = runCli([...args, "--rounds", "2"]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /holds an earlier run: add --resume/);
  const changed = runCli([...args, "--rounds", "3", "--resume", "--lr", "0.01"]);
  assert.match(changed.stderr, /was made with lr 0\.005, this run has 0\.01/);
  const resumed = runCli([...args, "--rounds", "3", "--resume"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming after round 2/);
  assert.deepEqual(resumed.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).round), [3]);
  assert.equal(JSON.parse(readFileSync(`${out}.federate.json`, "utf8")).history.length, 3);
  assert.ok(existsSync(out));
});
