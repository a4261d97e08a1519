// The tokenizer's vocabulary: llama2.c's tokenizer.bin used in place (u32 max_token_length, then
// per token f32 score, i32 length, bytes), with a hash of its pieces for merging. Encoding and
// decoding are text/tokenizer.ts; the heap merge is text/bpe-heap.ts.
import * as E from "../core/errors";
import { fitsFrom } from "../core/memory-cap";

export const MAX_PIECE: i32 = 1024;

export class Tokenizer {
  vocabSize: i32;
  maxTokenLength: i32 = 0;
  piece: usize;    // u32 [vocab] byte offset of each piece
  pieceLen: usize; // i32 [vocab]
  score: usize;    // f32 [vocab]
  table: usize;    // i32 [tableSize] open-addressing hash of pieces → id + 1 (0 empty)
  tableMask: u32;
  byteBuf: usize;  // u8 [1] for <0xXX> pieces

  constructor(vocabSize: i32) {
    this.vocabSize = vocabSize;
    this.piece = heap.alloc(<usize>vocabSize << 2);
    this.pieceLen = heap.alloc(<usize>vocabSize << 2);
    this.score = heap.alloc(<usize>vocabSize << 2);
    let size: u32 = 16;
    while (size < <u32>vocabSize * 2) size <<= 1;
    this.tableMask = size - 1;
    this.table = heap.alloc(<usize>size << 2);
    memory.fill(this.table, 0, <usize>size << 2);
    this.byteBuf = heap.alloc(16);
  }

  @inline pieceAt(id: i32): usize { return <usize>load<u32>(this.piece + (<usize>id << 2)); }
  @inline lenAt(id: i32): i32 { return load<i32>(this.pieceLen + (<usize>id << 2)); }
  @inline scoreAt(id: i32): f32 { return load<f32>(this.score + (<usize>id << 2)); }

  // Id of the concatenation a[la] ++ b[lb], or -1.
  lookup(a: usize, la: i32, b: usize, lb: i32): i32 {
    let h = hashBytes(hashBytes(2166136261, a, la), b, lb);
    for (;;) {
      const slot = this.table + (<usize>(h & this.tableMask) << 2);
      const v = load<i32>(slot);
      if (v == 0) return -1;
      const id = v - 1;
      if (this.lenAt(id) == la + lb) {
        const p = this.pieceAt(id);
        if (memory.compare(p, a, <usize>la) == 0 && memory.compare(p + <usize>la, b, <usize>lb) == 0) return id;
      }
      h++;
    }
    return -1; // unreachable: the table is never full
  }

  insert(id: i32): void {
    let h = hashBytes(2166136261, this.pieceAt(id), this.lenAt(id));
    for (;;) {
      const slot = this.table + (<usize>(h & this.tableMask) << 2);
      const v = load<i32>(slot);
      if (v == 0) { store<i32>(slot, id + 1); return; }
      // Duplicate pieces keep the first id, as a sorted-vocab binary search would find one of them.
      if (this.lenAt(v - 1) == this.lenAt(id) && memory.compare(this.pieceAt(v - 1), this.pieceAt(id), <usize>this.lenAt(id)) == 0) return;
      h++;
    }
  }
}

@inline function hashBytes(h: u32, p: usize, n: i32): u32 {
  for (let i = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 16777619;
  return h;
}

export class TokenizerResult {
  error: i32 = E.OK;
  tokenizer: Tokenizer | null = null;
}

// Parses the blob at p[n] for vocabSize tokens; pieces stay in place, so p must outlive it.
export function parseTokenizer(p: usize, n: usize, vocabSize: i32): TokenizerResult {
  const res = new TokenizerResult();
  if (n < 4) { res.error = E.E_TOKENIZER; return res; }
  const t = new Tokenizer(vocabSize);
  t.maxTokenLength = load<i32>(p);
  if (t.maxTokenLength <= 0 || t.maxTokenLength > MAX_PIECE) { res.error = E.E_TOKENIZER; return res; }
  let off: usize = 4;
  for (let i = 0; i < vocabSize; i++) {
    if (off + 8 > n) { res.error = E.E_TOKENIZER; return res; }
    const score = load<f32>(p + off);
    const len = load<i32>(p + off, 4);
    off += 8;
    if (len < 0 || len > t.maxTokenLength || off + <usize>len > n) { res.error = E.E_TOKENIZER; return res; }
    store<u32>(t.piece + (<usize>i << 2), <u32>(p + off));
    store<i32>(t.pieceLen + (<usize>i << 2), len);
    store<f32>(t.score + (<usize>i << 2), score);
    off += <usize>len;
  }
  for (let i = 0; i < vocabSize; i++) t.insert(i);
  res.tokenizer = t;
  return res;
}
