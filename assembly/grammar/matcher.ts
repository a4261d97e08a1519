// Runs a compiled grammar over bytes with a set of positions (docs/grammar.md, "Matching"):
// a position is an automaton state s < n, or a place in the copied input, n + k*(L+1) + p for
// the k-th copy state and input byte p. Sets are dense lists deduplicated by a bitset.
import * as E from "../core/errors";
import { fits } from "../core/memory-cap";
import { Automaton, COPY_NUMBER, COPY_TARGET } from "./automaton";

@inline function isDigit(b: u32): bool { return b >= 0x30 && b <= 0x39; }

export const INPUT_CAP: i32 = 256; // bytes of the normalized copy input

export class Matcher {
  a: Automaton;
  copyIndex: usize;  // i32[n]: k for a copy state, else -1
  copyState: usize;  // i32[nCopy]: the state of copy index k
  input: usize;      // u8[INPUT_CAP]: lower-cased words joined by single spaces
  len: i32 = 0;
  wordStart: usize;  // i32[INPUT_CAP]
  nWords: i32 = 0;
  cap: i32;          // positions a set may hold: n + nCopy*(INPUT_CAP+1)
  mark: usize;       // u32[cap/32 + 1], all zero between calls
  cur: usize; curN: i32 = 0;   // i32[cap]: the state
  tmpA: usize; tmpB: usize;    // i32[cap] each: scratch for walks

  constructor(a: Automaton, copyIndex: usize, cap: i32, mem: usize) {
    this.a = a; this.copyIndex = copyIndex; this.cap = cap;
    this.copyState = copyIndex + (<usize>a.n << 2);
    this.input = mem;
    this.wordStart = mem + <usize>INPUT_CAP;
    this.mark = this.wordStart + (<usize>INPUT_CAP << 2);
    this.cur = this.mark + ((<usize>(cap >> 5) + 1) << 2);
    this.tmpA = this.cur + (<usize>cap << 2);
    this.tmpB = this.tmpA + (<usize>cap << 2);
  }

  @inline add(list: usize, count: i32, x: i32): i32 {
    const w = this.mark + (<usize>(x >> 5) << 2), bit: u32 = 1 << (x & 31);
    const m = load<u32>(w);
    if (m & bit) return count;
    store<u32>(w, m | bit);
    store<i32>(list + (<usize>count << 2), x);
    return count + 1;
  }

  clearMarks(list: usize, count: i32): void {
    for (let i = 0; i < count; i++) store<u32>(this.mark + (<usize>(load<i32>(list + (<usize>i << 2)) >> 5) << 2), 0);
  }

  // Adds every position reachable without a byte; marks stay set for the caller to clear.
  close(list: usize, count: i32): i32 {
    const a = this.a, n = a.n, stride = this.len + 1;
    for (let i = 0; i < count; i++) {
      const x = load<i32>(list + (<usize>i << 2));
      if (x < n) {
        const c0 = load<u32>(a.closureOff + (<usize>x << 2)), c1 = load<u32>(a.closureOff + (<usize>(x + 1) << 2));
        for (let c = c0; c < c1; c++) {
          const t = load<i32>(a.closure + (<usize>c << 2));
          count = this.add(list, count, t);
          const k = load<i32>(this.copyIndex + (<usize>t << 2));
          if (k >= 0) {
            const numeric = (load<i32>(a.copyTo + (<usize>t << 2)) & COPY_NUMBER) != 0;
            for (let w = 0; w < this.nWords; w++) {
              const start = load<i32>(this.wordStart + (<usize>w << 2));
              if (!numeric || isDigit(<u32>load<u8>(this.input + <usize>start))) count = this.add(list, count, n + k * stride + start);
            }
          }
        }
      } else {
        const k = (x - n) / stride, p = (x - n) % stride;
        if (p == this.len || load<u8>(this.input + <usize>p) == 0x20) {
          count = this.add(list, count, load<i32>(a.copyTo + (<usize>load<i32>(this.copyState + (<usize>k << 2)) << 2)) & COPY_TARGET);
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
        const e0 = load<u32>(a.edgeOff + (<usize>x << 2)), e1 = load<u32>(a.edgeOff + (<usize>(x + 1) << 2));
        for (let e = e0; e < e1; e++) {
          const range = load<u32>(a.edges + (<usize>e << 3));
          if (byte >= (range & 0xff) && byte <= (range >> 8)) count = this.add(dst, count, load<i32>(a.edges + (<usize>e << 3), 4));
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
        const e0 = load<u32>(a.edgeOff + (<usize>x << 2)), e1 = load<u32>(a.edgeOff + (<usize>(x + 1) << 2));
        for (let e = e0; e < e1; e++) {
          const range = load<u32>(a.edges + (<usize>e << 3));
          memory.fill(out + <usize>(range & 0xff), 1, <usize>((range >> 8) - (range & 0xff) + 1));
        }
      } else {
        const k = (x - n) / stride, p = (x - n) % stride;
        if (p < this.len && !(load<u8>(this.input + <usize>p) == 0x20 && this.numericCopy(k))) store<u8>(out + <usize>load<u8>(this.input + <usize>p), 1);
      }
    }
  }

  // Whether the k-th copy state is a `copynum` (one word, no spaces).
  @inline numericCopy(k: i32): bool {
    return (load<i32>(this.a.copyTo + (<usize>load<i32>(this.copyState + (<usize>k << 2)) << 2)) & COPY_NUMBER) != 0;
  }

  accepting(): bool {
    for (let i = 0; i < this.curN; i++) {
      const x = load<i32>(this.cur + (<usize>i << 2));
      if (x < this.a.n && load<u32>(this.a.accept + (<usize>x << 2)) != 0) return true;
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
// [INPUT_CAP]); returns (words << 16) | bytes, or E_ARGUMENT past INPUT_CAP bytes. Normalizing a
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
      if (wordStart != 0) store<i32>(wordStart + (<usize>words << 2), n);
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
  const cap64: i64 = <i64>a.n + <i64>a.nCopy * (<i64>INPUT_CAP + 1);
  const bytes: i64 = (<i64>a.n + <i64>a.nCopy) * 4 + <i64>INPUT_CAP * 5 + ((cap64 >> 5) + 1) * 4 + cap64 * 12;
  if (cap64 > 0x7fffffff || !fits(bytes + 64)) return new MatcherResult(null, E.E_OUT_OF_MEMORY);
  const tables = (<usize>a.n + <usize>a.nCopy) << 2;
  const copyIndex = heap.alloc(tables); // copyIndex[n] then copyState[nCopy]
  let k = 0;
  for (let s = 0; s < a.n; s++) {
    const isCopy = load<i32>(a.copyTo + (<usize>s << 2)) >= 0;
    store<i32>(copyIndex + (<usize>s << 2), isCopy ? k : -1);
    if (isCopy) { store<i32>(copyIndex + (<usize>(a.n + k) << 2), s); k++; }
  }
  const rest = <usize>bytes - tables;
  const mem = heap.alloc(rest);
  memory.fill(mem, 0, rest);
  const m = new Matcher(a, copyIndex, <i32>cap64, mem);
  m.setInput(0, 0);
  return new MatcherResult(m, E.OK);
}
