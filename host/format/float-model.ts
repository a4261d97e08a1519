// A model held as f32 tensors: what checkpoint readers produce and quantizers consume.
import { Kind, LAYER_KINDS, ModelConfig } from "./spec.js";

export interface FloatModel {
  config: ModelConfig;
  // key `${kind}/${layer}` → f32 [rows][cols]
  tensors: Map<string, Float32Array>;
  tokenizer?: Uint8Array;
}

export function tensorKey(kind: Kind, layer = 0): string {
  return `${kind}/${layer}`;
}

// Every (kind, layer) a model of this config has, in file order.
export function tensorList(c: ModelConfig): Array<[Kind, number]> {
  const list: Array<[Kind, number]> = [[Kind.Embedding, 0]];
  for (const kind of LAYER_KINDS) for (let l = 0; l < c.nLayers; l++) list.push([kind, l]);
  list.push([Kind.RmsFinal, 0]);
  if (!c.sharedClassifier) list.push([Kind.Classifier, 0]);
  return list;
}
