// A compiled grammar (docs/grammar.md, "Binary format") checked in place: every offset and
// state number is validated once here, so the matcher reads the tables without checks.
// copyTo's bit 30: a `copynum` copy (one word starting with a digit); low 30 bits: the target.
export const COPY_NUMBER: i32 = 1 << 30;
export const COPY_TARGET: i32 = COPY_NUMBER - 1;
import * as E from "../core/errors";
import { crc32Update } from "../core/crc32";

const MAGIC: u32 = 0x4d524745; // "EGRM"
const VERSION: u32 = 1;
const HEADER: usize = 32;
const MAX_STATES: u32 = 1 << 20;

export class Automaton {
  n: i32 = 0;
  start: i32 = 0;
  edgeOff: usize = 0;    // u32[n + 1]
  closureOff: usize = 0; // u32[n + 1]
  copyTo: usize = 0;     // i32[n]
  accept: usize = 0;     // u32[n]
  edges: usize = 0;      // u32[nEdges][2]: lo | hi << 8, target
  closure: usize = 0;    // u32[nClosure]
  nCopy: i32 = 0;        // states with a copy edge
}

export class AutomatonResult {
  constructor(public automaton: Automaton | null, public error: i32) {}
}

function fail(code: i32): AutomatonResult { return new AutomatonResult(null, code); }

// Offsets must start at 0, never decrease, and end at `total`.
function offsetsOk(p: usize, n: u32, total: u32): bool {
  if (load<u32>(p) != 0 || load<u32>(p + (<usize>n << 2)) != total) return false;
  for (let i: u32 = 0; i < n; i++) if (load<u32>(p + (<usize>(i + 1) << 2)) < load<u32>(p + (<usize>i << 2))) return false;
  return true;
}

export function parseAutomaton(p: usize, len: usize): AutomatonResult {
  if (len < HEADER) return fail(E.E_GRAMMAR);
  if (load<u32>(p) != MAGIC || load<u32>(p, 4) != VERSION) return fail(E.E_GRAMMAR);
  if (<usize>load<u32>(p, 8) != len || (len & 3) != 0) return fail(E.E_GRAMMAR);
  if (crc32Update(0, p + 16, len - 16) != load<u32>(p, 12)) return fail(E.E_CHECKSUM);
  const n = load<u32>(p, 16), nEdges = load<u32>(p, 20), nClosure = load<u32>(p, 24), start = load<u32>(p, 28);
  if (n == 0 || n > MAX_STATES || nEdges > (1 << 24) || nClosure > (1 << 26) || start >= n) return fail(E.E_GRAMMAR);
  const words: u64 = 8 + 2 * (<u64>n + 1) + 2 * <u64>n + 2 * <u64>nEdges + <u64>nClosure;
  if (words * 4 != <u64>len) return fail(E.E_GRAMMAR);
  const a = new Automaton();
  a.n = <i32>n; a.start = <i32>start;
  a.edgeOff = p + HEADER;
  a.closureOff = a.edgeOff + ((<usize>n + 1) << 2);
  a.copyTo = a.closureOff + ((<usize>n + 1) << 2);
  a.accept = a.copyTo + (<usize>n << 2);
  a.edges = a.accept + (<usize>n << 2);
  a.closure = a.edges + (<usize>nEdges << 3);
  if (!offsetsOk(a.edgeOff, n, nEdges) || !offsetsOk(a.closureOff, n, nClosure)) return fail(E.E_GRAMMAR);
  for (let s: u32 = 0; s < n; s++) {
    const c = load<i32>(a.copyTo + (<usize>s << 2));
    if (c < -1 || (c >= 0 && (c & COPY_TARGET) >= <i32>n) || load<u32>(a.accept + (<usize>s << 2)) > 1) return fail(E.E_GRAMMAR);
    if (c >= 0) a.nCopy++;
  }
  for (let e: u32 = 0; e < nEdges; e++) {
    const range = load<u32>(a.edges + (<usize>e << 3)), to = load<u32>(a.edges + (<usize>e << 3), 4);
    if (range > 0xffff || (range & 0xff) > (range >> 8) || to >= n) return fail(E.E_GRAMMAR);
  }
  for (let i: u32 = 0; i < nClosure; i++) if (load<u32>(a.closure + (<usize>i << 2)) >= n) return fail(E.E_GRAMMAR);
  return new AutomatonResult(a, E.OK);
}
