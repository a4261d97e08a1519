import { Config } from "./config";

@inline function pad64(n: i32): i32 { return (n + 63) & ~63; }

@inline function accRows(c: Config): i32 { return max(max(2 * c.hiddenDim, 3 * c.dim), c.vocabSize); }

const LUT_BYTES: usize = 2048;

// Forced prompt positions run as one block of up to this many (model/prefill.ts): each weight
// matrix is then applied once per block instead of once per position. The block's scratch is
// taken at the first generation (model/runtime.ts ensureBlock), once adapters and a grammar are
// loaded, as the largest block that still fits the memory cap: 4 when memory allows, 2 on the
// ESP32 profile (models/default.ellm + home.ella host-held in 2 pages of 64 KiB, 124.6 KB in use
// before it: a block of 2 takes 3.4 KB), 1 (position by position) when not even that fits.
export const PREFILL_BLOCK: i32 = 4;

// f32s of w3's block output a position: the hidden layer, or q, k, v packed before the FFN.
@inline function hb2Floats(c: Config): i32 { return max(c.hiddenDim, c.dim + 2 * c.kvDim); }

// Whether w3's block output fits in the logits buffer (no position of a block reads logits).
@inline function hb2InLogits(c: Config, block: i32): bool { return block * hb2Floats(c) <= c.vocabSize; }

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
  nativeKv: bool = false; // int8-cache attention through host kernels (kernels/native.ts)
  // Prefill block (model/prefill.ts), `block` positions; all 0 when block is 1. Row t of each
  // holds block position t.
  block: i32 = 1;
  blockChosen: bool = false; // allocBlock ran (the block is chosen once)
  bx: usize = 0;   // f32 [block][dim]     residual streams
  bxb: usize = 0;  // f32 [block][dim]     normed inputs / attention outputs / w2 outputs
  bhb: usize = 0;  // f32 [block][hidden]  w1 outputs, then swiglu
  bhb2: usize = 0; // f32 [block][max(hidden, dim + 2·kvDim)]  q [block][dim], k, v [block][kvDim]
                   //   packed at its start until the FFN, then w3 outputs (wo's outputs go to q);
                   //   the logits buffer itself when it is large enough
  bcs: usize = 0;  // f32 [block][headSize]  RoPE tables of each position
  bsa: usize = 0;  // f32 [block]          each row's activation scale (quantized rows in bxq)
  bxq: usize = 0;  // i8  [block][bxqStride]
  bxqStride: i32 = 0; // pad64(max(dim, hidden))

  // ternaryScratch: some ternary matrix runs on the module's kernels (Weights.ternaryInMemory);
  // host-held weights (the device) leave the 4 KiB of tables and accumulators unallocated.
  constructor(c: Config, ctx: i32, kvInt8: bool, ternaryScratch: bool) {
    this.ctx = ctx;
    this.kvInt8 = kvInt8;
    const kvDim = c.kvDim;
    this.x = f32Buffer(c.dim); this.xb = f32Buffer(c.dim); this.xb2 = f32Buffer(c.dim);
    this.hb = f32Buffer(c.hiddenDim); this.hb2 = f32Buffer(c.hiddenDim);
    this.q = f32Buffer(c.dim); this.k = f32Buffer(kvDim); this.v = f32Buffer(kvDim);
    this.att = f32Buffer(2 * ctx);
    this.logits = f32Buffer(c.vocabSize);
    this.cosSin = f32Buffer(c.dim / c.nHeads);
    this.xq = heap.alloc(<usize>pad64(max(c.dim, c.hiddenDim)));
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

  // Bytes allocBlock(block) takes (0 for block 1: the single-position buffers serve).
  static blockBytes(c: Config, block: i32): i64 {
    if (block <= 1) return 0;
    const floats = 2 * c.dim + c.hiddenDim + (hb2InLogits(c, block) ? 0 : hb2Floats(c)) + c.dim / c.nHeads + 1;
    return <i64>block * (<i64>floats * 4 + <i64>pad64(max(c.dim, c.hiddenDim))) + 7 * 16; // + alignment slack
  }

  // Takes the scratch of a block of `block` > 1 positions (once).
  allocBlock(c: Config, block: i32): void {
    this.blockChosen = true;
    if (block > 1) {
      this.block = block;
      this.bx = f32Buffer(block * c.dim); this.bxb = f32Buffer(block * c.dim);
      this.bhb = f32Buffer(block * c.hiddenDim);
      this.bhb2 = hb2InLogits(c, block) ? this.logits : f32Buffer(block * hb2Floats(c));
      this.bcs = f32Buffer(block * (c.dim / c.nHeads)); this.bsa = f32Buffer(block);
      this.bxqStride = pad64(max(c.dim, c.hiddenDim));
      this.bxq = heap.alloc(<usize>(block * this.bxqStride));
    }
  }

  // Bytes the constructor will allocate, so a host can refuse before running out of memory.
  static bytesNeeded(c: Config, ctx: i32, kvInt8: bool, ternaryScratch: bool): i64 {
    const kvDim = <i64>c.kvDim;
    let f = <i64>(3 * c.dim + 2 * c.hiddenDim + c.dim + 2 * c.kvDim) + 2 * <i64>ctx + <i64>c.vocabSize + <i64>(c.dim / c.nHeads);
    let bytes = f * 4 + <i64>pad64(max(c.dim, c.hiddenDim));
    if (ternaryScratch) bytes += <i64>LUT_BYTES + (<i64>accRows(c) << 2);
    const cacheElems = <i64>c.nLayers * <i64>ctx * kvDim;
    bytes += cacheElems * 2 * (kvInt8 ? 1 : 4);
    if (kvInt8) bytes += <i64>c.nLayers * <i64>ctx * <i64>c.nKvHeads * 8;
    return bytes + 16 * 24; // allocator alignment slack
  }
}
