// Any model file as f32 tensors for training and quantization: llama2.c checkpoints directly,
// edgellm files dequantized. tokenizerPath overrides an embedded tokenizer.
import { FormatError } from "../format/errors.js";
import type { FloatModel } from "../format/float-model.js";
import { imageToFloat } from "../format/dequantize.js";
import { readAnyModel, readFileChecked, usedTokenizer } from "../format/load.js";

export function readFloatModel(path: string, tokenizerPath?: string): FloatModel {
  const r = readAnyModel(path);
  const m = r.model ?? imageToFloat(r.image!);
  const given = tokenizerPath !== undefined ? { bytes: readFileChecked(tokenizerPath, "tokenizer", 64 << 20), path: tokenizerPath } : undefined;
  m.tokenizer = usedTokenizer(path, m.config.vocabSize, m.tokenizer, given);
  if (!m.config.sharedClassifier) throw new FormatError("E_CONFIG", `${path}: training supports models with a classifier tied to the embedding`);
  return m;
}
