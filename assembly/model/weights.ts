import { Matrix, QT_T2, QT_T5 } from "./matrix";

// One transformer block's weights, all pointing into the loaded file.
export class LayerWeights {
  rmsAtt: usize = 0;            // f32 [dim]
  wq: Matrix = new Matrix();    // [dim, dim]
  wk: Matrix = new Matrix();    // [kvDim, dim]
  wv: Matrix = new Matrix();    // [kvDim, dim]
  wo: Matrix = new Matrix();    // [dim, dim]
  rmsFfn: usize = 0;            // f32 [dim]
  w1: Matrix = new Matrix();    // [hidden, dim]
  w2: Matrix = new Matrix();    // [dim, hidden]
  w3: Matrix = new Matrix();    // [hidden, dim]
}

export class Weights {
  embedding: Matrix = new Matrix();   // [vocab, dim]
  layers: StaticArray<LayerWeights>;
  rmsFinal: usize = 0;                // f32 [dim]
  classifier: Matrix = new Matrix();  // [vocab, dim]; the embedding itself when tied

  constructor(nLayers: i32) {
    this.layers = new StaticArray<LayerWeights>(nLayers);
    for (let l = 0; l < nLayers; l++) this.layers[l] = new LayerWeights();
  }

  // Whether a ternary matrix is applied by the module's own kernels (in linear memory), which
  // need the run state's lookup tables and row accumulators; host-held weights do not.
  get ternaryInMemory(): bool {
    if (usesLut(this.embedding) || usesLut(this.classifier)) return true;
    for (let l = 0; l < this.layers.length; l++) {
      const w = this.layers[l];
      if (usesLut(w.wq) || usesLut(w.wk) || usesLut(w.wv) || usesLut(w.wo) || usesLut(w.w1) || usesLut(w.w2) || usesLut(w.w3)) return true;
    }
    return false;
  }
}

@inline function usesLut(m: Matrix): bool {
  return !m.external && (m.qtype == QT_T2 || m.qtype == QT_T5);
}
