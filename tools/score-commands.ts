// Scores `edgellm commands` output against a data file (issue 19's figures): exact label and
// intent over all lines, the worst intents, and — with --train — the same split by whether every
// non-numeric slot value of the expected label occurs as a value somewhere in the training files
// ("seen") or not ("novel": a room or device name no training home has, what sentences from new
// homes will bring).
//   cut -f1 val.tsv | node bin/edgellm.js commands > out.txt
//   node dist/tools/score-commands.js out.txt val.tsv [--train train-home*.tsv]
import { readFileSync } from "node:fs";
import { normalizeLabel, parseLabel, score, type Score } from "../host/commands/labels.js";

const USAGE = "usage: score-commands OUTPUT.txt DATA.tsv [--train TRAIN.tsv ...]";
const isNumber = (v: string) => /^-?[0-9]+(\.[0-9]+)?$/.test(v);

function labelLines(path: string): string[] {
  return readFileSync(path, "utf8").split("\n").filter((l) => l.trim()).map((l, i) => {
    const tab = l.indexOf("\t");
    if (tab < 0) throw new Error(`${path}:${i + 1}: no TAB (expected SENTENCE<TAB>LABEL)`);
    return l.slice(tab + 1);
  });
}

function slotValues(label: string): string[] {
  return Object.values(parseLabel(normalizeLabel(label))?.slots ?? {}).filter((v) => !isNumber(v));
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const line = (name: string, s: Score) => `${name}: ${s.examples} lines, exact ${pct(s.exact)}, intent ${pct(s.intent)}`;

function main(argv: string[]): void {
  const t = argv.indexOf("--train");
  const train = t >= 0 ? argv.slice(t + 1) : [];
  const [outPath, dataPath] = t >= 0 ? argv.slice(0, t) : argv;
  if (!outPath || !dataPath || (t >= 0 && train.length === 0)) throw new Error(USAGE);
  const want = labelLines(dataPath);
  const got = readFileSync(outPath, "utf8").split("\n");
  if (got.filter((l) => l.length > 0).length !== want.length) throw new Error(`${outPath} has ${got.filter((l) => l.length > 0).length} lines, ${dataPath} ${want.length} labelled lines`);
  const pairs = want.map((w, i) => ({ want: w, got: got[i] }));
  const all = score(pairs);
  console.log(line("all", all));
  const worst = [...all.byIntent.entries()].sort((a, b) => a[1].exact - b[1].exact).slice(0, 6);
  console.log("worst intents: " + worst.map(([k, r]) => `${k} ${pct(r.exact)} (${r.examples}; intent ${pct(r.intent)})`).join(", "));
  if (train.length === 0) return;
  const seen = new Set(train.flatMap((p) => labelLines(p).flatMap(slotValues)));
  const novel = (w: string) => slotValues(w).some((v) => !seen.has(v));
  console.log(line("slot values seen in training", score(pairs.filter((p) => !novel(p.want)))));
  console.log(line("a slot value no training line has", score(pairs.filter((p) => novel(p.want)))));
}

try { main(process.argv.slice(2)); } catch (e) { process.stderr.write(`score-commands: ${(e as Error).message}\n`); process.exit(2); }
