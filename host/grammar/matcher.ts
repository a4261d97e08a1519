// Runs a compiled automaton over bytes: the reference the module's matcher is tested against,
// and the host's own constrained decoding. The state is a set of positions: an automaton state
// s, or a place inside the copied input (copy state s, byte p) encoded as states + s*(L+1) + p.
import { COPY_NUMBER, COPY_TARGET, type Automaton } from "./compile.js";

// The copy terminal's input, as the module builds it: ASCII lower-cased; words are runs of
// a-z 0-9 ' and bytes >= 0x80 (and a "." between two digits: 57.5), joined by single spaces. A
// copied span is 1+ whole words; a `copynum` span one word that starts with a digit.
const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;
export function copyText(sentence: string): Uint8Array {
  const out: number[] = [];
  let inWord = false;
  const bytes = new TextEncoder().encode(sentence);
  for (let i = 0; i < bytes.length; i++) {
    let b = bytes[i];
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    const word = (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x27 || b >= 0x80 ||
      (b === 0x2e && inWord && isDigit(out[out.length - 1]) && isDigit(bytes[i + 1]));
    if (!word) { inWord = false; continue; }
    if (!inWord && out.length > 0) out.push(0x20);
    inWord = true;
    out.push(b);
  }
  return Uint8Array.from(out);
}

export class Matcher {
  private input: Uint8Array = new Uint8Array(0);
  private wordStarts: number[] = [];
  private states: number[];

  constructor(readonly auto: Automaton) { this.states = this.reset(); }

  setInput(sentence: string): void {
    this.input = copyText(sentence);
    this.wordStarts = [];
    for (let p = 0; p < this.input.length; p++) if (p === 0 || this.input[p - 1] === 32) this.wordStarts.push(p);
    this.states = this.reset();
  }

  reset(): number[] { return (this.states = this.close([this.auto.start])); }
  get state(): number[] { return this.states; }
  set state(s: number[]) { this.states = s; }

  private get stride(): number { return this.input.length + 1; }

  // Adds every position reachable without consuming a byte.
  private close(seeds: number[]): number[] {
    const n = this.auto.accept.length;
    const out = new Set<number>();
    const stack = [...seeds];
    while (stack.length) {
      const x = stack.pop()!;
      if (out.has(x)) continue;
      out.add(x);
      if (x < n) {
        for (const t of this.auto.closure[x]) {
          out.add(t);
          const c = this.auto.copyTo[t];
          if (c >= 0) for (const p of this.wordStarts) if (!(c & COPY_NUMBER) || isDigit(this.input[p])) out.add(n + t * this.stride + p);
        }
      } else {
        const s = Math.floor((x - n) / this.stride), p = (x - n) % this.stride;
        const atWordEnd = p === this.input.length || this.input[p] === 32;
        if (atWordEnd) stack.push(this.auto.copyTo[s] & COPY_TARGET);
      }
    }
    return [...out].sort((a, b) => a - b);
  }

  step(states: number[], byte: number): number[] {
    const n = this.auto.accept.length;
    const next: number[] = [];
    for (const x of states) {
      if (x < n) {
        for (const e of this.auto.edges[x]) if (byte >= e.lo && byte <= e.hi) next.push(e.to);
      } else {
        const s = Math.floor((x - n) / this.stride), p = (x - n) % this.stride;
        if (p < this.input.length && this.input[p] === byte && !(byte === 32 && this.auto.copyTo[s] & COPY_NUMBER)) next.push(x + 1);
      }
    }
    return next.length ? this.close(next) : [];
  }

  walk(states: number[], bytes: Uint8Array): number[] {
    let s = states;
    for (const b of bytes) { if (s.length === 0) break; s = this.step(s, b); }
    return s;
  }

  accepting(states = this.states): boolean { return states.some((x) => x < this.auto.accept.length && this.auto.accept[x] === 1); }

  // mask[t] = 1 when token t's bytes keep the output inside the grammar. Empty tokens are refused.
  // Most tokens fail on their first byte: those are refused from a 256-entry table first.
  mask(vocab: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(vocab.length);
    const first = this.firstBytes();
    for (let t = 0; t < vocab.length; t++) {
      const bytes = vocab[t];
      if (bytes.length > 0 && first[bytes[0]] && this.walk(this.states, bytes).length > 0) out[t] = 1;
    }
    return out;
  }

  // [256] 1 for each byte some position of the current state can consume.
  private firstBytes(): Uint8Array {
    const n = this.auto.accept.length;
    const first = new Uint8Array(256);
    for (const x of this.states) {
      if (x < n) { for (const e of this.auto.edges[x]) first.fill(1, e.lo, e.hi + 1); continue; }
      const s = Math.floor((x - n) / this.stride), p = (x - n) % this.stride;
      if (p < this.input.length && !(this.input[p] === 32 && this.auto.copyTo[s] & COPY_NUMBER)) first[this.input[p]] = 1;
    }
    return first;
  }

  advance(bytes: Uint8Array): boolean {
    const s = this.walk(this.states, bytes);
    if (s.length === 0) return false;
    this.states = s;
    return true;
  }

  accepts(text: string): boolean {
    const s = this.walk(this.close([this.auto.start]), new TextEncoder().encode(text));
    return this.accepting(s);
  }
}
