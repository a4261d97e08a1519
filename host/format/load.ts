// Loads any model file edgellm accepts (its own format, llama2.c v0 and v2 checkpoints) as
// edgellm model bytes for the module. llama2.c checkpoints are converted in memory: v0 stays
// f32, v2 runs as int8.
import { readFileSync, statSync } from "node:fs";
import { convertModel } from "./convert.js";
import { FormatError } from "./errors.js";
import { FloatModel, tensorKey, tensorList } from "./float-model.js";
import { isLlama2cV2, readLlama2cV0, readLlama2cV2 } from "./llama2c.js";
import { isModelFile, readModel } from "./reader.js";
import { qtypeName } from "./qtypes.js";
import { ATTENTION_KINDS, FFN_KINDS, Kind, KIND_NAMES, QType } from "./spec.js";
import { checkTokenizer } from "./tokenizer.js";
import { writeModel, type ModelImage } from "./writer.js";

export type SourceFormat = "edgellm" | "llama2c-v0" | "llama2c-v2";

export interface LoadedModel {
  path: string;
  bytes: Uint8Array;    // edgellm format
  fileBytes: number;    // size of the file on disk
  source: SourceFormat;
  image: ModelImage;
}

// Largest file we read whole; anything bigger is not a tiny model.
const MAX_MODEL_BYTES = 1 << 30;

export function readFileChecked(path: string, what: string, maxBytes = MAX_MODEL_BYTES): Uint8Array {
  if (path === "") throw new FormatError("E_FILE_MISSING", `${what}: the path is empty`);
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new FormatError("E_FILE_MISSING", `${what} ${path}: not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError("E_FILE_MISSING", `${what} ${path}: ${fileProblem(e)}`);
  }
  if (size === 0) throw new FormatError("E_FILE_EMPTY", `${what} ${path}: file is empty`);
  if (size > maxBytes) throw new FormatError("E_CONFIG", `${what} ${path}: ${size} bytes is larger than the ${maxBytes}-byte limit`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new FormatError("E_FILE_MISSING", `${what} ${path}: ${fileProblem(e)}`);
  }
}

function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENOENT" ? "no such file" : code === "EACCES" || code === "EPERM" ? "permission denied" : `cannot be read (${code ?? (e as Error).message})`;
}

export function readAnyModel(path: string): { model: FloatModel | null; image: ModelImage | null; source: SourceFormat; raw: Uint8Array } {
  const raw = readFileChecked(path, "model");
  if (isModelFile(raw)) {
    const image = readModel(raw, path);
    return { model: null, image, source: "edgellm", raw };
  }
  const v2 = isLlama2cV2(raw);
  const model = v2 ? readLlama2cV2(raw, path) : readLlama2cV0(raw, path);
  checkFinite(path, tensorList(model.config).map(([kind, layer]): [string, Float32Array] => [tensorName(kind, layer), model.tensors.get(tensorKey(kind, layer))!]));
  return { model, image: null, source: v2 ? "llama2c-v2" : "llama2c-v0", raw };
}

// NaN or infinite weights or scales (written by a broken tool; the checksum covers what was
// written) would otherwise surface far from their cause: a trap mid-run, a perplexity of NaN.
const tensorName = (kind: Kind, layer: number) => `tensor ${KIND_NAMES[kind] ?? `kind ${kind}`} of layer ${layer}`;

function checkFinite(path: string, tensors: Iterable<[string, Float32Array]>): void {
  for (const [key, v] of tensors) {
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) throw new FormatError("E_TENSOR", `${path}: ${key} holds a non-finite value (${v[i]} at element ${i})`);
    }
  }
}

// The tokenizer a model will use, checked against its vocabulary: the one given (-z) wins over
// the one embedded in the file. A broken embedded one is refused rather than carried on.
export function usedTokenizer(path: string, vocabSize: number, embedded: Uint8Array | undefined, given?: { bytes: Uint8Array; path: string }): Uint8Array | undefined {
  if (given) { checkTokenizer(given.bytes, vocabSize, given.path); return given.bytes; }
  if (embedded) checkTokenizer(embedded, vocabSize, `embedded in ${path}`);
  return embedded;
}

// tokenizer: a tokenizer.bin to use when the model file carries none (it wins over an embedded one).
export function loadModelFile(path: string, tokenizer?: { bytes: Uint8Array; path: string }): LoadedModel {
  const r = readAnyModel(path);
  const config = (r.image ?? r.model!).config;
  usedTokenizer(path, config.vocabSize, r.image?.tokenizer, tokenizer);
  if (r.image) {
    let bytes = r.raw, image = r.image;
    if (tokenizer) { image = { ...image, tokenizer: tokenizer.bytes }; bytes = writeModel(image); }
    return { path, bytes, fileBytes: r.raw.length, source: r.source, image };
  }
  const image = convertModel(r.model!, { quant: r.source === "llama2c-v2" ? "int8" : "f32", tokenizer: tokenizer?.bytes });
  return { path, bytes: writeModel(image), fileBytes: r.raw.length, source: r.source, image };
}

// The quantization a model is known by: its FFN matrices' type, and its attention matrices'
// when they differ (mixed precision), e.g. "ternary, attention q4".
export function quantOf(image: ModelImage): string {
  const name = (kinds: readonly Kind[]) => qtypeName(image.tensors.find((t) => kinds.includes(t.kind))?.qtype ?? QType.F32);
  const ffn = name(FFN_KINDS), attention = name(ATTENTION_KINDS);
  return ffn === attention ? ffn : `${ffn}, attention ${attention}`;
}
