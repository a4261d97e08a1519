// mkdir -p, one level at a time: Node's recursive mkdir never returns where a parent cannot hold
// directories (it loops on ENOENT under /proc), and a hang is worse than an error.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

export function makeDirs(path: string): void {
  const missing: string[] = [];
  for (let d = resolve(path); !existsSync(d); d = dirname(d)) missing.unshift(d); // "/" exists
  for (const d of missing) mkdirSync(d);
}
