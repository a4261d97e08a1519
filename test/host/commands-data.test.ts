// The home-command data's building blocks (host/commands/): labels, example files, homes.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ExampleError, parseExamples } from "../../host/commands/examples.js";
import { parseHome } from "../../host/commands/home.js";
import { labelProblem, normalizeLabel, parseLabel, sameLabel, score } from "../../host/commands/labels.js";
import { skipUnless } from "../requirements.js";
import { SHARED } from "./helpers.js";

const DATA = join(SHARED, "data", "home-commands");
const skip = skipUnless(existsSync(join(DATA, "homes.json")), "../shared/data/home-commands");

test("labels: parsed into intent and slots, compared as the data says (case, white space)", () => {
  assert.deepEqual(parseLabel("HassLightSet ; area=kitchen ; brightness=40"), { intent: "HassLightSet", slots: { area: "kitchen", brightness: "40" } });
  assert.deepEqual(parseLabel("HassGetCurrentTime"), { intent: "HassGetCurrentTime", slots: {} });
  assert.equal(parseLabel("turn off the light"), null);
  assert.match(labelProblem("HassTurnOff ; name") ?? "", /not slot=value/);
  assert.match(labelProblem("HassTurnOff ; name=a ; name=b") ?? "", /appears twice/);
  assert.equal(normalizeLabel("  HassTurnOff ;  name=Porch   Light "), "hassturnoff ; name=porch light");
  assert.ok(sameLabel("HassTurnOff ; name=porch light", "hassturnoff ; name=Porch  Light"));
  assert.ok(!sameLabel("HassTurnOff ; name=porch light", "HassTurnOn ; name=porch light"));
});

test("scores: exact match of the whole label and of the intent, overall and by expected intent", () => {
  const s = score([
    { want: "HassTurnOff ; name=porch light", got: "HassTurnOff ; name=porch light" },
    { want: "HassTurnOff ; name=porch light", got: "HassTurnOff ; name=garden lamp" },
    { want: "HassStartTimer ; minutes=5", got: "HassCancelTimer" },
    { want: "HassStartTimer ; minutes=5", got: "garbage" },
  ]);
  assert.deepEqual([s.examples, s.exact, s.intent], [4, 0.25, 0.5]);
  assert.deepEqual(s.byIntent.get("hassturnoff"), { examples: 2, exact: 0.5, intent: 1 });
  assert.deepEqual(s.byIntent.get("hassstarttimer"), { examples: 2, exact: 0, intent: 0 });
});

test("example files: labelled lines, plain text, and one-line reasons for bad lines", () => {
  assert.deepEqual(parseExamples("turn off the porch light\tHassTurnOff ; name=porch light\n\n"), { kind: "labelled", examples: [{ sentence: "turn off the porch light", label: "HassTurnOff ; name=porch light" }] });
  assert.deepEqual(parseExamples("Once upon a time\n\nThe end\n"), { kind: "text", lines: ["Once upon a time", "The end"] });
  const bad: [string, RegExp][] = [
    ["a\tHassTurnOff\nno label here\n", /line 2 has no label/],
    ["a\tturn it off\n", /line 1: the label is not Intent/],
    ["\tHassTurnOff\n", /line 1 has an empty sentence/],
    ["a\tHassTurnOff\tmore\n", /line 1 has more than one tab/],
  ];
  for (const [text, why] of bad) assert.throws(() => parseExamples(text), (e: unknown) => e instanceof ExampleError && why.test(e.message));
});

test("every line of every shared data file is a labelled example; every home in homes.json is a home", { skip }, () => {
  let n = 0;
  for (const f of readdirSync(DATA).filter((x) => x.endsWith(".tsv"))) {
    const parsed = parseExamples(readFileSync(join(DATA, f), "utf8"));
    assert.equal(parsed.kind, "labelled", f);
    if (parsed.kind === "labelled") n += parsed.examples.length;
  }
  assert.equal(n, 21_732 + 3_945, "the README's line counts");
  const homes = JSON.parse(readFileSync(join(DATA, "homes.json"), "utf8")) as unknown[];
  assert.equal(homes.length, 14);
  for (const h of homes) assert.equal(typeof parseHome(JSON.stringify(h)), "object");
  assert.match(parseHome("[1, 2]") as string, /must be object/);
  assert.match(parseHome(JSON.stringify({ areas: ["x"], floors: [], entities: [["lamp", "Light!", {}]] })) as string, /\/entities\/0\/1/);
  assert.match(parseHome("{") as string, /^not JSON/);
});
