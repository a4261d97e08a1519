// f32 kernels. Every fast kernel keeps one fixed association order in both builds:
// four partial sums over i ≡ 0,1,2,3 (mod 4), combined as (s0 + s1) + (s2 + s3), then the
// tail in order. The SIMD build does exactly this with f32x4 lanes, so V8 SIMD, V8 MVP and
// wasm3 MVP give bit-identical results. No FMA anywhere.

// Reference: plain left-to-right dot product.
export function dotF32Ref(a: usize, b: usize, n: i32): f32 {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

// @inline keeps the SIMD/scalar switch free in hot loops; ASC_FEATURE_SIMD is a compile-time constant.
// a: [n] f32, b: [n] f32
@inline export function dotF32(a: usize, b: usize, n: i32): f32 {
  let i = 0;
  let s: f32;
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const off = <usize>i << 2;
      acc = f32x4.add(acc, f32x4.mul(v128.load(a + off), v128.load(b + off)));
    }
    s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) +
        (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  } else {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (; i + 4 <= n; i += 4) {
      const pa = a + (<usize>i << 2), pb = b + (<usize>i << 2);
      s0 += load<f32>(pa) * load<f32>(pb);
      s1 += load<f32>(pa, 4) * load<f32>(pb, 4);
      s2 += load<f32>(pa, 8) * load<f32>(pb, 8);
      s3 += load<f32>(pa, 12) * load<f32>(pb, 12);
    }
    s = (s0 + s1) + (s2 + s3);
  }
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

// y[rows] = W[rows, cols] · x[cols]
export function matvecF32Ref(y: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    store<f32>(y + (<usize>r << 2), dotF32Ref(w + (<usize>r * <usize>cols << 2), x, cols));
  }
}

// Interpreters (wasm3): four rows per pass load each x once; per row the four partial sums
// and their combination are exactly dotF32's, so results match the SIMD build bit for bit.
function matvecF32Rows4(y: usize, w: usize, x: usize, rows: i32, cols: i32): i32 {
  const stride = <usize>cols << 2;
  const cols4 = cols & ~3;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    let p0 = w + <usize>r * stride;
    let p1 = p0 + stride, p2 = p1 + stride, p3 = p2 + stride;
    let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0; // row 0, lanes 0..3
    let b0: f32 = 0, b1: f32 = 0, b2: f32 = 0, b3: f32 = 0; // row 1
    let c0: f32 = 0, c1: f32 = 0, c2: f32 = 0, c3: f32 = 0; // row 2
    let d0: f32 = 0, d1: f32 = 0, d2: f32 = 0, d3: f32 = 0; // row 3
    let xp = x;
    const xEnd = x + (<usize>cols4 << 2);
    while (xp < xEnd) {
      const x0 = load<f32>(xp), x1 = load<f32>(xp, 4), x2 = load<f32>(xp, 8), x3 = load<f32>(xp, 12);
      a0 += load<f32>(p0) * x0; a1 += load<f32>(p0, 4) * x1; a2 += load<f32>(p0, 8) * x2; a3 += load<f32>(p0, 12) * x3;
      b0 += load<f32>(p1) * x0; b1 += load<f32>(p1, 4) * x1; b2 += load<f32>(p1, 8) * x2; b3 += load<f32>(p1, 12) * x3;
      c0 += load<f32>(p2) * x0; c1 += load<f32>(p2, 4) * x1; c2 += load<f32>(p2, 8) * x2; c3 += load<f32>(p2, 12) * x3;
      d0 += load<f32>(p3) * x0; d1 += load<f32>(p3, 4) * x1; d2 += load<f32>(p3, 8) * x2; d3 += load<f32>(p3, 12) * x3;
      xp += 16; p0 += 16; p1 += 16; p2 += 16; p3 += 16;
    }
    let sa = (a0 + a1) + (a2 + a3), sb = (b0 + b1) + (b2 + b3), sc = (c0 + c1) + (c2 + c3), sd = (d0 + d1) + (d2 + d3);
    for (let i = cols4; i < cols; i++) {
      const xv = load<f32>(x + (<usize>i << 2));
      sa += load<f32>(p0) * xv; sb += load<f32>(p1) * xv; sc += load<f32>(p2) * xv; sd += load<f32>(p3) * xv;
      p0 += 4; p1 += 4; p2 += 4; p3 += 4;
    }
    const yr = y + (<usize>r << 2);
    store<f32>(yr, sa); store<f32>(yr, sb, 4); store<f32>(yr, sc, 8); store<f32>(yr, sd, 12);
  }
  return r;
}

export function matvecF32(y: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const stride = <usize>cols << 2;
  let r = 0;
  if (!ASC_FEATURE_SIMD) r = matvecF32Rows4(y, w, x, rows, cols);
  for (; r < rows; r++) {
    store<f32>(y + (<usize>r << 2), dotF32(w + <usize>r * stride, x, cols));
  }
}

// Y[T, rows] = X[T, cols] · W[rows, cols]ᵀ (a batch of matvecs; prompt prefill and training).
export function matmulF32Ref(y: usize, w: usize, x: usize, t: i32, rows: i32, cols: i32): void {
  for (let i = 0; i < t; i++) {
    matvecF32Ref(y + (<usize>(i * rows) << 2), w, x + (<usize>(i * cols) << 2), rows, cols);
  }
}

// SIMD: each weight row is loaded once for four inputs; every output keeps dotF32's order,
// so the result equals T separate matvecs bit for bit (prefill and training use either).
export function matmulF32(y: usize, w: usize, x: usize, t: i32, rows: i32, cols: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const xs = <usize>cols << 2, ys = <usize>rows << 2;
    const cols4 = cols & ~3;
    for (; i + 4 <= t; i += 4) {
      const x0 = x + <usize>i * xs, x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
      const y0 = y + <usize>i * ys;
      for (let r = 0; r < rows; r++) {
        const wr = w + <usize>r * xs;
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        for (let k = 0; k < cols4; k += 4) {
          const off = <usize>k << 2;
          const wv = v128.load(wr + off);
          a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(x0 + off)));
          a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(x1 + off)));
          a2 = f32x4.add(a2, f32x4.mul(wv, v128.load(x2 + off)));
          a3 = f32x4.add(a3, f32x4.mul(wv, v128.load(x3 + off)));
        }
        const yr = y0 + (<usize>r << 2);
        store<f32>(yr, finishDot(a0, wr, x0, cols4, cols));
        store<f32>(yr + ys, finishDot(a1, wr, x1, cols4, cols));
        store<f32>(yr + 2 * ys, finishDot(a2, wr, x2, cols4, cols));
        store<f32>(yr + 3 * ys, finishDot(a3, wr, x3, cols4, cols));
      }
    }
  }
  for (; i < t; i++) {
    matvecF32(y + (<usize>(i * rows) << 2), w, x + (<usize>(i * cols) << 2), rows, cols);
  }
}

// dotF32's ending: lanes combined as (l0 + l1) + (l2 + l3), then the tail in order.
@inline function finishDot(acc: v128, a: usize, b: usize, from: i32, n: i32): f32 {
  let s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (let i = from; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

// out[n] = weight[n] * (x[n] / rms(x)), as llama2.c: ss = Σx²/n + eps; scale = 1/sqrt(ss).
export function rmsnorm(out: usize, x: usize, weight: usize, n: i32, eps: f32): void {
  let ss: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    ss += v * v;
  }
  ss = ss / <f32>n + eps;
  const scale: f32 = <f32>1.0 / Mathf.sqrt(ss);
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, load<f32>(weight + off) * (scale * load<f32>(x + off)));
  }
}

// exp(x) in a fixed sequence of f32 operations (Cody-Waite range reduction, minimax
// polynomial; Cephes expf's constants), ~1 ulp on the clamped range. The SIMD version below
// applies the same operations lane-wise, so both builds give identical bits, and it is several
// times cheaper than Mathf.exp. x is clamped to [-87.3, 88] (finite, normal results).
// Clamps use "pseudo-min/max" (a < b ? a : b), one instruction in SIMD, same bits as a select;
// rounding to an integer adds and subtracts 1.5·2^23, whose bits then also hold n for 2^n.
const EXP_LO: f32 = -87.3;
const EXP_HI: f32 = 88.0;
const LOG2E: f32 = 1.44269504;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const ROUND_MAGIC: f32 = 12582912.0; // 1.5 · 2^23
const MAGIC_BITS: i32 = 0x4b400000;  // bits of ROUND_MAGIC
const P0: f32 = 1.9875691500e-4, P1: f32 = 1.3981999507e-3, P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2, P4: f32 = 1.6666665459e-1, P5: f32 = 5.0000001201e-1;

@inline export function expF32(v: f32): f32 {
  let x = v < EXP_HI ? v : EXP_HI;
  x = EXP_LO < x ? x : EXP_LO;
  const t = x * LOG2E + ROUND_MAGIC;
  const n = t - ROUND_MAGIC;
  const r = (x - n * LN2_HI) - n * LN2_LO;
  const p = (((((P0 * r + P1) * r + P2) * r + P3) * r + P4) * r + P5) * (r * r) + r + <f32>1.0;
  return p * reinterpret<f32>((reinterpret<i32>(t) - MAGIC_BITS + 127) << 23);
}

@inline function expF32x4(v: v128): v128 {
  const x = f32x4.pmax(f32x4.pmin(v, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND_MAGIC));
  const n = f32x4.sub(t, f32x4.splat(ROUND_MAGIC));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127 - MAGIC_BITS)), 23);
  return f32x4.mul(p, scale);
}

// Reference softmax: libm-quality exp, sequential sum.
export function softmaxRef(x: usize, n: i32): void {
  let max = load<f32>(x);
  for (let i = 1; i < n; i++) max = Mathf.max(max, load<f32>(x + (<usize>i << 2)));
  let sum: f32 = 0;
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    const e = Mathf.exp(load<f32>(x + off) - max);
    store<f32>(x + off, e);
    sum += e;
  }
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(x + off, load<f32>(x + off) / sum);
  }
}

// The maximum is exact in any order; pmax (a < b ? b : a) is one SIMD instruction.
@inline function pmax(a: f32, b: f32): f32 { return a < b ? b : a; }

// x[n] = exp(x[n] - max x) in place; returns Σ x in the four-partial order. Attention divides
// its weighted sum by this once per head instead of normalizing every weight.
export function expShifted(x: usize, n: i32): f32 {
  let max = load<f32>(x);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    let m = f32x4.splat(max);
    for (; i + 4 <= n; i += 4) m = f32x4.pmax(m, v128.load(x + (<usize>i << 2)));
    max = pmax(pmax(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), pmax(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  }
  for (; i < n; i++) max = pmax(max, load<f32>(x + (<usize>i << 2)));
  i = 0;
  let sum: f32;
  if (ASC_FEATURE_SIMD) {
    const vmax = f32x4.splat(max);
    let acc = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const p = x + (<usize>i << 2);
      const e = expF32x4(f32x4.sub(v128.load(p), vmax));
      v128.store(p, e);
      acc = f32x4.add(acc, e);
    }
    sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  } else {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (; i + 4 <= n; i += 4) {
      const p = x + (<usize>i << 2);
      const e0 = expF32(load<f32>(p) - max), e1 = expF32(load<f32>(p, 4) - max);
      const e2 = expF32(load<f32>(p, 8) - max), e3 = expF32(load<f32>(p, 12) - max);
      store<f32>(p, e0); store<f32>(p, e1, 4); store<f32>(p, e2, 8); store<f32>(p, e3, 12);
      s0 += e0; s1 += e1; s2 += e2; s3 += e3;
    }
    sum = (s0 + s1) + (s2 + s3);
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    const e = expF32(load<f32>(p) - max);
    store<f32>(p, e);
    sum += e;
  }
  return sum;
}

// x[n] /= d, elementwise (so the SIMD division is bit-identical to the scalar one).
export function divideF32(x: usize, n: i32, d: f32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const vd = f32x4.splat(d);
    for (; j + 4 <= n; j += 4) {
      const p = x + (<usize>j << 2);
      v128.store(p, f32x4.div(v128.load(p), vd));
    }
  }
  for (; j < n; j++) {
    const p = x + (<usize>j << 2);
    store<f32>(p, load<f32>(p) / d);
  }
}

// In-place softmax over x[n]: expShifted, then divide by the sum (as llama2.c does).
export function softmax(x: usize, n: i32): void {
  divideF32(x, n, expShifted(x, n));
}

// SwiGLU in place: h[n] = silu(h[n]) * g[n], silu(v) = v · σ(v).
export function swiglu(h: usize, g: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    // Lane-wise the same operations as the scalar loop: identical bits.
    const one = f32x4.splat(1.0);
    for (; i + 4 <= n; i += 4) {
      const off = <usize>i << 2;
      const v = v128.load(h + off);
      const sig = f32x4.div(one, f32x4.add(one, expF32x4(f32x4.neg(v))));
      v128.store(h + off, f32x4.mul(f32x4.mul(v, sig), v128.load(g + off)));
    }
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const v = load<f32>(h + off);
    store<f32>(h + off, v * (<f32>1.0 / (<f32>1.0 + expF32(-v))) * load<f32>(g + off));
  }
}

// cosSin[headSize] interleaved (cos, sin) per pair for position pos.
export function ropeTable(cosSin: usize, pos: i32, headSize: i32, theta: f32): void {
  for (let i = 0; i < headSize; i += 2) {
    const freq: f32 = <f32>1.0 / Mathf.pow(theta, <f32>i / <f32>headSize);
    const val = <f32>pos * freq;
    store<f32>(cosSin + (<usize>i << 2), Mathf.cos(val));
    store<f32>(cosSin + (<usize>i << 2) + 4, Mathf.sin(val));
  }
}

// Rotates consecutive pairs of v[n] (n a multiple of headSize) by the angles in cosSin.
export function rope(v: usize, n: i32, cosSin: usize, headSize: i32): void {
  for (let i = 0; i < n; i += 2) {
    const t = <usize>(i % headSize) << 2;
    const fcr = load<f32>(cosSin + t), fci = load<f32>(cosSin + t + 4);
    const p = v + (<usize>i << 2);
    const v0 = load<f32>(p), v1 = load<f32>(p, 4);
    store<f32>(p, v0 * fcr - v1 * fci);
    store<f32>(p, v0 * fci + v1 * fcr, 4);
  }
}

// y[n] += a * x[n] (fixed order, elementwise: identical in both builds).
@inline export function axpyF32(y: usize, a: f32, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(a);
    for (; i + 4 <= n; i += 4) {
      const off = <usize>i << 2;
      v128.store(y + off, f32x4.add(v128.load(y + off), f32x4.mul(va, v128.load(x + off))));
    }
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, load<f32>(y + off) + a * load<f32>(x + off));
  }
}

export function addF32(y: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(y + off, load<f32>(y + off) + load<f32>(x + off));
  }
}
