// Draws perplexity against file size for the model card from a JSON file of measurements
// (docs/models-frontier.json): one line of points per kind of student, with reference lines.
//   node dist/tools/plot-frontier.js docs/models-frontier.json -o docs/models-frontier.svg
import { readFileSync, writeFileSync } from "node:fs";
import { chartSvg, type Series } from "../host/train/curve.js";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728"];

interface Point { bytes: number; ppl: number; label?: string }
interface Frontier { title: string; reference?: Array<{ label: string; y: number }>; series: Array<{ name: string; points: Point[] }> }

function parse(text: string, path: string): Frontier {
  let f: Frontier;
  try { f = JSON.parse(text) as Frontier; } catch (e) { throw new Error(`${path}: not valid JSON (${(e as Error).message})`); }
  if (typeof f?.title !== "string" || !Array.isArray(f.series) || f.series.length === 0) throw new Error(`${path}: needs "title" and a non-empty "series"`);
  for (const s of f.series) {
    if (typeof s?.name !== "string" || !Array.isArray(s.points) || s.points.length === 0) throw new Error(`${path}: every series needs "name" and "points"`);
    const bad = s.points.find((p) => !(p?.bytes > 0) || !(p?.ppl > 0));
    if (bad) throw new Error(`${path}: series "${s.name}": every point needs positive "bytes" and "ppl" (got ${JSON.stringify(bad)})`);
  }
  return f;
}

function main(argv: string[]): void {
  const o = argv.indexOf("-o");
  const input = argv.find((a, i) => i !== o && i !== o + 1);
  if (o < 0 || o + 1 >= argv.length || !input) throw new Error("usage: plot-frontier FRONTIER.json -o OUT.svg");
  const f = parse(readFileSync(input, "utf8"), input);
  const series: Series[] = f.series.map((s, i) => {
    const pts = [...s.points].sort((a, b) => a.bytes - b.bytes);
    return { name: s.name, color: COLORS[i % COLORS.length], points: pts.map((p) => [p.bytes / 1000, p.ppl]), labels: pts.map((p) => p.label ?? "") };
  });
  writeFileSync(argv[o + 1], chartSvg(f.title, series, { xLabel: "file size (kB, log scale)", logX: true, markers: true, hlines: f.reference, w: 760, h: 420 }));
  process.stdout.write(`wrote ${argv[o + 1]} (${series.length} series)\n`);
}

try { main(process.argv.slice(2)); } catch (e) { process.stderr.write(`plot-frontier: ${(e as Error).message}\n`); process.exit(2); }
