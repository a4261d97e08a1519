import { Matrix } from "./matrix";
import { qtName } from "./qtypes";

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
    if (this.embedding.ternaryInMemory || this.classifier.ternaryInMemory) return true;
    for (let l = 0; l < this.layers.length; l++) {
      const w = this.layers[l];
      if (w.wq.ternaryInMemory || w.wk.ternaryInMemory || w.wv.ternaryInMemory || w.wo.ternaryInMemory ||
          w.w1.ternaryInMemory || w.w2.ternaryInMemory || w.w3.ternaryInMemory) return true;
    }
    return false;
  }

  // The layer matrices' type as the file stores it (qtypes.ts names), or "mixed" when the
  // layers mix types (mixed precision); the fleet announces it.
  get layerQuantName(): string {
    const first = this.layers[0].wq.fileQtype;
    for (let l = 0; l < this.layers.length; l++) {
      const w = this.layers[l];
      if (w.wq.fileQtype != first || w.wk.fileQtype != first || w.wv.fileQtype != first || w.wo.fileQtype != first ||
          w.w1.fileQtype != first || w.w2.fileQtype != first || w.w3.fileQtype != first) return "mixed";
    }
    return qtName(first);
  }
}
