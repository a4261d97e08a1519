// BPE tokenizer over llama2.c's tokenizer.bin, used in place: u32 max_token_length, then per
// token f32 score, i32 length, bytes. Encoding follows llama2.c: optional BOS (1), a dummy-prefix
// space, UTF-8 code points (byte fallback to id byte + 3), then greedy merges by best score.
import * as E from "../core/errors";
import { bpeScratchBytes, mergeWithHeap } from "./bpe-heap";
import { Tokenizer } from "./vocab";
import { fitsFrom } from "../core/memory-cap";

export { parseTokenizer, Tokenizer, TokenizerResult } from "./vocab";

export const BOS: i32 = 1;
export const EOS: i32 = 2;


// Token counts from which merging uses the heap (bpe-heap.ts); below, the reference loop is as
// fast and needs no scratch memory.
const HEAP_MERGE_MIN_TOKENS: i32 = 256;

// Encodes text[len] into out (i32, capacity cap ≥ len + 3); returns the count or an error.
// mayAllocate: long texts merge with scratch memory taken from the heap and given back (linear
// memory may grow, within the host's --max-memory cap; past it, the reference loop runs); false
// keeps to the reference loop (the agent, which never allocates while serving).
export function encode(t: Tokenizer, text: usize, len: i32, bos: bool, eos: bool, out: usize, cap: i32, mayAllocate: bool = true): i32 {
  if (cap < len + 3) return E.E_ARGUMENT;
  let n = 0;
  if (bos) { store<i32>(out, BOS); n++; }
  if (len > 0) {
    // Dummy prefix: the " " piece, as sentencepiece's add_dummy_prefix.
    const sp = dummySpace(t);
    if (sp >= 0) { store<i32>(out + (<usize>n << 2), sp); n++; }
  }
  let i = 0;
  while (i < len) {
    // One UTF-8 code point: a lead byte plus up to 3 continuation bytes.
    let cpLen = 1;
    while (cpLen < 4 && i + cpLen < len && (load<u8>(text + <usize>(i + cpLen)) & 0xc0) == 0x80) cpLen++;
    const id = t.lookup(text + <usize>i, cpLen, 0, 0);
    if (id >= 0) {
      store<i32>(out + (<usize>n << 2), id); n++;
    } else {
      for (let j = 0; j < cpLen; j++) {
        store<i32>(out + (<usize>n << 2), <i32>load<u8>(text + <usize>(i + j)) + 3); n++;
      }
    }
    i += cpLen;
  }
  const scratch = mayAllocate && n >= HEAP_MERGE_MIN_TOKENS ? scratchWithinCap(bpeScratchBytes(n)) : 0;
  if (scratch != 0) {
    n = mergeWithHeap(t, out, n, scratch);
    heap.free(scratch); // the last block: the stub allocator takes it back
  } else {
    n = mergeReference(t, out, n);
  }
  if (eos) { store<i32>(out + (<usize>n << 2), EOS); n++; }
  return n;
}

// bytes from the heap if they fit under the host's memory cap, else 0 (nothing allocated).
function scratchWithinCap(bytes: usize): usize {
  const top = heap.alloc(1);
  heap.free(top);
  return fitsFrom(top, <i64>bytes + 64) ? heap.alloc(bytes) : 0; // + 64: the allocator's block header and alignment
}

// The reference merge loop (llama2.c's): the best-scoring adjacent pair, the leftmost of equal
// scores, until none merges. O(n²) lookups.
export function mergeReference(t: Tokenizer, out: usize, n: i32): i32 {
  for (;;) {
    let bestScore: f32 = -1e10;
    let bestId = -1, bestIdx = -1;
    for (let k = 0; k + 1 < n; k++) {
      const a = load<i32>(out + (<usize>k << 2)), b = load<i32>(out + (<usize>(k + 1) << 2));
      const id = t.lookup(t.pieceAt(a), t.lenAt(a), t.pieceAt(b), t.lenAt(b));
      if (id >= 0 && t.scoreAt(id) > bestScore) { bestScore = t.scoreAt(id); bestId = id; bestIdx = k; }
    }
    if (bestIdx < 0) break;
    store<i32>(out + (<usize>bestIdx << 2), bestId);
    memory.copy(out + (<usize>(bestIdx + 1) << 2), out + (<usize>(bestIdx + 2) << 2), <usize>(n - bestIdx - 2) << 2);
    n--;
  }
  return n;
}

function dummySpace(t: Tokenizer): i32 {
  const sp = memory.data(1);
  store<u8>(sp, 0x20);
  return t.lookup(sp, 1, 0, 0);
}

// Writes the text of `token` following `prev` into out[cap]; returns its length or an error.
// As llama2.c: drops the leading space after BOS, maps <0xXX> to the byte, and emits nothing
// for a lone byte that is neither printable nor whitespace.
export function decode(t: Tokenizer, prev: i32, token: i32, out: usize, cap: i32): i32 {
  if (token < 0 || token >= t.vocabSize) return E.E_ARGUMENT;
  let p = t.pieceAt(token);
  let len = t.lenAt(token);
  if (prev == BOS && len > 0 && load<u8>(p) == 0x20) { p++; len--; }
  if (len == 6 && load<u8>(p) == 0x3c && load<u8>(p, 1) == 0x30 && load<u8>(p, 2) == 0x78 && load<u8>(p, 5) == 0x3e) {
    const hi = hexDigit(load<u8>(p, 3)), lo = hexDigit(load<u8>(p, 4));
    if (hi >= 0 && lo >= 0) {
      store<u8>(t.byteBuf, <u8>((hi << 4) | lo));
      p = t.byteBuf; len = 1;
    }
  }
  if (len == 1) {
    const b = load<u8>(p);
    const printable = b >= 0x20 && b < 0x7f;
    const space = b == 0x20 || (b >= 0x09 && b <= 0x0d);
    if (!printable && !space) return 0;
  }
  if (len > cap) return E.E_ARGUMENT;
  memory.copy(out, p, <usize>len);
  return len;
}

@inline function hexDigit(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  if (c >= 0x41 && c <= 0x46) return <i32>c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return <i32>c - 0x61 + 10;
  return -1;
}
