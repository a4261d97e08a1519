// Draws the training curves of several `edgellm distill --log` files in one SVG, for the
// model card: each run's cross-entropy on the training windows, plus the distillation loss
// of runs that had a teacher.
//   node dist/tools/plot-curves.js -o docs/models-default-curve.svg "title" NAME=run.log.json ...
import { readFileSync, writeFileSync } from "node:fs";
import { curveSvg, type Series } from "../host/train/curve.js";
import type { LogEntry } from "../host/train/log-entry.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

function main(argv: string[]): void {
  const o = argv.indexOf("-o");
  if (o < 0 || argv.length < o + 4) throw new Error("usage: plot-curves -o OUT.svg TITLE NAME=LOG.json [NAME=LOG.json ...]");
  const out = argv[o + 1], title = argv[o + 2];
  const series: Series[] = [];
  for (const arg of argv.slice(o + 3)) {
    const eq = arg.indexOf("=");
    if (eq < 1) throw new Error(`expected NAME=LOG.json, got ${arg}`);
    const name = arg.slice(0, eq);
    const log = JSON.parse(readFileSync(arg.slice(eq + 1), "utf8")) as { config: { loss: string }; history: LogEntry[] };
    series.push({ name: `${name}: cross-entropy (nats/token)`, color: COLORS[series.length % COLORS.length], points: log.history.map((e) => [e.step, e.ce]) });
    if (log.config.loss !== "ce") {
      series.push({ name: `${name}: ${log.config.loss} loss`, color: COLORS[series.length % COLORS.length], points: log.history.map((e) => [e.step, e.loss]) });
    }
  }
  writeFileSync(out, curveSvg(title, series));
  process.stdout.write(`wrote ${out} (${series.length} series)\n`);
}

try { main(process.argv.slice(2)); } catch (e) { process.stderr.write(`plot-curves: ${(e as Error).message}\n`); process.exit(2); }
