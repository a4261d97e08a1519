// Resolves the model and tokenizer a command runs on, including the embedded default model.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadModelFile, readFileChecked, type LoadedModel } from "../format/load.js";
import { PROJECT_ROOT } from "../engine/module.js";
import { UsageError } from "./errors.js";

export const DEFAULT_MODEL = join(PROJECT_ROOT, "models", "default.ellm");

export function resolveModelPath(path: string | undefined): string {
  if (path === "") throw new UsageError("the model path is empty (leave it out to use the default model)");
  if (path) return path;
  if (!existsSync(DEFAULT_MODEL)) throw new UsageError(`no model given and the default model ${DEFAULT_MODEL} is missing`);
  return DEFAULT_MODEL;
}

export function readTokenizer(path: string | undefined): { bytes: Uint8Array; path: string } | undefined {
  if (path === "") throw new UsageError("the tokenizer path (-z) is empty");
  return path ? { bytes: readFileChecked(path, "tokenizer", 64 << 20), path } : undefined;
}

export function loadModel(path: string | undefined, tokenizerPath: string | undefined): LoadedModel {
  const model = loadModelFile(resolveModelPath(path), readTokenizer(tokenizerPath));
  if (!model.image.tokenizer) {
    throw new UsageError(`${model.path} carries no tokenizer: pass -z <tokenizer.bin>`);
  }
  return model;
}
