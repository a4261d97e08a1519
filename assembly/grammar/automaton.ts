// A compiled grammar (docs/grammar.md, "Binary format") checked once at load, so the matcher
// reads the tables without checks. The file is either in linear memory (grammarLoad: tables read
// in place) or held by the host (grammarLoadExternal: flash on a device; the tables are read in
// chunks through env.gRead, so linear memory holds only what matching needs per state set).
// Either way the same small tables are built here: which states copy (a bitset, their ordered
// list and copy targets) and which accept (a bitset); nothing of size n·4 stays in memory.
// copyTo's bit 30: a `copynum` copy (one word starting with a digit); low 30 bits: the target.
export const COPY_NUMBER: i32 = 1 << 30;
export const COPY_TARGET: i32 = COPY_NUMBER - 1;
import * as E from "../core/errors";
import { crc32Update } from "../core/crc32";
import { fits } from "../core/memory-cap";

const MAGIC: u32 = 0x4d524745; // "EGRM"
const VERSION: u32 = 1;
const HEADER: usize = 32;
const MAX_STATES: u32 = 1 << 20;
// Table entries (8 bytes) one env.gRead brings in: the matcher's chunk buffer holds CHUNK·8 bytes.
export const CHUNK: u32 = 32;
const CHUNK_BYTES: usize = <usize>CHUNK << 3;

// Copies grammar-file bytes [off, off + len) to dst in linear memory; 0 on success (the host
// checks both ranges: firmware/core/imports.c).
@external("env", "gRead")
export declare function gRead(dst: usize, off: u32, len: u32): i32;

export class Automaton {
  n: i32 = 0;
  start: i32 = 0;
  external: bool = false;
  // Tables: addresses in linear memory, or (external) offsets in the host's file.
  edgeOff: usize = 0;    // u32[n + 1]
  closureOff: usize = 0; // u32[n + 1]
  copyTo: usize = 0;     // i32[n]
  accept: usize = 0;     // u32[n]
  edges: usize = 0;      // u32[nEdges][2]: lo | hi << 8, target
  closure: usize = 0;    // u32[nClosure]
  chunk: usize = 0;      // external: u8[CHUNK_BYTES], where reads land
  // Built at load, in linear memory.
  nCopy: i32 = 0;        // states with a copy edge
  copyBits: usize = 0;   // u32[n/32 + 1]: state s copies
  copyState: usize = 0;  // i32[nCopy]: the copy states, ascending (copy index k: rank among them)
  copyTarget: usize = 0; // i32[nCopy]: copyTo of copy state k (bit 30: copynum)
  acceptBits: usize = 0; // u32[n/32 + 1]: state s may end the output

  // bytes [off, off + len) of a table (len ≤ CHUNK_BYTES when external): a pointer to them,
  // in place, or in the chunk buffer (valid until the next read).
  @inline span(table: usize, off: usize, len: usize): usize {
    if (!this.external) return table + off;
    gRead(this.chunk, <u32>(table + off), <u32>len);
    return this.chunk;
  }

  // Entries [lo, hi) of state s in an offsets table (edgeOff, closureOff), as lo | hi << 32.
  @inline range(offsets: usize, s: i32): u64 {
    const o = this.span(offsets, <usize>s << 2, 8);
    return <u64>load<u32>(o) | (<u64>load<u32>(o, 4) << 32);
  }

  @inline isCopy(s: i32): bool { return (load<u32>(this.copyBits + (<usize>(s >> 5) << 2)) & (1 << (s & 31))) != 0; }
  @inline accepts(s: i32): bool { return (load<u32>(this.acceptBits + (<usize>(s >> 5) << 2)) & (1 << (s & 31))) != 0; }

  // The copy index of copy state s: its rank among the copy states (binary search).
  copyIndex(s: i32): i32 {
    let lo = 0, hi = this.nCopy - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (load<i32>(this.copyState + (<usize>mid << 2)) < s) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  @inline target(k: i32): i32 { return load<i32>(this.copyTarget + (<usize>k << 2)); }

  // Bytes built at load beside the file (what grammarLoad allocates for the automaton).
  static tableBytes(n: i64, nCopy: i64): i64 { return 2 * ((n >> 5) + 1) * 4 + nCopy * 8 + CHUNK_BYTES + 64; }
}

export class AutomatonResult {
  constructor(public automaton: Automaton | null, public error: i32) {}
}

function fail(code: i32): AutomatonResult { return new AutomatonResult(null, code); }

// Reads the file's u32 words in order, in place or through a window of CHUNK_BYTES.
class Reader {
  window: usize = 0; at: usize = 0; have: usize = 0;
  constructor(public external: bool, public base: usize, public len: usize, buf: usize) { this.window = buf; }

  u32(off: usize): u32 {
    if (!this.external) return load<u32>(this.base + off);
    if (off < this.at || off + 4 > this.at + this.have) {
      this.at = off & ~(<usize>3);
      this.have = min(CHUNK_BYTES, this.len - this.at);
      gRead(this.window, <u32>this.at, <u32>this.have);
    }
    return load<u32>(this.window + off - this.at);
  }

  crc(from: usize): u32 {
    if (!this.external) return crc32Update(0, this.base + from, this.len - from);
    let c: u32 = 0;
    for (let off = from; off < this.len; off += CHUNK_BYTES) {
      const k = min(CHUNK_BYTES, this.len - off);
      gRead(this.window, <u32>off, <u32>k);
      c = crc32Update(c, this.window, k);
    }
    this.have = 0;
    return c;
  }
}

// Offsets must start at 0, never decrease, and end at `total`.
function offsetsOk(r: Reader, p: usize, n: u32, total: u32): bool {
  if (r.u32(p) != 0 || r.u32(p + (<usize>n << 2)) != total) return false;
  let prev: u32 = 0;
  for (let i: u32 = 1; i <= n; i++) { const v = r.u32(p + (<usize>i << 2)); if (v < prev) return false; prev = v; }
  return true;
}

// The grammar file at p[len] (in linear memory), or, external, the host's file of len bytes.
export function parseAutomaton(p: usize, len: usize, external: bool): AutomatonResult {
  if (len < HEADER) return fail(E.E_GRAMMAR);
  if (!fits(<i64>CHUNK_BYTES + 64)) return fail(E.E_OUT_OF_MEMORY);
  const chunk = external ? heap.alloc(CHUNK_BYTES) : 0;
  const r = new Reader(external, p, len, chunk);
  if (r.u32(0) != MAGIC || r.u32(4) != VERSION) return fail(E.E_GRAMMAR);
  if (<usize>r.u32(8) != len || (len & 3) != 0) return fail(E.E_GRAMMAR);
  const crc = r.u32(12);
  const n = r.u32(16), nEdges = r.u32(20), nClosure = r.u32(24), start = r.u32(28);
  if (r.crc(16) != crc) return fail(E.E_CHECKSUM);
  if (n == 0 || n > MAX_STATES || nEdges > (1 << 24) || nClosure > (1 << 26) || start >= n) return fail(E.E_GRAMMAR);
  const words: u64 = 8 + 2 * (<u64>n + 1) + 2 * <u64>n + 2 * <u64>nEdges + <u64>nClosure;
  if (words * 4 != <u64>len) return fail(E.E_GRAMMAR);
  const a = new Automaton();
  a.n = <i32>n; a.start = <i32>start; a.external = external; a.chunk = chunk;
  a.edgeOff = (external ? 0 : p) + HEADER;
  a.closureOff = a.edgeOff + ((<usize>n + 1) << 2);
  a.copyTo = a.closureOff + ((<usize>n + 1) << 2);
  a.accept = a.copyTo + (<usize>n << 2);
  a.edges = a.accept + (<usize>n << 2);
  a.closure = a.edges + (<usize>nEdges << 3);
  const base: usize = external ? 0 : p; // file offset → reader offset
  if (!offsetsOk(r, a.edgeOff - base, n, nEdges) || !offsetsOk(r, a.closureOff - base, n, nClosure)) return fail(E.E_GRAMMAR);
  let nCopy = 0;
  for (let s: u32 = 0; s < n; s++) {
    const c = <i32>r.u32(a.copyTo - base + (<usize>s << 2));
    if (c < -1 || (c >= 0 && (c & COPY_TARGET) >= <i32>n) || r.u32(a.accept - base + (<usize>s << 2)) > 1) return fail(E.E_GRAMMAR);
    if (c >= 0) nCopy++;
  }
  for (let e: u32 = 0; e < nEdges; e++) {
    const range = r.u32(a.edges - base + (<usize>e << 3)), to = r.u32(a.edges - base + (<usize>e << 3) + 4);
    if (range > 0xffff || (range & 0xff) > (range >> 8) || to >= n) return fail(E.E_GRAMMAR);
  }
  for (let i: u32 = 0; i < nClosure; i++) if (r.u32(a.closure - base + (<usize>i << 2)) >= n) return fail(E.E_GRAMMAR);
  // The small tables: bits of copying and accepting states, the copy states and their targets.
  const bitsBytes = ((<usize>n >> 5) + 1) << 2;
  if (!fits(Automaton.tableBytes(<i64>n, <i64>nCopy))) return fail(E.E_OUT_OF_MEMORY);
  a.nCopy = nCopy;
  a.copyBits = heap.alloc(bitsBytes);
  a.acceptBits = heap.alloc(bitsBytes);
  memory.fill(a.copyBits, 0, bitsBytes);
  memory.fill(a.acceptBits, 0, bitsBytes);
  a.copyState = heap.alloc(max<usize>(<usize>nCopy << 2, 4));
  a.copyTarget = heap.alloc(max<usize>(<usize>nCopy << 2, 4));
  let k = 0;
  for (let s: u32 = 0; s < n; s++) {
    const c = <i32>r.u32(a.copyTo - base + (<usize>s << 2));
    const bit: u32 = 1 << (s & 31), w = (<usize>(s >> 5)) << 2;
    if (c >= 0) {
      store<u32>(a.copyBits + w, load<u32>(a.copyBits + w) | bit);
      store<i32>(a.copyState + (<usize>k << 2), <i32>s);
      store<i32>(a.copyTarget + (<usize>k << 2), c);
      k++;
    }
    if (r.u32(a.accept - base + (<usize>s << 2)) != 0) store<u32>(a.acceptBits + w, load<u32>(a.acceptBits + w) | bit);
  }
  return new AutomatonResult(a, E.OK);
}
