// A strict JSON reader for the flat objects the peer receives (task, cancel): one pass checks
// the whole payload's syntax exactly as JSON.parse would (nested values included, so "not JSON"
// and "must be string" are told apart) and records where the members of interest are; values
// are read afterwards from those spans. No allocation: every buffer is the caller's.
//
// Strings decode to UTF-8 exactly as the Node host sees them: the payload's invalid UTF-8 byte
// sequences become U+FFFD (WHATWG "maximal subpart" rule, as Buffer.toString), \uXXXX escapes
// join surrogate pairs and a lone surrogate becomes U+FFFD (as TextEncoder).

import { blockBytes, objectBytes } from "../core/heap";

// Value types of a member.
export const J_NONE: i32 = 0;   // member absent
export const J_STRING: i32 = 1;
export const J_NUMBER: i32 = 2;
export const J_TRUE: i32 = 3;
export const J_FALSE: i32 = 4;
export const J_NULL: i32 = 5;
export const J_OBJECT: i32 = 6;
export const J_ARRAY: i32 = 7;

// parse() results.
export const JSON_OK: i32 = 0;
export const JSON_SYNTAX: i32 = 1;      // not JSON
export const JSON_NOT_OBJECT: i32 = 2;  // JSON, but not an object

// Nesting the syntax check follows (JSON.parse allows more; nothing we receive nests at all).
const MAX_DEPTH: i32 = 256;
// Member names longer than this are no name we know, so they are not decoded further.
const KEY_CAP: i32 = 32;

@inline function isWs(c: u32): bool { return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d; }
@inline function isDigit(c: u32): bool { return c >= 0x30 && c <= 0x39; }

@inline function hexVal(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  if (c >= 0x41 && c <= 0x46) return <i32>c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return <i32>c - 0x61 + 10;
  return -1;
}

// Writes code point cp as UTF-8 at out + n when it fits in cap; returns its byte length.
@inline export function utf8Put(cp: u32, out: usize, n: i32, cap: i32): i32 {
  const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  if (out == 0 || n + len > cap) return len;
  const p = out + <usize>n;
  if (len == 1) { store<u8>(p, <u8>cp); }
  else if (len == 2) { store<u8>(p, <u8>(0xc0 | (cp >> 6))); store<u8>(p, <u8>(0x80 | (cp & 0x3f)), 1); }
  else if (len == 3) {
    store<u8>(p, <u8>(0xe0 | (cp >> 12))); store<u8>(p, <u8>(0x80 | ((cp >> 6) & 0x3f)), 1);
    store<u8>(p, <u8>(0x80 | (cp & 0x3f)), 2);
  } else {
    store<u8>(p, <u8>(0xf0 | (cp >> 18))); store<u8>(p, <u8>(0x80 | ((cp >> 12) & 0x3f)), 1);
    store<u8>(p, <u8>(0x80 | ((cp >> 6) & 0x3f)), 2); store<u8>(p, <u8>(0x80 | (cp & 0x3f)), 3);
  }
  return len;
}

// One code point of raw UTF-8 at p (p < end, *p ≥ 0x80): sets lastCp and returns the bytes
// consumed; an invalid sequence gives U+FFFD for its maximal subpart (at least one byte).
export class Utf8Step { cp: u32 = 0; len: i32 = 0; }

export function utf8Next(p: usize, end: usize, r: Utf8Step): void {
  const b0 = <u32>load<u8>(p);
  let need = 0, lower: u32 = 0x80, upper: u32 = 0xbf, cp: u32 = 0;
  if (b0 < 0x80) { r.cp = b0; r.len = 1; return; }
  if (b0 >= 0xc2 && b0 <= 0xdf) { need = 1; cp = b0 & 0x1f; }
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    if (b0 == 0xe0) lower = 0xa0;
    if (b0 == 0xed) upper = 0x9f; // no UTF-16 surrogates in UTF-8
    need = 2; cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (b0 == 0xf0) lower = 0x90;
    if (b0 == 0xf4) upper = 0x8f; // nothing past U+10FFFF
    need = 3; cp = b0 & 0x07;
  } else { r.cp = 0xfffd; r.len = 1; return; }
  let i = 1;
  while (i <= need) {
    if (p + <usize>i >= end) { r.cp = 0xfffd; r.len = i; return; }
    const b = <u32>load<u8>(p + <usize>i);
    if (b < lower || b > upper) { r.cp = 0xfffd; r.len = i; return; }
    lower = 0x80; upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    i++;
  }
  r.cp = cp; r.len = i;
}

// The members of one parsed object whose names are in `names` (the last occurrence wins, as
// with JSON.parse); any other name counts in `unknown`.
export class FlatObject {
  names: StaticArray<string>;
  type: StaticArray<i32>;
  start: StaticArray<u32>; // value span [start, end); a string's excludes its quotes
  end: StaticArray<u32>;
  unknown: i32 = 0;
  // Set by readString: the decoded string's UTF-8 bytes (all, even past cap) and code points
  // counted as JavaScript's ucs2length counts them (a surrogate pair is one).
  strBytes: i32 = 0;
  strChars: i32 = 0;
  private keyBuf: usize;
  private stack: usize;  // u8 [MAX_DEPTH]: 1 = inside an object, 0 = inside an array
  private step: Utf8Step = new Utf8Step();

  constructor(names: StaticArray<string>) {
    this.names = names;
    const n = names.length;
    this.type = new StaticArray<i32>(n);
    this.start = new StaticArray<u32>(n);
    this.end = new StaticArray<u32>(n);
    this.keyBuf = heap.alloc(<usize>KEY_CAP);
    this.stack = heap.alloc(<usize>MAX_DEPTH);
  }

  // What the constructor allocates for n names.
  static heapBytes(n: i32): i64 {
    return objectBytes(offsetof<FlatObject>()) + objectBytes(offsetof<Utf8Step>()) + 3 * objectBytes(<i64>n * 4)
      + blockBytes(KEY_CAP) + blockBytes(MAX_DEPTH);
  }

  has(i: i32): bool { return this.type[i] != J_NONE; }

  // Checks p[n] and records the members; JSON_OK, JSON_SYNTAX or JSON_NOT_OBJECT.
  parse(p: usize, n: i32): i32 {
    for (let i = 0; i < this.names.length; i++) this.type[i] = J_NONE;
    this.unknown = 0;
    const end = p + <usize>n;
    let q = skipWs(p, end);
    if (q >= end) return JSON_SYNTAX;
    if (load<u8>(q) != 0x7b) {
      const r = this.skipValue(q, end);
      if (r == 0) return JSON_SYNTAX;
      return skipWs(r, end) == end ? JSON_NOT_OBJECT : JSON_SYNTAX;
    }
    q = skipWs(q + 1, end);
    if (q < end && load<u8>(q) == 0x7d) return skipWs(q + 1, end) == end ? JSON_OK : JSON_SYNTAX;
    for (;;) {
      if (q >= end || load<u8>(q) != 0x22) return JSON_SYNTAX;
      const kq = this.readString(q + 1, end, this.keyBuf, KEY_CAP);
      if (kq == 0) return JSON_SYNTAX;
      const idx = this.strBytes <= KEY_CAP ? this.match(this.keyBuf, this.strBytes) : -1;
      q = skipWs(kq, end);
      if (q >= end || load<u8>(q) != 0x3a) return JSON_SYNTAX;
      q = skipWs(q + 1, end);
      if (q >= end) return JSON_SYNTAX;
      const vStart = q;
      const t = typeAt(load<u8>(q));
      const r = this.skipValue(q, end);
      if (r == 0) return JSON_SYNTAX;
      if (idx >= 0) {
        this.type[idx] = t;
        this.start[idx] = <u32>(t == J_STRING ? vStart + 1 : vStart);
        this.end[idx] = <u32>(t == J_STRING ? r - 1 : r);
      } else {
        this.unknown++;
      }
      q = skipWs(r, end);
      if (q >= end) return JSON_SYNTAX;
      const c = load<u8>(q);
      if (c == 0x2c) { q = skipWs(q + 1, end); continue; }
      if (c == 0x7d) return skipWs(q + 1, end) == end ? JSON_OK : JSON_SYNTAX;
      return JSON_SYNTAX;
    }
  }

  private match(k: usize, n: i32): i32 {
    for (let i = 0; i < this.names.length; i++) {
      const s = this.names[i];
      if (s.length != n) continue;
      let j = 0;
      while (j < n && <u32>s.charCodeAt(j) == <u32>load<u8>(k + <usize>j)) j++;
      if (j == n) return i;
    }
    return -1;
  }

  // Skips one value at p (a container with everything in it); returns the position after
  // it or 0 on a syntax error. Iterative: a hostile nesting cannot exhaust the call stack.
  private skipValue(p: usize, end: usize): usize {
    let depth = 0;
    let q = p;
    for (;;) {
      // At the start of a value.
      q = skipWs(q, end);
      if (q >= end) return 0;
      const c = <u32>load<u8>(q);
      let closedEmpty = false;
      if (c == 0x7b || c == 0x5b) {
        if (depth >= MAX_DEPTH) return 0;
        store<u8>(this.stack + <usize>depth, c == 0x7b ? 1 : 0);
        depth++;
        q = skipWs(q + 1, end);
        if (q >= end) return 0;
        const close: u32 = c == 0x7b ? 0x7d : 0x5d;
        if (<u32>load<u8>(q) == close) { q++; depth--; closedEmpty = true; }
        else if (c == 0x7b) {
          // The first member's name, then its value.
          if (load<u8>(q) != 0x22) return 0;
          q = this.readString(q + 1, end, 0, 0);
          if (q == 0) return 0;
          q = skipWs(q, end);
          if (q >= end || load<u8>(q) != 0x3a) return 0;
          q++;
          continue;
        } else continue;
      }
      if (!closedEmpty) {
        q = this.skipScalar(q, end);
        if (q == 0) return 0;
      }
      // After a value: close containers or go on to the next element.
      for (;;) {
        if (depth == 0) return q;
        q = skipWs(q, end);
        if (q >= end) return 0;
        const inObject = load<u8>(this.stack + <usize>(depth - 1)) == 1;
        const d = <u32>load<u8>(q);
        if (d == 0x2c) {
          q = skipWs(q + 1, end);
          if (inObject) {
            if (q >= end || load<u8>(q) != 0x22) return 0;
            q = this.readString(q + 1, end, 0, 0);
            if (q == 0) return 0;
            q = skipWs(q, end);
            if (q >= end || load<u8>(q) != 0x3a) return 0;
            q++;
          }
          break;
        }
        if (d == (inObject ? 0x7d : 0x5d)) { q++; depth--; continue; }
        return 0;
      }
    }
    return 0; // unreachable
  }

  private skipScalar(q: usize, end: usize): usize {
    const c = <u32>load<u8>(q);
    if (c == 0x22) return this.readString(q + 1, end, 0, 0);
    if (c == 0x2d || isDigit(c)) return skipNumber(q, end);
    if (c == 0x74) return literal(q, end, "true");
    if (c == 0x66) return literal(q, end, "false");
    if (c == 0x6e) return literal(q, end, "null");
    return 0;
  }

  // Decodes the string whose body starts at p (after the opening quote) into out[cap] (out 0:
  // only check it); returns the position after the closing quote, or 0 on a syntax error.
  // Sets strBytes (all bytes, even those past cap) and strChars.
  readString(p: usize, end: usize, out: usize, cap: i32): usize {
    let q = p;
    let n = 0, chars = 0;
    let high: u32 = 0; // a \u high surrogate waiting for its low half
    const st = this.step;
    for (;;) {
      if (q >= end) return 0;
      const c = <u32>load<u8>(q);
      let cp: u32;
      if (c == 0x22) {
        if (high != 0) { n += utf8Put(0xfffd, out, n, cap); chars++; }
        this.strBytes = n; this.strChars = chars;
        return q + 1;
      }
      if (c < 0x20) return 0; // raw control characters are not allowed in JSON strings
      if (c == 0x5c) {
        if (q + 1 >= end) return 0;
        const e = <u32>load<u8>(q + 1);
        q += 2;
        if (e == 0x75) {
          if (q + 4 > end) return 0;
          const h0 = hexVal(load<u8>(q)), h1 = hexVal(load<u8>(q, 1)), h2 = hexVal(load<u8>(q, 2)), h3 = hexVal(load<u8>(q, 3));
          if ((h0 | h1 | h2 | h3) < 0) return 0;
          q += 4;
          const u = <u32>((h0 << 12) | (h1 << 8) | (h2 << 4) | h3);
          if (u >= 0xdc00 && u <= 0xdfff && high != 0) {
            cp = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
            high = 0;
            n += utf8Put(cp, out, n, cap); chars++;
            continue;
          }
          if (high != 0) { n += utf8Put(0xfffd, out, n, cap); chars++; high = 0; }
          if (u >= 0xd800 && u <= 0xdbff) { high = u; continue; }
          cp = u >= 0xdc00 && u <= 0xdfff ? 0xfffd : u; // a lone low surrogate
        } else {
          if (e == 0x22 || e == 0x5c || e == 0x2f) cp = e;
          else if (e == 0x62) cp = 0x08;
          else if (e == 0x66) cp = 0x0c;
          else if (e == 0x6e) cp = 0x0a;
          else if (e == 0x72) cp = 0x0d;
          else if (e == 0x74) cp = 0x09;
          else return 0;
        }
      } else if (c < 0x80) {
        cp = c; q++;
      } else {
        utf8Next(q, end, st);
        cp = st.cp; q += <usize>st.len;
      }
      if (high != 0) { n += utf8Put(0xfffd, out, n, cap); chars++; high = 0; }
      n += utf8Put(cp, out, n, cap); chars++;
    }
    return 0; // unreachable
  }

  // Decodes member i (a string) into out[cap]; returns its full UTF-8 length (strChars set).
  stringOf(i: i32, out: usize, cap: i32): i32 {
    this.readString(<usize>this.start[i], <usize>this.end[i] + 1, out, cap);
    return this.strBytes;
  }

  // Member i (a number) as the nearest f64 for every number of at most 19 significant digits
  // and a decimal exponent within ±22 (the values the protocol carries); beyond that within
  // an ulp or so.
  numberOf(i: i32): f64 { return parseNumber(<usize>this.start[i], <usize>this.end[i]); }
}

@inline function typeAt(c: u8): i32 {
  if (c == 0x22) return J_STRING;
  if (c == 0x7b) return J_OBJECT;
  if (c == 0x5b) return J_ARRAY;
  if (c == 0x74) return J_TRUE;
  if (c == 0x66) return J_FALSE;
  if (c == 0x6e) return J_NULL;
  return J_NUMBER;
}

function skipWs(p: usize, end: usize): usize {
  let q = p;
  while (q < end && isWs(<u32>load<u8>(q))) q++;
  return q;
}

function literal(p: usize, end: usize, s: string): usize {
  const n = s.length;
  if (p + <usize>n > end) return 0;
  for (let i = 0; i < n; i++) if (<u32>load<u8>(p + <usize>i) != <u32>s.charCodeAt(i)) return 0;
  return p + <usize>n;
}

// JSON number grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
function skipNumber(p: usize, end: usize): usize {
  let q = p;
  if (q < end && load<u8>(q) == 0x2d) q++;
  if (q >= end) return 0;
  let c = <u32>load<u8>(q);
  if (c == 0x30) q++;
  else if (c >= 0x31 && c <= 0x39) { while (q < end && isDigit(<u32>load<u8>(q))) q++; }
  else return 0;
  if (q < end && load<u8>(q) == 0x2e) {
    q++;
    if (q >= end || !isDigit(<u32>load<u8>(q))) return 0;
    while (q < end && isDigit(<u32>load<u8>(q))) q++;
  }
  if (q < end && (load<u8>(q) | 0x20) == 0x65) {
    q++;
    if (q < end && (load<u8>(q) == 0x2b || load<u8>(q) == 0x2d)) q++;
    if (q >= end || !isDigit(<u32>load<u8>(q))) return 0;
    while (q < end && isDigit(<u32>load<u8>(q))) q++;
  }
  return q;
}

// Powers of ten exactly representable in f64 (10^0 … 10^22): m·10^e with m < 2^53 and
// |e| ≤ 22 is then one correctly rounded operation (Clinger's fast path).
function pow10(e: i32): f64 {
  let r: f64 = 1;
  for (let i = 0; i < e; i++) r *= 10;
  return r;
}

// Parses a number already checked by skipNumber.
export function parseNumber(p: usize, end: usize): f64 {
  let q = p;
  let neg = false;
  if (load<u8>(q) == 0x2d) { neg = true; q++; }
  let mant: u64 = 0;
  let digits = 0;   // significant digits kept in mant
  let exp10 = 0;    // decimal exponent adjustment for dropped / fractional digits
  while (q < end && isDigit(<u32>load<u8>(q))) {
    const d = <u64>(load<u8>(q) - 0x30);
    if (digits < 19) { if (mant != 0 || d != 0) { mant = mant * 10 + d; if (mant != 0) digits++; } }
    else exp10++;
    q++;
  }
  if (q < end && load<u8>(q) == 0x2e) {
    q++;
    while (q < end && isDigit(<u32>load<u8>(q))) {
      const d = <u64>(load<u8>(q) - 0x30);
      if (digits < 19) { mant = mant * 10 + d; if (mant != 0) digits++; exp10--; }
      q++;
    }
  }
  if (q < end && (load<u8>(q) | 0x20) == 0x65) {
    q++;
    let eneg = false;
    if (load<u8>(q) == 0x2d) { eneg = true; q++; } else if (load<u8>(q) == 0x2b) q++;
    let e = 0;
    while (q < end && isDigit(<u32>load<u8>(q))) { if (e < 100000) e = e * 10 + <i32>(load<u8>(q) - 0x30); q++; }
    exp10 += eneg ? -e : e;
  }
  let v: f64;
  if (mant == 0) v = 0;
  else if (mant < (<u64>1 << 53) && exp10 >= -22 && exp10 <= 22) {
    v = exp10 >= 0 ? <f64>mant * pow10(exp10) : <f64>mant / pow10(-exp10);
  } else if (exp10 > 308 + 19) v = Infinity;
  else if (exp10 < -343) v = 0;
  else {
    v = <f64>mant;
    if (exp10 >= 0) { let e = exp10; while (e > 22) { v *= 1e22; e -= 22; } v *= pow10(e); }
    else { let e = -exp10; while (e > 22) { v /= 1e22; e -= 22; } v /= pow10(e); }
  }
  return neg ? -v : v;
}

// True when p[n] is well-formed UTF-8 (a literal U+FFFD included).
export function utf8Valid(p: usize, n: i32, st: Utf8Step): bool {
  let q = p;
  const end = p + <usize>n;
  while (q < end) {
    utf8Next(q, end, st);
    if (st.cp == 0xfffd && !(st.len == 3 && load<u8>(q) == 0xef && load<u8>(q, 1) == 0xbf && load<u8>(q, 2) == 0xbd)) return false;
    q += <usize>st.len;
  }
  return true;
}

// The elements of an array member FlatObject.parse already checked (syntax is known good):
// each one's span and type, in order. A container element reports only its type and ends the walk.
export class ArrayWalk {
  start: usize = 0;
  end: usize = 0;
  type: i32 = J_NONE;
  private q: usize = 0;
  private last: usize = 0;

  // The array's span [from, last), from at its '['.
  reset(from: usize, last: usize): ArrayWalk { this.q = from + 1; this.last = last; return this; }

  next(): bool {
    let q = skipWs(this.q, this.last);
    if (q < this.last && load<u8>(q) == 0x2c) q = skipWs(q + 1, this.last);
    if (q >= this.last || load<u8>(q) == 0x5d) return false;
    const c = load<u8>(q);
    this.start = q;
    this.type = typeAt(c);
    if (this.type == J_OBJECT || this.type == J_ARRAY) { this.end = q; this.q = this.last; return true; }
    if (c == 0x22) {
      q++;
      while (load<u8>(q) != 0x22) q += load<u8>(q) == 0x5c ? 2 : 1;
      q++;
    } else {
      while (q < this.last && load<u8>(q) != 0x2c && load<u8>(q) != 0x5d && !isWs(<u32>load<u8>(q))) q++;
    }
    this.end = q;
    this.q = q;
    return true;
  }
}
