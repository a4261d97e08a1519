// Regenerates test/vectors/adapter from tools/adapter-vectors.ts (after a deliberate format
// change). Usage: node dist/tools/make-adapter-vectors.js
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { ADAPTER_BASE_VECTOR, buildAdapterVectors } from "./adapter-vectors.js";

const dir = join(PROJECT_ROOT, "test", "vectors", "adapter");
mkdirSync(dir, { recursive: true });
const vectors = buildAdapterVectors();
for (const v of vectors) writeFileSync(join(dir, v.file), v.bytes);
const index = { base: `${ADAPTER_BASE_VECTOR}.ellm`, vectors: vectors.map(({ bytes, ...v }) => ({ ...v, bytes: bytes.length })) };
writeFileSync(join(dir, "index.json"), JSON.stringify(index, null, 1) + "\n");
process.stderr.write(`wrote ${vectors.length} adapter vectors to test/vectors/adapter\n`);
