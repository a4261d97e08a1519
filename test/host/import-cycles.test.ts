// No import cycles in host/ or assembly/: a cycle means two files share a concept that belongs in
// a third (the kind of tangle issue 17 removed: bpe-heap ↔ tokenizer, checkpoint ↔ trainer).
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.js";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") && !p.endsWith(".d.ts") ? [p] : [];
  });
}

// Relative imports and re-exports of a file (type-only ones too), resolved to source paths.
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.{1,2}\/[^"]+)"/gms)) {
    out.push(resolve(dirname(file), m[1].replace(/\.js$/, "")) + ".ts");
  }
  return out;
}

// The first cycle found by depth-first search, as a list of files, or null.
export function findCycle(files: string[]): string[] | null {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => files.includes(i))]));
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string): string[] | null => {
    if (state.get(f) === "done") return null;
    if (state.get(f) === "open") return [...stack.slice(stack.indexOf(f)), f];
    state.set(f, "open");
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      const c = visit(g);
      if (c) return c;
    }
    stack.pop();
    state.set(f, "done");
    return null;
  };
  for (const f of files) {
    const c = visit(f);
    if (c) return c;
  }
  return null;
}

for (const dir of ["host", "assembly"]) {
  test(`${dir}/ has no import cycle`, () => {
    const cycle = findCycle(sources(join(ROOT, dir)));
    assert.equal(cycle, null, cycle ? `cycle: ${cycle.map((f) => relative(ROOT, f)).join(" → ")}` : "");
  });
}
