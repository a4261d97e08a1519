// Batched prefill: the forward pass over a block of n forced prompt positions pos..pos + n - 1
// at once (n ≤ the run state's block, model/state.ts PREFILL_BLOCK), so each weight matrix is
// applied to the block's n inputs in one call (Matrix.applyBlock: one kernel call, or one host
// call under --host-weights) instead of once per position.
//
//   embed + RoPE tables for every position
//   per layer: norms ─► wq, wk, wv on the block ─► RoPE, KV cache rows pos..pos+n-1 written
//              ─► each position attends causally (to 0..its own pos, all cached by then)
//              ─► wo on the block ─► norms ─► w1, w3 on the block ─► SwiGLU ─► w2 on the block
//   no final norm, no classifier: nothing reads the logits of a position whose next token is
//   forced (the generation runs the prompt's last position alone, through forward()).
//
// Every per-position operation is forward()'s own, in the same order, and every block kernel
// equals its per-input kernel bit for bit, so the KV cache after a block is identical to the
// one n single positions leave, and so are all later logits (test/host/prefill.test.ts).
// Dimension key as forward.ts: D = dim, H = hidden, KV = kvDim, HS = head size, n positions.
import { Config } from "./config";
import { applyLoraBlock } from "./lora";
import { Matrix } from "./matrix";
import { QT_T5 } from "./qtypes";
import { RunState } from "./state";
import { Weights } from "./weights";
import { attendCached, quantizeIn, swigluIn, writeKv } from "./forward";
import { addF32, rmsnorm, rope, ropeTable } from "../kernels/f32";
import { matvecTernaryLutShared } from "../kernels/ternary-lut";
import { wMatmul } from "../kernels/native";

@inline function pad64(n: i32): i32 { return (n + 63) & ~63; }
@inline function rowAt(p: usize, t: i32, width: i32): usize { return p + (<usize>(t * width) << 2); }

// The block input the next matrices read: f32 [n][width] at x; quantized (s.bxq, s.bsa) lazily
// once for all the matrices that read it, as forward.ts's setInput.
let inX: usize = 0;
let inWidth: i32 = 0;
let inQuantized = false;

@inline function setInput(x: usize, width: i32): void {
  inX = x; inWidth = width; inQuantized = false;
}

function quantizeInput(s: RunState, n: i32): void {
  if (inQuantized) return;
  const stride = s.bxqStride;
  for (let t = 0; t < n; t++) {
    store<f32>(s.bsa + (<usize>t << 2), quantizeIn(s, s.bxq + <usize>(t * stride), rowAt(inX, t, inWidth), inWidth, pad64(inWidth)));
  }
  inQuantized = true;
}

function applyBlock(s: RunState, n: i32, m: Matrix, y: usize): void {
  if (m.quantized) quantizeInput(s, n);
  m.applyBlock(y, inX, s.bxq, s.bxqStride, s.bsa, n, s.lut, s.acc);
  if (m.lora != null) applyLoraBlock(m, y, inX, n);
}

// Host-held matrices of one type (and group) reading one input: one host call for all of them.
@inline function oneHostCall(a: Matrix, b: Matrix, c: Matrix | null): bool {
  return a.external && b.external && a.qtype == b.qtype && a.group == b.group &&
         (c == null || (c.external && c.qtype == a.qtype && c.group == a.group));
}

// Matrices reading the same input (wq, wk, wv; w1, w3), as forward.ts's applyMatrices: under
// the interpreter build in-memory ternary ones share each input's lookup tables; host-held
// ones go to the host in one call (whose kernels share tables the same way).
function applyMatrices(s: RunState, n: i32, a: Matrix, ya: usize, b: Matrix, yb: usize, c: Matrix | null, yc: usize): void {
  const shareLut = !ASC_FEATURE_SIMD && a.ternaryInMemory && b.ternaryInMemory && b.qtype == a.qtype &&
                   (c == null || (c.ternaryInMemory && c.qtype == a.qtype));
  if (shareLut || oneHostCall(a, b, c)) {
    quantizeInput(s, n);
    const stride = s.bxqStride;
    const cm = c != null ? c : b; // placeholder when absent: rows 0 below
    const rowsC = c != null ? cm.rows : 0;
    if (shareLut) {
      for (let t = 0; t < n; t++) {
        matvecTernaryLutShared(a.qtype == QT_T5, rowAt(ya, t, a.rows), a.data, a.scales, a.rows, rowAt(yb, t, b.rows), b.data, b.scales, b.rows,
                               rowAt(yc, t, cm.rows), cm.data, cm.scales, rowsC, s.bxq + <usize>(t * stride),
                               load<f32>(s.bsa + (<usize>t << 2)), inWidth, s.lut, s.acc);
      }
    } else {
      wMatmul(a.qtype, a.group, inWidth, n, inX, s.bxq, stride, s.bsa, <u32>a.data, a.rows, ya, <u32>b.data, b.rows, yb,
              <u32>cm.data, rowsC, yc);
    }
    if (a.lora != null) applyLoraBlock(a, ya, inX, n);
    if (b.lora != null) applyLoraBlock(b, yb, inX, n);
    if (c != null && c.lora != null) applyLoraBlock(c, yc, inX, n);
    return;
  }
  applyBlock(s, n, a, ya);
  applyBlock(s, n, b, yb);
  if (c != null) applyBlock(s, n, c, yc);
}

// Runs positions pos..pos + n - 1 with tokens i32 [n]; writes their KV cache rows. Leaves
// s.logits as they were.
export function forwardBlock(c: Config, w: Weights, s: RunState, tokens: usize, n: i32, pos: i32): void {
  const dim = c.dim, hidden = c.hiddenDim, kvDim = c.kvDim, hs = c.headSize;
  // q [n][D], k [n][KV], v [n][KV] packed at the start of bhb2 (free until w3 writes it);
  // wo's output [n][D] goes to q, free once every position has attended.
  const bq = s.bhb2, bk = rowAt(bq, n, dim), bv = rowAt(bk, n, kvDim);
  for (let t = 0; t < n; t++) {
    w.embedding.row(rowAt(s.bx, t, dim), load<i32>(tokens + (<usize>t << 2)));
    ropeTable(rowAt(s.bcs, t, hs), pos + t, hs, c.ropeTheta);
  }
  for (let l = 0; l < c.nLayers; l++) {
    const lw = w.layers[l];
    for (let t = 0; t < n; t++) rmsnorm(rowAt(s.bxb, t, dim), rowAt(s.bx, t, dim), lw.rmsAtt, dim, c.normEps);
    setInput(s.bxb, dim);
    applyMatrices(s, n, lw.wq, bq, lw.wk, bk, lw.wv, bv);
    for (let t = 0; t < n; t++) {
      const cs = rowAt(s.bcs, t, hs), kt = rowAt(bk, t, kvDim);
      rope(rowAt(bq, t, dim), dim, cs, hs);
      rope(kt, kvDim, cs, hs);
      writeKv(c, s, l, pos + t, kt, rowAt(bv, t, kvDim));
    }
    for (let t = 0; t < n; t++) attendCached(c, s, l, pos + t, rowAt(bq, t, dim), rowAt(s.bxb, t, dim));
    setInput(s.bxb, dim);
    applyBlock(s, n, lw.wo, bq);
    for (let t = 0; t < n; t++) addF32(rowAt(s.bx, t, dim), rowAt(bq, t, dim), dim);
    for (let t = 0; t < n; t++) rmsnorm(rowAt(s.bxb, t, dim), rowAt(s.bx, t, dim), lw.rmsFfn, dim, c.normEps);
    setInput(s.bxb, dim);
    applyMatrices(s, n, lw.w1, s.bhb, lw.w3, s.bhb2, null, 0);
    for (let t = 0; t < n; t++) swigluIn(s, rowAt(s.bhb, t, hidden), rowAt(s.bhb2, t, hidden), hidden);
    setInput(s.bhb, hidden);
    applyBlock(s, n, lw.w2, s.bxb);
    for (let t = 0; t < n; t++) addF32(rowAt(s.bx, t, dim), rowAt(s.bxb, t, dim), dim);
  }
}
