// edgellm commands end to end: an adapter fine-tuned here on a few commands, then sentences in,
// labels out: with the grammar every answer is a label of a known intent whose copied values come
// from the sentence; stdin answers line by line (a bad line: an empty answer and one stderr line);
// --json; a malformed --home is one line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseLabel } from "../../host/commands/labels.js";
import { loadInventory } from "../../host/commands/load-inventory.js";
import { CLI, ROOT, runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "edgellm-commands-"));
const MODEL = join(ROOT, "models", "default.ellm");
const DATA = [
  "turn off the porch light\tHassTurnOff ; name=porch light",
  "switch on the kitchen lights\tHassTurnOn ; area=kitchen ; domain=light",
  "start a timer for 5 minutes\tHassStartTimer ; minutes=5",
  "what time is it\tHassGetCurrentTime",
].join("\n") + "\n";
const adapter = join(dir, "cmd.ella");

test("fine-tune a small adapter for the commands below", () => {
  const data = join(dir, "train.tsv");
  writeFileSync(data, DATA);
  const r = runCli(["finetune", MODEL, "--data", data, "-o", adapter, "--steps", "60", "--batch", "4", "--rank", "4", "--lr", "1e-2"], 180_000);
  assert.equal(r.code, 0, r.stderr);
});

test("with the grammar, every answer is a label of a known intent; copied names come from the sentence", () => {
  const intents = new Set(Object.keys(loadInventory().intents));
  for (const line of DATA.trim().split("\n")) {
    const [sentence] = line.split("\t");
    const r = runCli(["commands", MODEL, "--lora", adapter, "-i", sentence]);
    assert.equal(r.code, 0, r.stderr);
    const l = parseLabel(r.stdout.trim());
    assert.ok(l, `'${r.stdout.trim()}' is a label`);
    assert.ok(intents.has(l.intent), l.intent);
    if (l.slots.name) assert.ok(sentence.includes(l.slots.name), `name '${l.slots.name}' is copied from '${sentence}'`);
  }
});

test("stdin: one answer a line in order, a bad line answered empty and reported; --json", () => {
  const r = spawnSync(process.execPath, [CLI, "commands", MODEL, "--lora", adapter, "--json"], { input: "what time is it\n\nturn off the porch light\n", encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.split("\n");
  assert.equal(out.length, 4, JSON.stringify(out)); // three answers and the final newline
  assert.equal(out[1], "");
  for (const i of [0, 2]) assert.equal(typeof (JSON.parse(out[i]) as { intent: string }).intent, "string");
  assert.match(r.stderr, /^edgellm: stdin line 2: empty sentence\n$/);
});

test("a malformed --home and an empty -i are one-line errors", () => {
  const home = join(dir, "home.json");
  writeFileSync(home, JSON.stringify({ areas: "kitchen" }));
  const r = runCli(["commands", MODEL, "--lora", adapter, "--home", home, "-i", "turn off the light"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^edgellm: home file .*home\.json: .*\n$/);
  const e = runCli(["commands", MODEL, "--lora", adapter, "-i", "  "]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /-i: empty sentence/);
});
