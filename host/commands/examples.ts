// Training and validation examples: a text file of `SENTENCE<TAB>LABEL` lines (the home-command
// data), or plain text. Fine-tuning puts its loss on the label only when every line has one.
import { labelProblem } from "./labels.js";

export interface Example { sentence: string; label: string }

export type ExampleFile = { kind: "labelled"; examples: Example[] } | { kind: "text"; lines: string[] };

export class ExampleError extends Error {
  constructor(readonly line: number, message: string) { super(message); }
}

// text: the file's contents (already checked to be UTF-8 text). A file with any tab is read as
// labelled, and then every non-empty line must be SENTENCE<TAB>LABEL with a well-formed label.
export function parseExamples(text: string): ExampleFile {
  const lines = text.split(/\r\n|\r|\n/);
  if (!text.includes("\t")) return { kind: "text", lines: lines.map((l) => l.trim()).filter((l) => l.length > 0) };
  const examples: Example[] = [];
  lines.forEach((raw, i) => {
    if (raw.trim().length === 0) return;
    const tab = raw.indexOf("\t");
    if (tab < 0) throw new ExampleError(i + 1, `line ${i + 1} has no label (expected SENTENCE<TAB>LABEL)`);
    const sentence = raw.slice(0, tab).trim(), label = raw.slice(tab + 1).trim();
    if (sentence.length === 0) throw new ExampleError(i + 1, `line ${i + 1} has an empty sentence`);
    if (label.includes("\t")) throw new ExampleError(i + 1, `line ${i + 1} has more than one tab`);
    const problem = labelProblem(label);
    if (problem) throw new ExampleError(i + 1, `line ${i + 1}: the label is not Intent ; slot=value …: ${problem}`);
    examples.push({ sentence, label });
  });
  if (examples.length === 0) throw new ExampleError(0, "no examples");
  return { kind: "labelled", examples };
}
