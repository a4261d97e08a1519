// Regenerates test/vectors from tools/vectors.ts and the current module (after a deliberate
// format or numerics change). Usage: node dist/tools/make-vectors.js
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../host/engine/engine.js";
import { PROJECT_ROOT } from "../host/engine/module.js";
import { crc32 } from "../host/format/crc32.js";
import { writeModel } from "../host/format/writer.js";
import { buildVector, greedyTokens, VECTOR_NAMES } from "./vectors.js";

for (const name of VECTOR_NAMES) {
  const image = buildVector(name);
  const bytes = writeModel(image);
  const e = Engine.load(bytes, undefined, { engine: "simd" });
  const logits0 = Array.from(e.forward(1, 0));
  const greedy = greedyTokens(e, image.config.seqLen);
  const desc = {
    bytes: bytes.length,
    crc32: crc32(bytes),
    config: image.config,
    tensors: image.tensors.map(({ data, ...t }) => ({ ...t, bytes: data.length })),
    greedy,
    logits0,
  };
  const dir = join(PROJECT_ROOT, "test", "vectors");
  writeFileSync(join(dir, `${name}.ellm`), bytes);
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(desc, null, 1) + "\n");
  process.stderr.write(`wrote test/vectors/${name}.ellm (${bytes.length} bytes)\n`);
}
