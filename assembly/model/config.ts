// Model hyperparameters, read from the file header (docs/model-format.md).
export class Config {
  dim: i32 = 0;        // transformer width
  hiddenDim: i32 = 0;  // FFN width
  nLayers: i32 = 0;
  nHeads: i32 = 0;
  nKvHeads: i32 = 0;
  vocabSize: i32 = 0;
  seqLen: i32 = 0;     // maximum context in the file
  ropeTheta: f32 = 10000;
  normEps: f32 = 1e-5;
  sharedClassifier: bool = true;

  @inline get headSize(): i32 { return this.dim / this.nHeads; }
  @inline get kvDim(): i32 { return this.dim / this.nHeads * this.nKvHeads; }
}

export const MAX_DIM: i32 = 8192;
export const MAX_HIDDEN: i32 = 32768;
export const MAX_LAYERS: i32 = 256;
export const MAX_HEADS: i32 = 256;
export const MAX_VOCAB: i32 = 262144;
export const MAX_SEQ: i32 = 65536;

export function configIsSane(c: Config): bool {
  if (c.dim <= 0 || c.dim > MAX_DIM) return false;
  if (c.hiddenDim <= 0 || c.hiddenDim > MAX_HIDDEN) return false;
  if (c.nLayers <= 0 || c.nLayers > MAX_LAYERS) return false;
  if (c.nHeads <= 0 || c.nHeads > MAX_HEADS) return false;
  if (c.nKvHeads <= 0 || c.nKvHeads > c.nHeads || c.nHeads % c.nKvHeads != 0) return false;
  if (c.dim % c.nHeads != 0 || (c.dim / c.nHeads) % 2 != 0) return false;
  if (c.vocabSize <= 0 || c.vocabSize > MAX_VOCAB) return false;
  if (c.seqLen <= 0 || c.seqLen > MAX_SEQ) return false;
  if (!(c.normEps > 0) || !(c.ropeTheta > 0) || !isFinite(c.normEps) || !isFinite(c.ropeTheta)) return false;
  return true;
}
