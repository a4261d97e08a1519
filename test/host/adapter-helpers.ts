// Adapters made up for tests: random A and B (B non-zero, so the output changes) for any base.
import type { Adapter } from "../../host/format/adapter.js";
import { AdapterStorage, baseIdentity, targetShape } from "../../host/format/adapter-spec.js";
import { readModel } from "../../host/format/reader.js";
import { CHECKSUM_OFFSET, Kind } from "../../host/format/spec.js";
import { rng } from "./helpers.js";

const TARGETS = [Kind.Wq, Kind.Wk, Kind.Wv, Kind.Wo, Kind.W1, Kind.W2, Kind.W3];

// A random adapter on every target of every layer (B non-zero, so it changes the output).
export function randomAdapter(modelBytes: Uint8Array, rank: number, storage: AdapterStorage, seed: number, bSpan = 0.2): Adapter {
  const m = readModel(modelBytes), r = rng(seed);
  const base = baseIdentity(m.config, new DataView(modelBytes.buffer, modelBytes.byteOffset).getUint32(CHECKSUM_OFFSET, true));
  const matrices: Adapter["matrices"] = [];
  for (let layer = 0; layer < m.config.nLayers; layer++) for (const kind of TARGETS) {
    const [out, inn] = targetShape(base, kind);
    matrices.push({ kind, layer, storage, out, in: inn, a: Float32Array.from({ length: rank * inn }, () => (r() - 0.5) / Math.sqrt(inn)), b: Float32Array.from({ length: out * rank }, () => (r() - 0.5) * bSpan) });
  }
  return { base, rank, alpha: rank, matrices };
}

