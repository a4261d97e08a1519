// The compiled home-command grammar (docs/grammar.md "Home commands"), as the module loads it:
// what `edgellm commands` constrains with, what a fleet peer serving commands tasks holds
// (`serve --commands`), and what `compile-grammar --commands` writes for the firmware.
import { writeGrammar } from "../grammar/binary.js";
import { compileGrammar } from "../grammar/compile.js";
import { copyText } from "../grammar/matcher.js";
import { commandGrammar } from "./grammar.js";
import type { Home } from "./home.js";
import { loadInventory } from "./load-inventory.js";

export function compiledCommandGrammar(home: Home | null = null): Uint8Array {
  return writeGrammar(compileGrammar(commandGrammar(loadInventory(), home), "home-command grammar"));
}

// Bytes of a sentence's copy input the module's grammar holds at most (assembly/grammar/matcher.ts INPUT_CAP).
export const COPY_INPUT_BYTES = 256;

// Why a sentence cannot be labelled whatever the model, or null: empty, not UTF-8 (decoded
// with replacement characters), or words longer than the grammar's copy input.
export function sentenceProblem(sentence: string): string | null {
  const s = sentence.trim();
  if (s.length === 0) return "empty sentence";
  if (s.includes("\uFFFD")) return "not UTF-8 text";
  const words = copyText(s).length;
  if (words > COPY_INPUT_BYTES) return `its words take ${words} bytes; the command grammar copies from at most ${COPY_INPUT_BYTES}`;
  return null;
}
