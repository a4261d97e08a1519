// edgellm images back to f32 tensors (so any file can be re-quantized or trained from), and
// lossless repacking of ternary matrices between the t2 and t5 layouts.
import { tensorKey, tensorList, type FloatModel } from "./float-model.js";
import { packTernary, unpackTernary } from "./quantize.js";
import { isTernary, QTYPES, storedFloatCount } from "./qtypes.js";
import { QType } from "./spec.js";
import type { ModelImage, TensorRecord } from "./writer.js";

// The f32 numbers a tensor stores: all its values when f32, else its scales, which every
// quantized layout keeps at the end of the tensor's data. Codes are integers and always finite.
export function storedFloats(t: TensorRecord): Float32Array {
  const count = storedFloatCount(t.qtype, t.rows, t.cols, t.group);
  return new Float32Array(t.data.slice(t.data.length - 4 * count).buffer);
}

export function tensorToFloat(t: TensorRecord): Float32Array {
  return QTYPES[t.qtype].dequantize(t.data, t.rows, t.cols, t.group);
}

export function imageToFloat(image: ModelImage): FloatModel {
  const tensors = new Map<string, Float32Array>();
  for (const t of image.tensors) tensors.set(tensorKey(t.kind, t.layer), tensorToFloat(t));
  if (tensorList(image.config).length !== tensors.size) throw new Error("tensor list mismatch");
  return { config: { ...image.config }, tensors, tokenizer: image.tokenizer };
}

// Every ternary matrix stored as `to`, with the same weights and scales: the model's outputs do
// not change by a single bit. Other tensors are kept as they are.
export function repackTernary(image: ModelImage, to: QType.T2 | QType.T5): ModelImage {
  const tensors = image.tensors.map((t): TensorRecord => {
    if (!isTernary(t.qtype) || t.qtype === to) return t;
    const ternary = unpackTernary(t.data, t.qtype as QType.T2 | QType.T5, t.rows, t.cols);
    return { ...t, qtype: to, data: packTernary(ternary, to, t.rows, t.cols) };
  });
  return { ...image, tensors };
}
