import { Matrix } from "./matrix";

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
}
