// Charts for federated runs (issue 20 part 5): validation exact-label match (or loss) against
// rounds, or against the ε spent so far, one series per `edgellm federate --json` log (one JSON line a round;
// rounds without a validation are skipped). A reference line marks centralized fine-tuning.
//   node dist/tools/plot-federated.js -o OUT.svg [--x round|epsilon] [--y exact|loss] [--ref 69.3:centralized] TITLE NAME=RUN.jsonl ...
import { readFileSync, writeFileSync } from "node:fs";
import { chartSvg, type Series } from "../host/train/curve.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];
const USAGE = "usage: plot-federated -o OUT.svg [--x round|epsilon] [--y exact|loss] [--ref VALUE:LABEL] TITLE NAME=RUN.jsonl [NAME=RUN.jsonl ...]";

interface RoundLine { round: number; epsilon?: number; valExact?: number; valLoss?: number }

function readRounds(path: string): RoundLine[] {
  return readFileSync(path, "utf8").split("\n").flatMap((line, i) => {
    if (!line.startsWith("{")) return []; // the run's banner and closing lines
    let v: unknown;
    try { v = JSON.parse(line); } catch { throw new Error(`${path}:${i + 1}: not JSON`); }
    const r = v as RoundLine;
    if (typeof r.round !== "number") throw new Error(`${path}:${i + 1}: no "round" (not a federate --json log?)`);
    return [r];
  });
}

function main(argv: string[]): void {
  const take = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    argv.splice(i, 2);
    return v;
  };
  const out = take("-o"), x = take("--x") ?? "round", y = take("--y") ?? "exact", ref = take("--ref");
  if (!out || argv.length < 2) throw new Error(USAGE);
  if (x !== "round" && x !== "epsilon") throw new Error(`--x must be round or epsilon, got '${x}'`);
  if (y !== "exact" && y !== "loss") throw new Error(`--y must be exact or loss, got '${y}'`);
  const [title, ...runs] = argv;
  const series: Series[] = runs.map((arg, i) => {
    const eq = arg.indexOf("=");
    if (eq < 1) throw new Error(`expected NAME=RUN.jsonl, got ${arg}`);
    const rounds = readRounds(arg.slice(eq + 1)).filter((r) => r.valExact !== undefined);
    if (x === "epsilon" && rounds.some((r) => r.epsilon === undefined)) throw new Error(`${arg.slice(eq + 1)}: a run without DP has no ε to plot against`);
    const points = rounds.map((r): [number, number] => [x === "round" ? r.round : r.epsilon!, y === "exact" ? 100 * r.valExact! : r.valLoss!]);
    return { name: arg.slice(0, eq), color: COLORS[i % COLORS.length], points };
  });
  const hlines = ref ? [(() => {
    const c = ref.indexOf(":"), v = Number(c < 0 ? ref : ref.slice(0, c));
    if (!Number.isFinite(v)) throw new Error(`--ref must be VALUE[:LABEL], got '${ref}'`);
    return { y: v, label: c < 0 ? String(v) : ref.slice(c + 1) };
  })()] : [];
  writeFileSync(out, chartSvg(title, series, { xLabel: x === "round" ? "round" : "ε (δ = 1e-5)", markers: true, hlines }));
  process.stdout.write(`wrote ${out} (${series.length} series, validation ${y === "exact" ? "exact match in %" : "loss"})\n`);
}

try { main(process.argv.slice(2)); } catch (e) { process.stderr.write(`plot-federated: ${(e as Error).message}\n`); process.exit(2); }
