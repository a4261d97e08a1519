// Text files the CLI reads (evaluation, calibration and training text): UTF-8, one document
// per line. A binary file given by mistake (a model, a tokenizer) is refused by name instead
// of being scored or trained on as noise.
import { readFileSync } from "node:fs";
import { UsageError } from "./errors.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function readTextFile(path: string, what = "text file"): string {
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch { throw new UsageError(`${what} ${path}: cannot be read`); }
  let text: string;
  try { text = utf8.decode(bytes); } catch { throw new UsageError(`${what} ${path}: not UTF-8 text`); }
  if (text.includes("\0")) throw new UsageError(`${what} ${path}: not text (it contains NUL bytes)`);
  return text;
}
