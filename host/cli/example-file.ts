// A training or validation file of examples (SENTENCE<TAB>LABEL lines, or plain text), read and
// parsed with one-line errors that name the file and the line.
import { ExampleError, parseExamples, type ExampleFile } from "../commands/examples.js";
import { UsageError } from "./errors.js";
import { readTextFile } from "./text-input.js";

export function readExampleFile(path: string, what: string): ExampleFile {
  try {
    return parseExamples(readTextFile(path, what));
  } catch (e) {
    if (e instanceof ExampleError) throw new UsageError(`${what} ${path}: ${e.message}`);
    throw e;
  }
}
