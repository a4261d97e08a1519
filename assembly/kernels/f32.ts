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

export function matvecF32(y: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const stride = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    store<f32>(y + (<usize>r << 2), dotF32(w + <usize>r * stride, x, cols));
  }
}

// Y[T, rows] = X[T, cols] · W[rows, cols]ᵀ (a batch of matvecs; prompt prefill and training).
export function matmulF32Ref(y: usize, w: usize, x: usize, t: i32, rows: i32, cols: i32): void {
  for (let i = 0; i < t; i++) {
    matvecF32Ref(y + (<usize>(i * rows) << 2), w, x + (<usize>(i * cols) << 2), rows, cols);
  }
}

export function matmulF32(y: usize, w: usize, x: usize, t: i32, rows: i32, cols: i32): void {
  for (let i = 0; i < t; i++) {
    matvecF32(y + (<usize>(i * rows) << 2), w, x + (<usize>(i * cols) << 2), rows, cols);
  }
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

// In-place softmax over x[n], max-subtracted for stability.
export function softmax(x: usize, n: i32): void {
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

// SwiGLU in place: h[n] = silu(h[n]) * g[n], silu(v) = v · σ(v).
export function swiglu(h: usize, g: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    const v = load<f32>(h + off);
    store<f32>(h + off, v * (<f32>1.0 / (<f32>1.0 + Mathf.exp(-v))) * load<f32>(g + off));
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
