// Appends UTF-8 text to one preallocated buffer: the outbound messages, topics and log lines
// are all built with it. Writing past the end sets `overflow` and drops the rest, so a caller
// checks once at the end instead of at every field.
import { base64Encode, base64Len } from "./base64";
import { blockBytes, objectBytes } from "../core/heap";

export class Writer {
  buf: usize;
  cap: i32;
  n: i32 = 0;
  overflow: bool = false;

  constructor(buf: usize, cap: i32) { this.buf = buf; this.cap = cap; }

  // A writer over a buffer of its own: what it allocates is heapBytes(cap).
  static alloc(cap: i32): Writer { return new Writer(heap.alloc(<usize>cap), cap); }
  static heapBytes(cap: i32): i64 { return blockBytes(cap) + objectBytes(offsetof<Writer>()); }

  reset(): Writer { this.n = 0; this.overflow = false; return this; }

  @inline private room(k: i32): bool {
    if (this.n + k > this.cap) { this.overflow = true; return false; }
    return true;
  }

  byte(c: u32): Writer {
    if (this.room(1)) { store<u8>(this.buf + <usize>this.n, <u8>c); this.n++; }
    return this;
  }

  // An ASCII literal (AssemblyScript strings are UTF-16; the literals written here are ASCII).
  ascii(s: string): Writer {
    const k = s.length;
    if (!this.room(k)) return this;
    for (let i = 0; i < k; i++) store<u8>(this.buf + <usize>(this.n + i), <u8>s.charCodeAt(i));
    this.n += k;
    return this;
  }

  bytes(p: usize, k: i32): Writer {
    if (!this.room(k)) return this;
    memory.copy(this.buf + <usize>this.n, p, <usize>k);
    this.n += k;
    return this;
  }

  u64(v: u64): Writer {
    // Digits backwards into a 20-byte window, then copied in order.
    const tmp = memory.data(24);
    let i = 20;
    do { i--; store<u8>(tmp + <usize>i, <u8>(0x30 + <u32>(v % 10))); v /= 10; } while (v != 0);
    return this.bytes(tmp + <usize>i, 20 - i);
  }

  u32(v: u32): Writer { return this.u64(<u64>v); }

  i32(v: i32): Writer {
    if (v < 0) { this.byte(0x2d); return this.u64(<u64>(-<i64>v)); }
    return this.u64(<u64>v);
  }

  // A non-negative JSON number rounded to `decimals` (≤ 6) places, trailing zeros dropped:
  // 1.5, 12, 0.125. Negative, NaN and huge values are written as 0 (never invalid JSON).
  fixed(x: f64, decimals: i32): Writer {
    let scale: f64 = 1;
    for (let i = 0; i < decimals; i++) scale *= 10;
    const r = Math.round(x * scale);
    if (!(r >= 0) || r > 9.0e15) return this.byte(0x30);
    const v = <u64>r;
    const s = <u64>scale;
    this.u64(v / s);
    let frac = v % s;
    if (frac == 0) return this;
    this.byte(0x2e);
    let d = s / 10;
    while (frac != 0) { this.byte(<u32>(0x30 + frac / d)); frac %= d; d /= 10; }
    return this;
  }

  // A JSON string literal of UTF-8 text p[k] (already valid UTF-8): quotes, backslashes and
  // control characters escaped.
  jsonString(p: usize, k: i32): Writer {
    this.byte(0x22);
    for (let i = 0; i < k; i++) {
      const c = <u32>load<u8>(p + <usize>i);
      if (c == 0x22 || c == 0x5c) { this.byte(0x5c); this.byte(c); }
      else if (c < 0x20) {
        this.ascii("\\u00");
        this.byte(hexDigit(c >> 4)); this.byte(hexDigit(c & 15));
      } else this.byte(c);
    }
    return this.byte(0x22);
  }

  // A JSON string literal of an ASCII literal that needs no escaping.
  jsonAscii(s: string): Writer { return this.byte(0x22).ascii(s).byte(0x22); }

  // A JSON string literal holding base64 of p[k].
  jsonBase64(p: usize, k: i32): Writer {
    const m = base64Len(k);
    if (!this.room(m + 2)) return this;
    this.byte(0x22);
    this.n += base64Encode(p, k, this.buf + <usize>this.n);
    return this.byte(0x22);
  }

  // The text written so far is copied to out[cap] with a NUL after it when there is room;
  // returns its length, or -1 when it does not fit.
  copyTo(out: usize, cap: i32): i32 {
    if (this.overflow || this.n > cap) return -1;
    memory.copy(out, this.buf, <usize>this.n);
    if (this.n < cap) store<u8>(out + <usize>this.n, 0);
    return this.n;
  }
}

@inline function hexDigit(v: u32): u32 { return v < 10 ? 0x30 + v : 0x61 + v - 10; }
