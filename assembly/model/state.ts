import { Config } from "./config";

@inline function pad64(n: i32): i32 { return (n + 63) & ~63; }

@inline function accRows(c: Config): i32 { return max(max(2 * c.hiddenDim, 3 * c.dim), c.vocabSize); }

const LUT_BYTES: usize = 2048;

// Forced prompt positions run as one block of up to this many (model/prefill.ts): each weight
// matrix is then applied once per block instead of once per position.
export const PREFILL_BLOCK: i32 = 4;

// Bytes of a sub-buffer of the shared arena below (16-byte steps keep SIMD loads aligned).
@inline function part(bytes: i32): i32 { return (bytes + 15) & ~15; }

// The single-position activations (x … cosSin, xq) and a prefill block's never live at the same
// time (a block leaves no logits; the next single position recomputes everything from its
// embedding), so both are carved from one arena of the larger size.
function singleBytes(c: Config): i32 {
  return 3 * part(c.dim << 2) + 2 * part(c.hiddenDim << 2) + part(c.dim << 2) + 2 * part(c.kvDim << 2) +
         part(c.vocabSize << 2) + part((c.dim / c.nHeads) << 2) + part(pad64(max(c.dim, c.hiddenDim)));
}

// w3's block output a position: the hidden layer, or q, k, v packed before the FFN.
@inline function hb2Floats(c: Config): i32 { return max(c.hiddenDim, c.dim + 2 * c.kvDim); }

function blockBytes(c: Config, block: i32): i32 {
  if (block <= 1) return 0;
  return 2 * part(block * c.dim << 2) + part(block * c.hiddenDim << 2) + part(block * hb2Floats(c) << 2) +
         part(block * (c.dim / c.nHeads) << 2) + part(block << 2) + part(block * pad64(max(c.dim, c.hiddenDim)));
}

// The block a state gets: without a memory cap (Node, a Pi) PREFILL_BLOCK; under one (the
// ESP32 profile) the largest block that fits in the arena the single position needs anyway,
// so prefill costs no memory there (2 with the home model's shape: 5,200 of its 5,408 bytes).
export function blockFor(c: Config, capped: bool): i32 {
  if (!capped) return PREFILL_BLOCK;
  let block = PREFILL_BLOCK;
  while (block > 1 && blockBytes(c, block) > singleBytes(c)) block >>= 1;
  return block;
}

@inline function f32Buffer(n: i32): usize { return heap.alloc(<usize>n << 2); }

// Activation buffers and KV cache for one sequence. ctx ≤ config.seqLen positions.
export class RunState {
  ctx: i32;
  kvInt8: bool;
  x: usize;        // f32 [dim]       residual stream
  xb: usize;       // f32 [dim]       normed input / attention output
  xb2: usize;      // f32 [dim]
  hb: usize;       // f32 [hidden]
  hb2: usize;      // f32 [hidden]
  q: usize;        // f32 [dim]
  k: usize;        // f32 [kvDim]     this position's key before caching
  v: usize;        // f32 [kvDim]
  att: usize;      // f32 [2][ctx]    scores of one head, or of a pair sharing a KV head
  logits: usize;   // f32 [vocab]
  cosSin: usize;   // f32 [headSize]  RoPE (cos, sin) pairs of this position
  xq: usize;       // i8  [pad64(max(dim, hidden))]  quantized activations
  input: usize = 0;      // f32 vector the next matrices read (x, xb or hb)
  inputScale: f32 = -1;  // its absmax scale once quantized into xq; -1: not yet
  lut: usize;      // i16 [4][256]    ternary lookup tables; 0 without in-memory ternary weights
  acc: usize;      // i32 [max(2·hidden, 3·dim, vocab)]  ternary row accumulators (shared tables: wq+wk+wv, w1+w3); same
  keyCache: usize;   // f32 [layers][ctx][kvDim], or i8 when kvInt8
  valueCache: usize; // same
  keyScale: usize;   // f32 [layers][ctx][nKvHeads] when kvInt8
  valueScale: usize; // same
  nativeKv: bool = false; // host kernels (kernels/native.ts) for int8-cache attention and the elementwise glue
  // Prefill block (model/prefill.ts), `block` positions; all 0 when block is 1. Row t of each
  // holds block position t.
  block: i32 = 1;
  bx: usize = 0;   // f32 [block][dim]     residual streams
  bxb: usize = 0;  // f32 [block][dim]     normed inputs / attention outputs / w2 outputs
  bhb: usize = 0;  // f32 [block][hidden]  w1 outputs, then swiglu
  bhb2: usize = 0; // f32 [block][max(hidden, dim + 2·kvDim)]  q [block][dim], k, v [block][kvDim]
                   //   packed at its start until the FFN, then w3 outputs (wo's outputs go to q)
  bcs: usize = 0;  // f32 [block][headSize]  RoPE tables of each position
  bsa: usize = 0;  // f32 [block]          each row's activation scale (quantized rows in bxq)
  bxq: usize = 0;  // i8  [block][bxqStride]
  bxqStride: i32 = 0; // pad64(max(dim, hidden))

  // ternaryScratch: some ternary matrix runs on the module's kernels (Weights.ternaryInMemory);
  // host-held weights (the device) leave the 4 KiB of tables and accumulators unallocated.
  // block: positions of a prefill block (blockFor), 1 for none.
  constructor(c: Config, ctx: i32, kvInt8: bool, ternaryScratch: bool, block: i32 = 1) {
    this.ctx = ctx;
    this.kvInt8 = kvInt8;
    const kvDim = c.kvDim;
    const arena = heap.alloc(<usize>max(singleBytes(c), blockBytes(c, block)));
    let at = arena;
    this.x = at; at += <usize>part(c.dim << 2);
    this.xb = at; at += <usize>part(c.dim << 2);
    this.xb2 = at; at += <usize>part(c.dim << 2);
    this.hb = at; at += <usize>part(c.hiddenDim << 2);
    this.hb2 = at; at += <usize>part(c.hiddenDim << 2);
    this.q = at; at += <usize>part(c.dim << 2);
    this.k = at; at += <usize>part(kvDim << 2);
    this.v = at; at += <usize>part(kvDim << 2);
    this.logits = at; at += <usize>part(c.vocabSize << 2);
    this.cosSin = at; at += <usize>part((c.dim / c.nHeads) << 2);
    this.xq = at;
    if (block > 1) {
      const hs = c.dim / c.nHeads;
      this.block = block;
      this.bxqStride = pad64(max(c.dim, c.hiddenDim));
      at = arena;
      this.bx = at; at += <usize>part(block * c.dim << 2);
      this.bxb = at; at += <usize>part(block * c.dim << 2);
      this.bhb = at; at += <usize>part(block * c.hiddenDim << 2);
      this.bhb2 = at; at += <usize>part(block * hb2Floats(c) << 2);
      this.bcs = at; at += <usize>part(block * hs << 2);
      this.bsa = at; at += <usize>part(block << 2);
      this.bxq = at;
    }
    this.att = f32Buffer(2 * ctx);
    this.lut = ternaryScratch ? heap.alloc(LUT_BYTES) : 0;
    this.acc = ternaryScratch ? heap.alloc(<usize>accRows(c) << 2) : 0;
    const cacheElems = <usize>c.nLayers * <usize>ctx * <usize>kvDim;
    const elemBytes: usize = kvInt8 ? 1 : 4;
    this.keyCache = heap.alloc(cacheElems * elemBytes);
    this.valueCache = heap.alloc(cacheElems * elemBytes);
    if (kvInt8) {
      const scales = <usize>c.nLayers * <usize>ctx * <usize>c.nKvHeads;
      this.keyScale = f32Buffer(<i32>scales); this.valueScale = f32Buffer(<i32>scales);
    } else {
      this.keyScale = 0; this.valueScale = 0;
    }
  }

  // Bytes the constructor will allocate, so a host can refuse before running out of memory.
  static bytesNeeded(c: Config, ctx: i32, kvInt8: bool, ternaryScratch: bool, block: i32 = 1): i64 {
    const kvDim = <i64>c.kvDim;
    let bytes = <i64>max(singleBytes(c), blockBytes(c, block)) + 2 * <i64>ctx * 4;
    if (ternaryScratch) bytes += <i64>LUT_BYTES + (<i64>accRows(c) << 2);
    const cacheElems = <i64>c.nLayers * <i64>ctx * kvDim;
    bytes += cacheElems * 2 * (kvInt8 ? 1 : 4);
    if (kvInt8) bytes += <i64>c.nLayers * <i64>ctx * <i64>c.nKvHeads * 8;
    return bytes + 16 * 24; // allocator alignment slack
  }
}
