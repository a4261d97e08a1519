// The compiled-grammar file the module loads (docs/grammar.md, "Binary format"): little-endian
// u32 words, versioned and CRC-32 checked like the model file.
import { crc32 } from "../format/crc32.js";
import type { Automaton } from "./compile.js";

export const GRAMMAR_MAGIC = 0x4d524745; // "EGRM"
export const GRAMMAR_VERSION = 1;
const HEADER_WORDS = 8;

export function writeGrammar(a: Automaton): Uint8Array {
  const n = a.accept.length;
  const nEdges = a.edges.reduce((s, e) => s + e.length, 0);
  const nClosure = a.closure.reduce((s, c) => s + c.length, 0);
  const words = new Uint32Array(HEADER_WORDS + 2 * (n + 1) + 2 * n + 2 * nEdges + nClosure);
  words.set([GRAMMAR_MAGIC, GRAMMAR_VERSION, words.byteLength, 0, n, nEdges, nClosure, a.start]);
  let at = HEADER_WORDS;
  // edgeOff[n + 1], closureOff[n + 1]: CSR offsets into edges and closure
  for (let s = 0, e = 0; s <= n; s++) { words[at++] = e; if (s < n) e += a.edges[s].length; }
  for (let s = 0, c = 0; s <= n; s++) { words[at++] = c; if (s < n) c += a.closure[s].length; }
  for (let s = 0; s < n; s++) words[at++] = a.copyTo[s] >>> 0;  // copyTo[n], i32, -1: none
  for (let s = 0; s < n; s++) words[at++] = a.accept[s];        // accept[n], 0 or 1
  for (const out of a.edges) for (const e of out) { words[at++] = e.lo | (e.hi << 8); words[at++] = e.to; } // edges[nEdges][2]
  for (const c of a.closure) for (const t of c) words[at++] = t;  // closure[nClosure]
  const bytes = new Uint8Array(words.buffer);
  words[3] = crc32(bytes.subarray(16)); // over everything after the checksum field
  return bytes;
}
