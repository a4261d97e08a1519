// A LoRA adapter as the host holds it (docs/adapter-format.md): per layer and target,
// W x + (alpha / rank) · B (A x), with A and B decoded to f32 whatever their storage type.
import type { Kind } from "./spec.js";
import type { AdapterStorage, BaseIdentity } from "./adapter-spec.js";

export interface AdapterMatrix {
  kind: Kind;                // the target, a model-format tensor kind (wq … w3)
  layer: number;
  storage: AdapterStorage;   // how the file stores A and B
  out: number;               // rows of the base matrix W
  in: number;                // its columns
  a: Float32Array;           // [rank, in], row-major
  b: Float32Array;           // [out, rank], row-major
}

export interface Adapter {
  base: BaseIdentity;
  rank: number;
  alpha: number;
  matrices: AdapterMatrix[];
}
