// Runs a compiled grammar over bytes with a set of positions (docs/grammar.md, "Matching"):
// a position is an automaton state s < n, or a place in the copied input, n + k*(L+1) + p for
// the k-th copy state and input byte p. Sets are dense lists (at most LIVE_CAP positions),
// deduplicated by a bitset over the states and, for the few copy positions, by the list itself.
// The automaton's tables are read per state
// (automaton.ts span: in place, or in chunks from the host).
import * as E from "../core/errors";
import { fits } from "../core/memory-cap";
import { Automaton, CHUNK, COPY_NUMBER, COPY_TARGET } from "./automaton";

@inline function isDigit(b: u32): bool { return b >= 0x30 && b <= 0x39; }

export const INPUT_CAP: i32 = 256; // bytes of the normalized copy input
const MAX_WORDS: i32 = INPUT_CAP / 2; // a word and its space take two bytes at least
// Positions one set may hold: the live set, not the state count (all of the val sentences'
// labels and their masks stay under 48: docs/grammar.md); past it matching stops with
// E_GRAMMAR_LIVE rather than give a wrong mask.
export const LIVE_CAP: i32 = 256;

export class Matcher {
  a: Automaton;
  input: usize;      // u8[INPUT_CAP]: lower-cased words joined by single spaces
  len: i32 = 0;
  wordStart: usize;  // u8[MAX_WORDS]: offsets of the words (< INPUT_CAP)
  nWords: i32 = 0;
  mark: usize;       // u32[n/32 + 1]: automaton states in the set being built, all zero between calls
  cur: usize; curN: i32 = 0;   // i32[LIVE_CAP]: the state
  tmpA: usize; tmpB: usize;    // i32[LIVE_CAP] each: scratch for walks
  overflow: bool = false;      // a set would have held more than LIVE_CAP positions

  constructor(a: Automaton, markWords: i32, mem: usize) {
    this.a = a;
    this.input = mem;
    this.wordStart = mem + <usize>INPUT_CAP;
    this.mark = this.wordStart + <usize>MAX_WORDS;
    this.cur = this.mark + (<usize>markWords << 2);
    this.tmpA = this.cur + (<usize>LIVE_CAP << 2);
    this.tmpB = this.tmpA + (<usize>LIVE_CAP << 2);
  }

  static bytes(markWords: i64): i64 { return <i64>INPUT_CAP + <i64>MAX_WORDS + markWords * 4 + <i64>LIVE_CAP * 12; }

  // Appends x to list[count] unless it is there: automaton states are marked in a bitset over the
  // n states; copy positions (few at a time) are looked for in the list itself, so no bitset
  // spans the n + nCopy·257 positions.
  @inline add(list: usize, count: i32, x: i32): i32 {
    if (x < this.a.n) {
      const w = this.mark + (<usize>(x >> 5) << 2), bit: u32 = 1 << (x & 31);
      const m = load<u32>(w);
      if (m & bit) return count;
      if (count >= LIVE_CAP) { this.overflow = true; return count; }
      store<u32>(w, m | bit);
    } else {
      for (let i = 0; i < count; i++) if (load<i32>(list + (<usize>i << 2)) == x) return count;
      if (count >= LIVE_CAP) { this.overflow = true; return count; }
    }
    store<i32>(list + (<usize>count << 2), x);
    return count + 1;
  }

  clearMarks(list: usize, count: i32): void {
    const n = this.a.n;
    for (let i = 0; i < count; i++) {
      const x = load<i32>(list + (<usize>i << 2));
      if (x < n) store<u32>(this.mark + (<usize>(x >> 5) << 2), 0);
    }
  }

  // Adds every position reachable without a byte; marks stay set for the caller to clear.
  close(list: usize, count: i32): i32 {
    const a = this.a, n = a.n, stride = this.len + 1;
    for (let i = 0; i < count; i++) {
      const x = load<i32>(list + (<usize>i << 2));
      if (x < n) {
        const r = a.range(a.closureOff, x), c1 = <u32>(r >> 32);
        for (let c = <u32>r; c < c1; c += CHUNK) {
          const m = min(c1 - c, CHUNK);
          const p = a.span(a.closure, <usize>c << 2, <usize>m << 2);
          for (let j: u32 = 0; j < m; j++) {
            const t = load<i32>(p + (<usize>j << 2));
            count = this.add(list, count, t);
            if (a.isCopy(t)) {
              const k = a.copyIndex(t);
              const numeric = (a.target(k) & COPY_NUMBER) != 0;
              for (let w = 0; w < this.nWords; w++) {
                const start = <i32>load<u8>(this.wordStart + <usize>w);
                if (!numeric || isDigit(<u32>load<u8>(this.input + <usize>start))) count = this.add(list, count, n + k * stride + start);
              }
            }
          }
        }
      } else {
        const k = (x - n) / stride, p = (x - n) % stride;
        if (p == this.len || load<u8>(this.input + <usize>p) == 0x20) {
          count = this.add(list, count, a.target(k) & COPY_TARGET);
        }
      }
    }
    return count;
  }

  // dst = close(positions of src after `byte`); returns its size.
  step(src: usize, srcN: i32, byte: u32, dst: usize): i32 {
    const a = this.a, n = a.n, stride = this.len + 1;
    let count = 0;
    for (let i = 0; i < srcN; i++) {
      const x = load<i32>(src + (<usize>i << 2));
      if (x < n) {
        const r = a.range(a.edgeOff, x), e1 = <u32>(r >> 32);
        for (let e = <u32>r; e < e1; e += CHUNK) {
          const m = min(e1 - e, CHUNK);
          const p = a.span(a.edges, <usize>e << 3, <usize>m << 3);
          for (let j: u32 = 0; j < m; j++) {
            const range = load<u32>(p + (<usize>j << 3));
            if (byte >= (range & 0xff) && byte <= (range >> 8)) count = this.add(dst, count, load<i32>(p + (<usize>j << 3), 4));
          }
        }
      } else {
        const k = (x - n) / stride, p = (x - n) % stride;
        if (p < this.len && <u32>load<u8>(this.input + <usize>p) == byte && !(byte == 0x20 && this.numericCopy(k))) count = this.add(dst, count, x + 1);
      }
    }
    count = this.close(dst, count);
    this.clearMarks(dst, count);
    return count;
  }

  reset(): void {
    store<i32>(this.cur, this.a.start);
    this.curN = this.close(this.cur, 1);
    this.clearMarks(this.cur, this.curN);
  }

  // Bytes [p, p+len) from the current state: the size of the resulting set (0: refused), left in tmpA.
  walk(p: usize, len: i32): i32 {
    let src = this.cur, count = this.curN, dst = this.tmpA;
    for (let i = 0; i < len && count > 0; i++) {
      count = this.step(src, count, <u32>load<u8>(p + <usize>i), dst);
      src = dst;
      dst = dst == this.tmpA ? this.tmpB : this.tmpA;
    }
    if (src != this.tmpA && count > 0) memory.copy(this.tmpA, src, <usize>count << 2);
    return count;
  }

  // [256] bytes some position of the current state can consume, into out.
  firstBytes(out: usize): void {
    const a = this.a, n = a.n, stride = this.len + 1;
    memory.fill(out, 0, 256);
    for (let i = 0; i < this.curN; i++) {
      const x = load<i32>(this.cur + (<usize>i << 2));
      if (x < n) {
        const r = a.range(a.edgeOff, x), e1 = <u32>(r >> 32);
        for (let e = <u32>r; e < e1; e += CHUNK) {
          const m = min(e1 - e, CHUNK);
          const p = a.span(a.edges, <usize>e << 3, <usize>m << 3);
          for (let j: u32 = 0; j < m; j++) {
            const range = load<u32>(p + (<usize>j << 3));
            memory.fill(out + <usize>(range & 0xff), 1, <usize>((range >> 8) - (range & 0xff) + 1));
          }
        }
      } else {
        const k = (x - n) / stride, p = (x - n) % stride;
        if (p < this.len && !(load<u8>(this.input + <usize>p) == 0x20 && this.numericCopy(k))) store<u8>(out + <usize>load<u8>(this.input + <usize>p), 1);
      }
    }
  }

  // Whether the k-th copy state is a `copynum` (one word, no spaces).
  @inline numericCopy(k: i32): bool { return (this.a.target(k) & COPY_NUMBER) != 0; }

  accepting(): bool {
    for (let i = 0; i < this.curN; i++) {
      const x = load<i32>(this.cur + (<usize>i << 2));
      if (x < this.a.n && this.a.accepts(x)) return true;
    }
    return false;
  }

  // Too long an input leaves none (copy matches nothing) rather than a half-written one.
  setInput(p: usize, len: i32): i32 {
    const e = this.normalize(p, len);
    if (e < 0) { this.len = 0; this.nWords = 0; }
    this.reset();
    return e;
  }

  // The copy input: ASCII lower-cased; words are runs of a-z 0-9 ' and bytes >= 0x80, and a "."
  // between two digits (57.5).
  normalize(p: usize, len: i32): i32 {
    const r = normalizeCopyInput(p, len, this.input, this.wordStart);
    if (r < 0) return r;
    this.len = r & 0xffff; this.nWords = r >>> 16;
    return E.OK;
  }
}

// Normalizes the copy input p[len] into out[INPUT_CAP] (docs/grammar.md: lower-cased words joined
// by single spaces) and, when wordStart is not 0, each word's offset into wordStart (i32
// [INPUT_CAP / 2], u8); returns (words << 16) | bytes, or E_ARGUMENT past INPUT_CAP bytes. Normalizing a
// normalized text gives it back: the fleet agent keeps a queued sentence's copy input this way.
export function normalizeCopyInput(p: usize, len: i32, out: usize, wordStart: usize): i32 {
  let n = 0, words = 0, inWord = false;
  for (let i = 0; i < len; i++) {
    let b = load<u8>(p + <usize>i);
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    const word = (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == 0x27 || b >= 0x80 ||
      (b == 0x2e && inWord && n > 0 && isDigit(<u32>load<u8>(out + <usize>(n - 1))) && i + 1 < len && isDigit(<u32>load<u8>(p + <usize>(i + 1))));
    if (!word) { inWord = false; continue; }
    if (!inWord) {
      if (n > 0) { if (n >= INPUT_CAP) return E.E_ARGUMENT; store<u8>(out + <usize>n, 0x20); n++; }
      if (n >= INPUT_CAP) return E.E_ARGUMENT;
      if (wordStart != 0) store<u8>(wordStart + <usize>words, <u8>n);
      words++;
      inWord = true;
    }
    if (n >= INPUT_CAP) return E.E_ARGUMENT;
    store<u8>(out + <usize>n, b);
    n++;
  }
  return (words << 16) | n;
}

export class MatcherResult {
  constructor(public matcher: Matcher | null, public error: i32) {}
}

export function newMatcher(a: Automaton): MatcherResult {
  const span: i64 = <i64>a.n + <i64>a.nCopy * (<i64>INPUT_CAP + 1); // positions are numbered below this
  if (span > 0x7fffffff) return new MatcherResult(null, E.E_OUT_OF_MEMORY);
  const markWords = (a.n >> 5) + 1;
  const bytes = Matcher.bytes(<i64>markWords);
  if (!fits(bytes + 64)) return new MatcherResult(null, E.E_OUT_OF_MEMORY);
  const mem = heap.alloc(<usize>bytes);
  memory.fill(mem, 0, <usize>bytes);
  const m = new Matcher(a, markWords, mem);
  m.setInput(0, 0);
  return new MatcherResult(m, E.OK);
}
