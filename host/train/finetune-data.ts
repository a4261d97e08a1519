// Fine-tuning rows: each example tokenized (BOS first) into a window of T positions, with the
// target of each position: the next token where it is trained on, -1 where it is not. Labelled
// examples are tokenized by the module (Engine.example, assembly/text/example.ts: the same
// records the on-device trainer uses) and train on the label and its end only (the sentence is
// context); plain text on every next token. Shorter rows are padded with BOS and -1; longer ones are cut (counted).
import type { Engine } from "../engine/engine.js";
import type { ExampleFile } from "../commands/examples.js";

export interface Rows {
  tokens: Int32Array;   // [n][T]
  targets: Int32Array;  // [n][T], -1: not trained on
  n: number;
  T: number;
  truncated: number;    // rows cut at T
  labelled: boolean;
  from: Int32Array;     // [n] first token trained on (the label's first)
  intentTo: Int32Array; // [n] first token past the label's intent (labelled rows; else = from)
}

const BOS = 1;

export function tokenizeRows(e: Engine, file: ExampleFile, T: number): Rows {
  const seqs: { tokens: Int32Array; from: number; intentTo: number }[] = [];
  if (file.kind === "labelled") {
    for (const ex of file.examples) seqs.push(e.example(ex.sentence, ex.label));
  } else {
    for (const line of file.lines) seqs.push({ tokens: e.encode(line, true, false), from: 1, intentTo: 1 });
  }
  const n = seqs.length;
  const tokens = new Int32Array(n * T).fill(BOS), targets = new Int32Array(n * T).fill(-1);
  let truncated = 0;
  const from = Int32Array.from(seqs, (s) => s.from), intentTo = Int32Array.from(seqs, (s) => s.intentTo);
  seqs.forEach((s, i) => {
    if (s.tokens.length > T + 1) truncated++;
    const len = Math.min(s.tokens.length, T + 1);
    tokens.set(s.tokens.subarray(0, Math.min(len, T)), i * T);
    // Position p predicts token p + 1; trained on when p + 1 is at or past `from`.
    for (let p = 0; p + 1 < len; p++) if (p + 1 >= s.from) targets[i * T + p] = s.tokens[p + 1];
  });
  return { tokens, targets, n, T, truncated, labelled: file.kind === "labelled", from, intentTo };
}
