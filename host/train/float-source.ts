// Any model file as f32 tensors for training and quantization: llama2.c checkpoints directly,
// edgellm files dequantized. tokenizerPath overrides an embedded tokenizer.
import { FormatError } from "../format/errors.js";
import { tensorKey, type FloatModel } from "../format/float-model.js";
import { readAnyModel, readFileChecked } from "../format/load.js";
import { dequantizeQ8, dequantizeT2 } from "../format/quantize.js";
import { QType } from "../format/spec.js";
import { checkTokenizer } from "../format/tokenizer.js";
import type { ModelImage } from "../format/writer.js";

export function imageToFloat(image: ModelImage): FloatModel {
  const tensors = new Map<string, Float32Array>();
  for (const t of image.tensors) {
    let w: Float32Array;
    if (t.qtype === QType.F32) w = new Float32Array(t.data.slice().buffer, 0, t.rows * t.cols);
    else if (t.qtype === QType.Q8) w = dequantizeQ8(t.data, t.rows, t.cols, t.group);
    else w = dequantizeT2(t.data, t.rows, t.cols);
    tensors.set(tensorKey(t.kind, t.layer), w);
  }
  return { config: { ...image.config }, tensors, tokenizer: image.tokenizer };
}

export function readFloatModel(path: string, tokenizerPath?: string): FloatModel {
  const r = readAnyModel(path);
  const m = r.model ?? imageToFloat(r.image!);
  if (tokenizerPath) {
    const tok = readFileChecked(tokenizerPath, "tokenizer", 64 << 20);
    checkTokenizer(tok, m.config.vocabSize, tokenizerPath);
    m.tokenizer = tok;
  }
  if (!m.config.sharedClassifier) throw new FormatError("E_CONFIG", `${path}: training supports models with a classifier tied to the embedding`);
  return m;
}
