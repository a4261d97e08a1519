// Constrained decoding (issue 19): the grammar compiler's errors, what automata accept, token
// masks, the module's matcher against the TS reference over tok512, and the home-command
// grammar's coverage of val labels.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { compileGrammar } from "../../host/grammar/compile.js";
import { Matcher } from "../../host/grammar/matcher.js";
import { writeGrammar } from "../../host/grammar/binary.js";
import { ModuleGrammar } from "../../host/grammar/module-grammar.js";
import { Engine } from "../../host/engine/engine.js";
import { loadModelFile } from "../../host/format/load.js";
import { readCommandData } from "../../host/commands/data.js";
import { commandGrammar } from "../../host/commands/grammar.js";
import { commandCoverage, formatLabel } from "../../host/commands/coverage.js";
import { loadInventory } from "../../host/commands/load-inventory.js";
import { ROOT, SHARED, rng } from "./helpers.js";

const DATA = join(SHARED, "data", "home-commands");
const haveData = existsSync(join(DATA, "homes.json"));
const skipData = haveData || process.env.CI === "true" ? false : "needs ../shared/data/home-commands";
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

test("grammar errors are one line naming file, line, column and the problem", () => {
  const cases: [string, string, RegExp][] = [
    ["root ::= \"a\" b", "E_GRAMMAR_UNDEFINED", /^g:1:14: undefined rule "b"$/],
    ["root ::= a\na ::= \"x\" root", "E_GRAMMAR_RECURSION", /^g:2:11: recursive rule \(root -> a -> root\)/],
    ["", "E_GRAMMAR_EMPTY", /^g: the grammar has no rules$/],
    ["a ::= \"x\"", "E_GRAMMAR_EMPTY", /no rule named "root"/],
    ["root ::= \"abc", "E_GRAMMAR_SYNTAX", /^g:1:10: unterminated string literal$/],
    ["root ::= [z-a]", "E_GRAMMAR_SYNTAX", /^g:1:13: character range is reversed$/],
    ["root ::= (\"a\"", "E_GRAMMAR_SYNTAX", /^g:1:10: missing \) for this \($/],
    ["root ::= \"a\"\nroot ::= \"b\"", "E_GRAMMAR_SYNTAX", /^g:2:1: rule "root" is defined twice$/],
    ["root ::= copy\ncopy ::= \"a\"", "E_GRAMMAR_SYNTAX", /builtin/],
    ["root ::= \"\\q\"", "E_GRAMMAR_SYNTAX", /unknown escape \\q/],
  ];
  for (const [src, code, msg] of cases) {
    assert.throws(() => compileGrammar(src, "g"), (e: Error & { code?: string }) => {
      assert.equal(e.code, code, src);
      assert.match(e.message, msg);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

test("automaton accepts exactly its language, copy takes whole words of the input", () => {
  const m = new Matcher(compileGrammar(`# comment
root ::= "Hass" ("On" | "Off") (" ; " slot)* # trailing
slot ::= "n=" copy | "b=" [0-9]+ | "c=" [^ ;]+ | "o=" "x"?`));
  m.setInput("Turn OFF the Porch-light, please!");
  const yes = ["HassOff", "HassOn ; n=porch light", "HassOn ; n=turn off the porch light please", "HassOn ; b=40 ; n=the", "HassOn ; c=ab", "HassOn ; o=", "HassOn ; o=x"];
  const no = ["Hass", "HassOn ; n=", "HassOn ; n=orch", "HassOn ; n=porch-light", "HassOn ; n=porch  light", "HassOn ; b=", "HassOn ; c=a b", "HassOnn", "hassOn"];
  for (const s of yes) assert.ok(m.accepts(s), s);
  for (const s of no) assert.ok(!m.accepts(s), s);
});

test("mask for a tiny vocab, advance and accepting", () => {
  const m = new Matcher(compileGrammar(`root ::= "on" | "off" | "of" [0-9]`));
  const vocab = ["o", "on", "of", "off", "f", "n", "", "x", "of1", "1"].map(bytes);
  assert.deepEqual([...m.mask(vocab)], [1, 1, 1, 1, 0, 0, 0, 0, 1, 0]);
  assert.ok(!m.accepting());
  assert.ok(m.advance(bytes("of")));
  assert.deepEqual([...m.mask(vocab)], [0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  assert.ok(!m.accepting());
  assert.ok(!m.advance(bytes("x")));
  assert.ok(m.advance(bytes("f")));
  assert.ok(m.accepting());
  assert.deepEqual([...m.mask(vocab)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

for (const kind of ["simd", "mvp"] as const) test(`the module's masks (${kind}) equal the TS reference's over tok512 along random paths`, { skip: skipData }, () => {
  const engine = Engine.load(loadModelFile(join(ROOT, "models", "default.ellm")).bytes, undefined, { ctx: 16, engine: kind });
  const vocab = Array.from({ length: engine.info.vocabSize }, (_, t) => engine.decode(0, t));
  const lines = readCommandData(DATA).val[1];
  const auto = compileGrammar(commandGrammar(loadInventory(), lines[0].home), "commands");
  const mod = new ModuleGrammar(engine, writeGrammar(auto));
  const ref = new Matcher(auto);
  const r = rng(19);
  let steps = 0;
  for (let i = 0; i < 12; i++) {
    const line = lines[Math.floor(r() * lines.length)];
    mod.setInput(line.sentence); ref.setInput(line.sentence);
    for (let k = 0; k < 40; k++) {
      const want = ref.mask(vocab), got = mod.mask();
      assert.deepEqual(got, want, `step ${k} of "${line.sentence}"`);
      assert.equal(mod.accepting(), ref.accepting());
      const allowed = [...want.keys()].filter((t) => want[t]);
      const refused = [...want.keys()].find((t) => !want[t])!;
      assert.equal(mod.advance(refused), false);
      if (allowed.length === 0) break;
      const t = allowed[Math.floor(r() * allowed.length)];
      assert.ok(mod.advance(t)); assert.ok(ref.advance(vocab[t]));
      steps++;
    }
  }
  assert.ok(steps > 200, `${steps} steps`);
});

test("the module refuses a damaged compiled grammar with a one-line error", () => {
  const engine = Engine.load(loadModelFile(join(ROOT, "models", "default.ellm")).bytes, undefined, { ctx: 16 });
  const good = writeGrammar(compileGrammar(`root ::= "a"+`));
  const flipped = good.slice(); flipped[good.length - 1] ^= 1;
  const badMagic = good.slice(); badMagic[0] ^= 1;
  assert.throws(() => new ModuleGrammar(engine, flipped), /checksum/);
  assert.throws(() => new ModuleGrammar(engine, badMagic), /E_GRAMMAR|not a compiled grammar/);
  assert.throws(() => new ModuleGrammar(engine, good.subarray(0, 40)), /not a compiled grammar/);
  assert.equal(engine.x.grammarMask(0), -21); // E_NO_GRAMMAR: a failed load leaves none
  const g = new ModuleGrammar(engine, writeGrammar(compileGrammar(`root ::= "x" copy`)));
  const x = Array.from({ length: engine.info.vocabSize }, (_, t) => t).find((t) => new TextDecoder().decode(engine.decode(0, t)) === "x")!;
  g.setInput("a b");
  assert.ok(g.advance(x));
  assert.ok(g.mask().reduce((a, b) => a + b, 0) > 0); // a copy of "a b" may follow
  assert.throws(() => g.setInput("ab ".repeat(100)), /argument out of range/);
  assert.ok(g.advance(x));
  assert.equal(g.mask().reduce((a, b) => a + b, 0), 0); // too long an input leaves none to copy
  assert.equal(g.accepting(), false);
});

// Numbers are copied from the sentence (copynum) or written out (the 7 % of numeric values not in
// their sentence: "half an hour" → minutes=30): every validation label is inside the grammar.
test("home-command grammar accepts every val label with the copy terminals, >= 87 % with home names only", { skip: skipData }, () => {
  const data = readCommandData(DATA);
  const inv = loadInventory();
  const val = data.val.flat().length;
  const all = data.val.reduce((s, lines) => s + commandCoverage(inv, lines, "names"), 0);
  const strict = data.val.reduce((s, lines) => s + commandCoverage(inv, lines, "strict"), 0);
  assert.equal(all, val, `${all}/${val}`);
  assert.ok(strict / val >= 0.87, `${strict}/${val}`);
  // and it is a constraint: a wrong intent or slot is refused
  const m = new Matcher(compileGrammar(commandGrammar(inv, data.val[0][0].home), "commands"));
  m.setInput(data.val[0][0].sentence);
  assert.ok(m.accepts(formatLabel(data.val[0][0])));
  assert.ok(!m.accepts("HassTurnOf"));
  assert.ok(!m.accepts("HassTurnOff ; brightness=40"));
  assert.ok(!m.accepts("HassTurnOff ; name=zebra"));
  // copynum: one word of the sentence that starts with a digit, a decimal point inside kept
  const t = new Matcher(compileGrammar('root ::= "t=" copynum\n', "t"));
  t.setInput("set the bedroom to 21.5 degrees for 2 hours");
  assert.ok(t.accepts("t=21.5") && t.accepts("t=2"));
  assert.ok(!t.accepts("t=22") && !t.accepts("t=bedroom") && !t.accepts("t=21.5 degrees") && !t.accepts("t=21"));
});

test("compile-grammar: a grammar that does not compile is one line on stderr and exit 1", () => {
  const dir = mkdtempSync(join(tmpdir(), "grammar-"));
  const bad = join(dir, "bad.gbnf"), good = join(dir, "good.gbnf"), out = join(dir, "good.egrm");
  writeFileSync(bad, "root ::= \"a\" (b\n");
  writeFileSync(good, "root ::= \"on\" | \"off\"\n");
  const tool = join(ROOT, "dist", "tools", "compile-grammar.js");
  const r = spawnSync(process.execPath, [tool, bad], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "edgellm: bad.gbnf:1:14: missing ) for this (\n");
  const ok = spawnSync(process.execPath, [tool, good, out], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(new Uint8Array(readFileSync(out)), writeGrammar(compileGrammar("root ::= \"on\" | \"off\"\n")));
});
