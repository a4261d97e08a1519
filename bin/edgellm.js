#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (npm run build).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
const main = new URL("../dist/host/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write("edgellm: not built yet: run `npm run build` first\n");
  process.exit(1);
}
await import(main.href);
