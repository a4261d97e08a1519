// The model card's SVG charts: the frontier plot's points, labels and reference lines, and the
// plot-frontier tool's errors for a bad measurements file.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chartSvg } from "../../host/train/curve.js";
import { ROOT } from "./helpers.js";

test("a frontier chart marks every point, labels it, and draws the reference lines", () => {
  const svg = chartSvg("t", [{ name: "a<b", color: "#000", points: [[100, 10], [200, 8]], labels: ["x & y", "z"] }],
    { xLabel: "kB", logX: true, markers: true, hlines: [{ y: 6, label: "target" }] });
  assert.equal(svg.match(/<circle /g)?.length, 2);
  assert.match(svg, /x &amp; y/);
  assert.match(svg, /a&lt;b/);
  assert.match(svg, /stroke-dasharray="4 3"/);
  assert.match(svg, />target</);
});

test("plot-frontier draws the committed measurements and refuses a bad file with one line", () => {
  const dir = mkdtempSync(join(tmpdir(), "edgellm-chart-"));
  const tool = join(ROOT, "dist", "tools", "plot-frontier.js");
  const ok = spawnSync(process.execPath, [tool, join(ROOT, "docs", "models-frontier.json"), "-o", join(dir, "f.svg")], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(readFileSync(join(dir, "f.svg"), "utf8").startsWith("<svg"));
  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify({ title: "t", series: [{ name: "s", points: [{ bytes: -1, ppl: 3 }] }] }));
  const r = spawnSync(process.execPath, [tool, bad, "-o", join(dir, "g.svg")], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^plot-frontier: .*series "s": every point needs positive "bytes" and "ppl"/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});
