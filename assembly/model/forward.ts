// The Llama forward pass as llama2.c runs it, one position per call (a block of forced prompt
// positions: model/prefill.ts, which shares the attention below).
// Dimension key: D = dim, H = hidden_dim, KV = kvDim, HS = head size, V = vocab, L = layers.
import { Config } from "./config";
import { applyLora } from "./lora";
import { Matrix } from "./matrix";
import { QT_T5 } from "./qtypes";
import { RunState } from "./state";
import { Weights } from "./weights";
import { addF32, divideF32, expShifted, rmsnorm, rope, ropeTable, softmax, swiglu } from "../kernels/f32";
import { attentionMix, attentionMixPair, attentionScores, attentionScoresPair } from "../kernels/attention";
import { quantizeActs } from "../kernels/q8";
import { matvecTernaryLutShared } from "../kernels/ternary-lut";
import { kvHead, nQuantizeActs, nSwiglu } from "../kernels/native";

@inline function pad64(n: i32): i32 { return (n + 63) & ~63; }

// quantizeActs and swiglu, by the host's native kernels when it enabled them (s.nativeKv: the
// firmware, bit-identical) or the module's own.
@inline export function quantizeIn(s: RunState, q: usize, x: usize, n: i32, qPad: i32): f32 {
  return s.nativeKv ? nQuantizeActs(q, x, n, qPad) : quantizeActs(q, x, n, qPad);
}

@inline export function swigluIn(s: RunState, h: usize, g: usize, n: i32): void {
  if (s.nativeKv) nSwiglu(h, g, n);
  else swiglu(h, g, n);
}

// The matrices that read one input share its int8 quantization, done lazily (the run state's
// inputScale < 0: not yet).
@inline function setInput(s: RunState, x: usize): void {
  s.input = x;
  s.inputScale = -1;
}

function applyMatrix(s: RunState, m: Matrix, y: usize, n: i32): void {
  if (m.quantized && s.inputScale < 0) s.inputScale = quantizeIn(s, s.xq, s.input, n, pad64(n));
  m.apply(y, s.input, s.xq, s.inputScale, s.lut, s.acc);
  if (m.lora != null) applyLora(m, y, s.input);
}

// b (and c) can share a's lookup tables: in linear memory and of a's ternary layout.
@inline function sharesLutWith(m: Matrix, a: Matrix): bool { return m.ternaryInMemory && m.qtype == a.qtype; }

// Matrices reading the same input: under the interpreter build, ternary ones share each
// lookup table (one build for wq, wk and wv); otherwise they are applied one by one.
function applyMatrices(s: RunState, n: i32, a: Matrix, ya: usize, b: Matrix, yb: usize, c: Matrix | null, yc: usize): void {
  if (!ASC_FEATURE_SIMD && a.ternaryInMemory && sharesLutWith(b, a) && (c == null || sharesLutWith(c, a))) {
    if (s.inputScale < 0) s.inputScale = quantizeIn(s, s.xq, s.input, n, pad64(n));
    const cm = c != null ? c : b; // placeholder when absent: rows 0 below
    const rowsC = c != null ? cm.rows : 0;
    matvecTernaryLutShared(a.qtype == QT_T5, ya, a.data, a.scales, a.rows, yb, b.data, b.scales, b.rows,
                           yc, cm.data, cm.scales, rowsC, s.xq, s.inputScale, n, s.lut, s.acc);
    if (a.lora != null) applyLora(a, ya, s.input);
    if (b.lora != null) applyLora(b, yb, s.input);
    if (c != null && c.lora != null) applyLora(c, yc, s.input);
    return;
  }
  applyMatrix(s, a, ya, n);
  applyMatrix(s, b, yb, n);
  if (c != null) applyMatrix(s, c, yc, n);
}

// dot of f32 q[n] with an int8 cached vector, in the fixed 4-partial order.
@inline function dotF32I8(a: usize, b: usize, n: i32): f32 {
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const pa = a + (<usize>i << 2), pb = b + <usize>i;
    s0 += load<f32>(pa) * <f32>load<i8>(pb);
    s1 += load<f32>(pa, 4) * <f32>load<i8>(pb, 1);
    s2 += load<f32>(pa, 8) * <f32>load<i8>(pb, 2);
    s3 += load<f32>(pa, 12) * <f32>load<i8>(pb, 3);
  }
  let s = (s0 + s1) + (s2 + s3);
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * <f32>load<i8>(b + <usize>i);
  return s;
}

// Stores src[n] as int8 at dst (the activation quantizer: absmax, round to nearest) and its
// scale at scalePtr.
@inline function storeQ8(s: RunState, dst: usize, scalePtr: usize, src: usize, n: i32): void {
  store<f32>(scalePtr, quantizeIn(s, dst, src, n, n));
}

// Caches position pos's k and v (f32 [kvDim] each): f32 rows, or int8 rows with one scale per KV head.
export function writeKv(c: Config, s: RunState, l: i32, pos: i32, k: usize, v: usize): void {
  const hs = c.headSize, kvDim = c.kvDim;
  const row = <usize>l * <usize>s.ctx + <usize>pos;
  if (!s.kvInt8) {
    memory.copy(s.keyCache + row * <usize>kvDim * 4, k, <usize>kvDim << 2);
    memory.copy(s.valueCache + row * <usize>kvDim * 4, v, <usize>kvDim << 2);
    return;
  }
  for (let h = 0; h < c.nKvHeads; h++) {
    const scaleAt = (row * <usize>c.nKvHeads + <usize>h) << 2;
    storeQ8(s, s.keyCache + row * <usize>kvDim + <usize>(h * hs), s.keyScale + scaleAt, k + (<usize>(h * hs) << 2), hs);
    storeQ8(s, s.valueCache + row * <usize>kvDim + <usize>(h * hs), s.valueScale + scaleAt, v + (<usize>(h * hs) << 2), hs);
  }
}

// Heads h and h + 1, which share a KV head, over an f32 cache: keys and values read once for both
// (SIMD build). Σ_t softmax(score)_t · v_t is computed as (Σ_t e_t · v_t) / Σ_t e_t.
function headPairF32(c: Config, s: RunState, l: i32, pos: i32, h: i32, sqrtHs: f32, q: usize, xo: usize): void {
  const hs = c.headSize, kvDim = c.kvDim, kvMul = c.nHeads / c.nKvHeads;
  const stride = <usize>kvDim << 2;
  const attB = s.att + (<usize>s.ctx << 2);
  const qa = q + (<usize>(h * hs) << 2), qb = qa + (<usize>hs << 2);
  const oa = xo + (<usize>(h * hs) << 2), ob = oa + (<usize>hs << 2);
  const base = (<usize>l * <usize>s.ctx * <usize>kvDim + <usize>((h / kvMul) * hs)) << 2;
  attentionScoresPair(s.att, attB, qa, qb, s.keyCache + base, stride, pos + 1, hs, sqrtHs);
  const sumA = expShifted(s.att, pos + 1), sumB = expShifted(attB, pos + 1);
  attentionMixPair(oa, ob, s.att, attB, s.valueCache + base, stride, pos + 1, hs);
  divideF32(oa, hs, sumA);
  divideF32(ob, hs, sumB);
}

// Head h over an f32 cache.
function headF32(c: Config, s: RunState, l: i32, pos: i32, h: i32, sqrtHs: f32, q: usize, xo: usize): void {
  const hs = c.headSize, kvDim = c.kvDim, kvh = h / (c.nHeads / c.nKvHeads);
  const stride = <usize>kvDim << 2;
  const base = (<usize>l * <usize>s.ctx * <usize>kvDim + <usize>(kvh * hs)) << 2;
  const out = xo + (<usize>(h * hs) << 2);
  attentionScores(s.att, q + (<usize>(h * hs) << 2), s.keyCache + base, stride, pos + 1, hs, sqrtHs);
  const sum = expShifted(s.att, pos + 1);
  attentionMix(out, s.att, s.valueCache + base, stride, pos + 1, hs);
  divideF32(out, hs, sum);
}

// Head h over an int8 cache, by the host's native kernels (firmware): the same operations as headInt8.
function headInt8Native(c: Config, s: RunState, l: i32, pos: i32, h: i32, sqrtHs: f32, q: usize, xo: usize): void {
  const hs = c.headSize, kvDim = c.kvDim, kvh = h / (c.nHeads / c.nKvHeads);
  const layerBase = <usize>l * <usize>s.ctx;
  const kAt = layerBase * <usize>kvDim + <usize>(kvh * hs);
  const sAt = (layerBase * <usize>c.nKvHeads + <usize>kvh) << 2;
  const out = xo + (<usize>(h * hs) << 2);
  kvHead(out, s.att, q + (<usize>(h * hs) << 2), s.keyCache + kAt, s.keyScale + sAt, s.valueCache + kAt, s.valueScale + sAt,
         pos + 1, hs, kvDim, c.nKvHeads, sqrtHs);
}

// Head h over an int8 cache.
function headInt8(c: Config, s: RunState, l: i32, pos: i32, h: i32, sqrtHs: f32, q: usize, xo: usize): void {
  const hs = c.headSize, kvDim = c.kvDim, kvh = h / (c.nHeads / c.nKvHeads);
  const layerBase = <usize>l * <usize>s.ctx;
  const qh = q + (<usize>(h * hs) << 2);
  const out = xo + (<usize>(h * hs) << 2);
  for (let t = 0; t <= pos; t++) {
    const at = (layerBase + <usize>t) * <usize>kvDim + <usize>(kvh * hs);
    const sc = load<f32>(s.keyScale + (((layerBase + <usize>t) * <usize>c.nKvHeads + <usize>kvh) << 2));
    store<f32>(s.att + (<usize>t << 2), dotF32I8(qh, s.keyCache + at, hs) * sc / sqrtHs);
  }
  softmax(s.att, pos + 1);
  memory.fill(out, 0, <usize>hs << 2);
  for (let t = 0; t <= pos; t++) {
    const at = (layerBase + <usize>t) * <usize>kvDim + <usize>(kvh * hs);
    const sc = load<f32>(s.valueScale + (((layerBase + <usize>t) * <usize>c.nKvHeads + <usize>kvh) << 2));
    const vp = s.valueCache + at;
    const as = load<f32>(s.att + (<usize>t << 2)) * sc;
    for (let i = 0; i < hs; i++) {
      const o = out + (<usize>i << 2);
      store<f32>(o, load<f32>(o) + as * <f32>load<i8>(vp + <usize>i));
    }
  }
}

// One layer's attention at pos over the cache (pos's own k, v already written): q f32 [dim]
// in, xo f32 [dim] out, each head through its cache's kernel.
export function attendCached(c: Config, s: RunState, l: i32, pos: i32, q: usize, xo: usize): void {
  const sqrtHs: f32 = Mathf.sqrt(<f32>c.headSize);
  if (ASC_FEATURE_SIMD && !s.kvInt8 && ((c.nHeads / c.nKvHeads) & 1) == 0) {
    for (let h = 0; h < c.nHeads; h += 2) headPairF32(c, s, l, pos, h, sqrtHs, q, xo);
    return;
  }
  for (let h = 0; h < c.nHeads; h++) {
    if (!s.kvInt8) headF32(c, s, l, pos, h, sqrtHs, q, xo);
    else if (s.nativeKv) headInt8Native(c, s, l, pos, h, sqrtHs, q, xo);
    else headInt8(c, s, l, pos, h, sqrtHs, q, xo);
  }
}

// Runs position pos with token; leaves logits in s.logits.
export function forward(c: Config, w: Weights, s: RunState, token: i32, pos: i32): void {
  const dim = c.dim, hidden = c.hiddenDim;
  w.embedding.row(s.x, token);
  ropeTable(s.cosSin, pos, c.headSize, c.ropeTheta);
  for (let l = 0; l < c.nLayers; l++) {
    const lw = w.layers[l];
    rmsnorm(s.xb, s.x, lw.rmsAtt, dim, c.normEps);
    setInput(s, s.xb);
    applyMatrices(s, dim, lw.wq, s.q, lw.wk, s.k, lw.wv, s.v);
    rope(s.q, dim, s.cosSin, c.headSize);
    rope(s.k, c.kvDim, s.cosSin, c.headSize);
    writeKv(c, s, l, pos, s.k, s.v);
    attendCached(c, s, l, pos, s.q, s.xb);
    setInput(s, s.xb);
    applyMatrix(s, lw.wo, s.xb2, dim);
    addF32(s.x, s.xb2, dim);
    rmsnorm(s.xb, s.x, lw.rmsFfn, dim, c.normEps);
    setInput(s, s.xb);
    applyMatrices(s, dim, lw.w1, s.hb, lw.w3, s.hb2, null, 0);
    swigluIn(s, s.hb, s.hb2, hidden);
    setInput(s, s.hb);
    applyMatrix(s, lw.w2, s.xb, hidden);
    addF32(s.x, s.xb, dim);
  }
  rmsnorm(s.x, s.x, w.rmsFinal, dim, c.normEps);
  setInput(s, s.x);
  applyMatrix(s, w.classifier, s.logits, dim);
}
