// Training text: stories sampled from the teacher (sequence-level distillation: no external
// data set needed), optionally mixed with a user's text file. Tokens are packed into one
// stream, each story starting with BOS (token 1), like llama2.c's pretokenized data.
import { existsSync, readFileSync } from "node:fs";
import { Engine } from "../engine/engine.js";
import { GEN_MORE } from "../engine/generate.js";
import { documents } from "../engine/perplexity.js";

export const BOS = 1;

export interface SampleOptions {
  tokens: number;        // stop after at least this many tokens
  maxLen: number;        // positions per story (BOS included)
  temperature: number;
  topp: number;
  seed: number;
  onProgress?: (done: number) => void;
}

// Stories from the teacher: BOS, then sampled tokens until it emits BOS (end of story) or maxLen.
export function sampleStories(teacher: Engine, o: SampleOptions): Int32Array[] {
  teacher.setSampler(o.temperature, o.topp, BigInt(o.seed));
  const stories: Int32Array[] = [];
  let total = 0;
  const maxLen = Math.min(o.maxLen, teacher.info.ctx);
  while (total < o.tokens) {
    const story = [BOS];
    if (maxLen > 1) teacher.startGeneration(Int32Array.of(BOS), maxLen - 1); // steps 0 would mean the whole context
    for (let more = maxLen > 1; more;) {
      const { status } = teacher.nextPosition();
      const chosen = teacher.x.genChosen();
      if (teacher.x.genPosition() === story.length && chosen !== BOS) story.push(chosen);
      more = status === GEN_MORE;
    }
    stories.push(Int32Array.from(story));
    total += story.length;
    o.onProgress?.(Math.min(total, o.tokens));
  }
  return stories;
}

export function decodeStory(e: Engine, story: Int32Array): string {
  const parts: Uint8Array[] = [];
  for (let i = 1; i < story.length; i++) parts.push(e.decode(story[i - 1], story[i]));
  return Buffer.concat(parts).toString("utf8");
}

// One document per line, as `edgellm eval` reads it.
export function storiesAsText(e: Engine, stories: Int32Array[]): string {
  return stories.map((s) => decodeStory(e, s).replace(/\s+/g, " ").trim()).filter((l) => l.length > 0).join("\n") + "\n";
}

export function encodeTextFile(e: Engine, text: string): Int32Array[] {
  return documents(text).map((d) => e.encode(d, true, false));
}

export function pack(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// A token cache file: raw little-endian i32 tokens, each below the vocabulary size. Anything
// else (another model's cache, a damaged file) is refused before it reaches the trainer.
export function loadTokens(path: string, vocabSize: number): Int32Array | undefined {
  if (!existsSync(path)) return undefined;
  const b = readFileSync(path);
  const fail = (why: string): never => { throw Object.assign(new Error(`corpus cache ${path}: ${why}; remove it to sample again`), { code: "E_CORPUS" }); };
  if (b.byteLength % 4 !== 0) fail(`${b.byteLength} bytes is not a whole number of 4-byte tokens`);
  const t = new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const bad = t.findIndex((v) => v < 0 || v >= vocabSize);
  if (bad >= 0) fail(`token ${t[bad]} at position ${bad} is outside the vocabulary of ${vocabSize}`);
  return t;
}

export function tokenBytes(t: Int32Array): Uint8Array {
  return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
}

// Deterministic PRNG (mulberry32) for batch sampling: batch k of seed s is always the same,
// so a resumed run sees the same data as an uninterrupted one.
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// B windows of T+1 tokens from the stream: inputs [B·T], targets [B·T].
export function batchAt(stream: Int32Array, B: number, T: number, seed: number, step: number, inputs: Int32Array, targets: Int32Array): void {
  const r = prng((seed * 1000003 + step * 7919) >>> 0);
  const span = stream.length - T - 1;
  if (span <= 0) throw new Error(`training text has ${stream.length} tokens, fewer than one window of ${T + 1}`);
  for (let b = 0; b < B; b++) {
    const start = Math.floor(r() * span);
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = stream[start + t];
      targets[b * T + t] = stream[start + t + 1];
    }
  }
}
