// Constrained decoding through the one generation state machine (assembly/gen/generation.ts with
// assembly/grammar): `run --grammar` on the default model prints only what the grammar accepts,
// the same bytes in both builds, and ends when the grammar accepts; a bad grammar is one line.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compileGrammar } from "../../host/grammar/compile.js";
import { Matcher } from "../../host/grammar/matcher.js";
import { ROOT, runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "edgellm-grammar-run-"));
const MODEL = join(ROOT, "models", "default.ellm");
const GRAMMAR = 'root ::= "Hass" ("TurnOff" | "TurnOn" | "GetState") " ; name=" copy\n';
const file = join(dir, "intent.gbnf");
writeFileSync(file, GRAMMAR);

const prompts = ["turn off the porch light", "switch on the kitchen lamp", "is the garage door open"];

test("run --grammar prints only text the grammar accepts, the same in both builds", () => {
  for (const prompt of prompts) {
    const outs = (["simd", "mvp"] as const).map((engine) => {
      const r = runCli(["run", MODEL, "-i", prompt, "-t", "0", "-n", "96", "--engine", engine, "--grammar", file]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.startsWith(prompt), r.stdout);
      return r.stdout.slice(prompt.length).replace(/\n$/, "");
    });
    assert.equal(outs[0], outs[1], "SIMD and MVP");
    const m = new Matcher(compileGrammar(GRAMMAR));
    m.setInput(prompt);
    const end = m.walk(m.reset(), new TextEncoder().encode(outs[0]));
    assert.ok(m.accepting(end), `'${outs[0]}' is a sentence of the grammar`);
  }
});

test("sampling at a temperature stays inside the grammar too", () => {
  for (const seed of ["1", "2", "3"]) {
    const r = runCli(["run", MODEL, "-i", prompts[0], "-t", "1.0", "-s", seed, "-n", "96", "--grammar", file]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.slice(prompts[0].length).replace(/\n$/, "");
    const m = new Matcher(compileGrammar(GRAMMAR));
    m.setInput(prompts[0]);
    assert.ok(m.accepting(m.walk(m.reset(), new TextEncoder().encode(out))), `seed ${seed}: '${out}'`);
  }
});

test("a grammar that does not compile is one line naming the place, before the model loads", () => {
  const bad = join(dir, "bad.gbnf");
  writeFileSync(bad, "root ::= item\n");
  const r = runCli(["run", MODEL, "--grammar", bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^edgellm: .*bad\.gbnf:1:10: undefined rule "item"\n$/);
  const missing = runCli(["run", MODEL, "--grammar", join(dir, "none.gbnf")]);
  assert.notEqual(missing.code, 0);
  assert.equal(missing.stderr.trim().split("\n").length, 1);
});
