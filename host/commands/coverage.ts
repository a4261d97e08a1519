import { compileGrammar } from "../grammar/compile.js";
import { Matcher } from "../grammar/matcher.js";
import { commandGrammar } from "./grammar.js";
import type { Inventory, LabelledLine } from "./inventory.js";

export function formatLabel(line: LabelledLine): string {
  return [line.intent, ...line.slots.map(([k, v]) => `${k}=${v}`)].join(" ; ");
}

// Labels of `lines` (all of one home) that the inventory's grammar accepts.
export type HomeMode = "none" | "names" | "strict";

export function commandCoverage(inv: Inventory, lines: LabelledLine[], mode: HomeMode): number {
  if (lines.length === 0) return 0;
  const matcher = new Matcher(compileGrammar(commandGrammar(inv, mode === "none" ? null : lines[0].home, mode === "strict"), "commands"));
  let accepted = 0;
  for (const line of lines) {
    matcher.setInput(line.sentence);
    if (matcher.accepts(formatLabel(line))) accepted++;
  }
  return accepted;
}
