// Training layers as forward/backward pairs with matching parameter order (llm.c style).
// Every backward ACCUMULATES (+=) into its input gradients and parameter gradients.
// Dimension key: N = tokens in the batch (B sequences × T positions), C = dim, KV = kv dim,
// H = hidden, V = vocab, NH = heads, HS = head size, IN/OUT = a matrix's cols/rows.
// Forward arithmetic mirrors assembly/model/forward.ts step for step (same kernels, same
// association order) so a model trained here runs the same through the inference module.
import { axpyF32, divideF32, dotF32, expF32, expShifted, swiglu } from "../kernels/f32";
import { attentionMix, attentionScores } from "../kernels/attention";

@inline function f(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function sf(p: usize, i: i32, v: f32): void { store<f32>(p + (<usize>i << 2), v); }
@inline function addAt(p: usize, i: i32, v: f32): void { const a = p + (<usize>i << 2); store<f32>(a, load<f32>(a) + v); }

// out[N][C] = dequantized row tokens[n] of the embedding: wInt[V][C] · ws[V] (row scales).
export function encoderForward(out: usize, tokens: usize, wInt: usize, ws: usize, n: i32, c: i32): void {
  for (let t = 0; t < n; t++) {
    const tok = load<i32>(tokens + (<usize>t << 2));
    const s = f(ws, tok);
    const row = wInt + (<usize>(tok * c) << 2), o = out + (<usize>(t * c) << 2);
    for (let i = 0; i < c; i++) sf(o, i, f(row, i) * s);
  }
}

// Straight-through: the gradient of the dequantized row goes to the latent weights.
export function encoderBackward(dw: usize, dout: usize, tokens: usize, n: i32, c: i32): void {
  for (let t = 0; t < n; t++) {
    const tok = load<i32>(tokens + (<usize>t << 2));
    axpyF32(dw + (<usize>(tok * c) << 2), 1, dout + (<usize>(t * c) << 2), c);
  }
}

// out[N][C] = w[C] * (x / rms(x)); rstd[N] kept for the backward. Same arithmetic as kernels rmsnorm.
export function rmsnormForward(out: usize, rstd: usize, x: usize, w: usize, n: i32, c: i32, eps: f32): void {
  for (let t = 0; t < n; t++) {
    const xt = x + (<usize>(t * c) << 2), ot = out + (<usize>(t * c) << 2);
    let ss: f32 = 0;
    for (let i = 0; i < c; i++) { const v = f(xt, i); ss += v * v; }
    ss = ss / <f32>c + eps;
    const r: f32 = <f32>1.0 / Mathf.sqrt(ss);
    sf(rstd, t, r);
    for (let i = 0; i < c; i++) sf(ot, i, f(w, i) * (r * f(xt, i)));
  }
}

export function rmsnormBackward(dx: usize, dw: usize, dout: usize, x: usize, w: usize, rstd: usize, n: i32, c: i32): void {
  for (let t = 0; t < n; t++) {
    const xt = x + (<usize>(t * c) << 2), dt = dout + (<usize>(t * c) << 2), dxt = dx + (<usize>(t * c) << 2);
    const r = f(rstd, t);
    let dot: f32 = 0;
    for (let i = 0; i < c; i++) dot += f(w, i) * f(dt, i) * f(xt, i);
    const k = r * r * r * dot / <f32>c;
    for (let i = 0; i < c; i++) {
      addAt(dw, i, f(dt, i) * r * f(xt, i));
      addAt(dxt, i, r * f(w, i) * f(dt, i) - k * f(xt, i));
    }
  }
}

// Fake int8 activation quantization per vector, exactly as kernels/q8 quantizeActs:
// xq[N][IN] = clamp(nearest(x / s), ±127) (integers held in f32), sa[N] = absmax / 127.
// With quant off: xq = x, sa = 1. The gradient passes straight through (identity).
export function actQuantForward(xq: usize, sa: usize, x: usize, n: i32, in_: i32, quant: bool): void {
  for (let t = 0; t < n; t++) {
    const xt = x + (<usize>(t * in_) << 2), qt = xq + (<usize>(t * in_) << 2);
    if (!quant) {
      memory.copy(qt, xt, <usize>in_ << 2);
      sf(sa, t, 1);
      continue;
    }
    let amax: f32 = 0;
    for (let i = 0; i < in_; i++) amax = Mathf.max(amax, Mathf.abs(f(xt, i)));
    const s: f32 = amax / <f32>127.0;
    const inv: f32 = s > 0 ? <f32>1.0 / s : 0;
    for (let i = 0; i < in_; i++) {
      sf(qt, i, Mathf.min(<f32>127, Mathf.max(<f32>-127, nearest<f32>(f(xt, i) * inv))));
    }
    sf(sa, t, s);
  }
}

// y[N][OUT] = ((wInt[OUT][IN] · xq[N][IN]) * ws[OUT]) * sa[N]: integer dot products are exact
// in f32, then the two scales in the inference kernels' order.
export function matmulForward(y: usize, xq: usize, sa: usize, wInt: usize, ws: usize, n: i32, in_: i32, out: i32): void {
  for (let t = 0; t < n; t++) {
    const xt = xq + (<usize>(t * in_) << 2), yt = y + (<usize>(t * out) << 2);
    const s = f(sa, t);
    for (let r = 0; r < out; r++) {
      sf(yt, r, (dotF32(wInt + (<usize>(r * in_) << 2), xt, in_) * f(ws, r)) * s);
    }
  }
}

// Straight-through estimator: dx uses the dequantized weights wInt·ws, dw the dequantized
// input xq·sa; both gradients go to the latent (unquantized) tensors.
export function matmulBackward(dx: usize, dw: usize, dy: usize, xq: usize, sa: usize, wInt: usize, ws: usize, n: i32, in_: i32, out: i32): void {
  for (let t = 0; t < n; t++) {
    const dyt = dy + (<usize>(t * out) << 2), dxt = dx + (<usize>(t * in_) << 2), xt = xq + (<usize>(t * in_) << 2);
    const s = f(sa, t);
    for (let r = 0; r < out; r++) {
      const g = f(dyt, r);
      if (g == 0) continue;
      axpyF32(dxt, g * f(ws, r), wInt + (<usize>(r * in_) << 2), in_);
      axpyF32(dw + (<usize>(r * in_) << 2), g * s, xt, in_);
    }
  }
}

// In-place RoPE on v[N][width] (width a multiple of HS); cosSin[T][HS] precomputed with the
// inference kernel's ropeTable; token t of the batch sits at position t % T.
export function ropeForward(v: usize, cosSin: usize, n: i32, T: i32, width: i32, hs: i32): void {
  for (let t = 0; t < n; t++) {
    const cs = cosSin + (<usize>((t % T) * hs) << 2), p = v + (<usize>(t * width) << 2);
    for (let i = 0; i < width; i += 2) {
      const j = i % hs;
      const fcr = f(cs, j), fci = f(cs, j + 1);
      const v0 = f(p, i), v1 = f(p, i + 1);
      sf(p, i, v0 * fcr - v1 * fci);
      sf(p, i + 1, v0 * fci + v1 * fcr);
    }
  }
}

// In place: the gradient rotated back (the transpose of the rotation).
export function ropeBackward(dv: usize, cosSin: usize, n: i32, T: i32, width: i32, hs: i32): void {
  for (let t = 0; t < n; t++) {
    const cs = cosSin + (<usize>((t % T) * hs) << 2), p = dv + (<usize>(t * width) << 2);
    for (let i = 0; i < width; i += 2) {
      const j = i % hs;
      const fcr = f(cs, j), fci = f(cs, j + 1);
      const d0 = f(p, i), d1 = f(p, i + 1);
      sf(p, i, d0 * fcr + d1 * fci);
      sf(p, i + 1, -d0 * fci + d1 * fcr);
    }
  }
}

// Causal multi-head attention with grouped KV heads, per sequence of T positions.
// q[N][C], k,v[N][KV] (after RoPE); att[N][NH][T] softmax probabilities (row t uses 0..t);
// out[N][C].
export function attentionForward(out: usize, att: usize, q: usize, k: usize, v: usize, B: i32, T: i32, nh: i32, nkv: i32, hs: i32): void {
  const c = nh * hs, kvd = nkv * hs, kvMul = nh / nkv;
  const sqrtHs: f32 = Mathf.sqrt(<f32>hs);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = b * T + t;
      for (let h = 0; h < nh; h++) {
        const qh = q + (<usize>(n * c + h * hs) << 2);
        const kvh = h / kvMul;
        const a = att + (<usize>((n * nh + h) * T) << 2);
        // The inference module's f32-cache path: scores, exp and sum, mix, one division.
        const base = <usize>(b * T * kvd + kvh * hs) << 2, stride = <usize>kvd << 2;
        attentionScores(a, qh, k + base, stride, t + 1, hs, sqrtHs);
        const sum = expShifted(a, t + 1);
        const o = out + (<usize>(n * c + h * hs) << 2);
        attentionMix(o, a, v + base, stride, t + 1, hs);
        divideF32(o, hs, sum);
        divideF32(a, t + 1, sum); // probabilities, for the backward
      }
    }
  }
}

// dp: scratch f32 [T].
export function attentionBackward(dq: usize, dk: usize, dv: usize, dout: usize, att: usize, q: usize, k: usize, v: usize, dp: usize, B: i32, T: i32, nh: i32, nkv: i32, hs: i32): void {
  const c = nh * hs, kvd = nkv * hs, kvMul = nh / nkv;
  const inv: f32 = <f32>1.0 / Mathf.sqrt(<f32>hs);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = b * T + t;
      for (let h = 0; h < nh; h++) {
        const kvh = h / kvMul;
        const a = att + (<usize>((n * nh + h) * T) << 2);
        const dot_ = dout + (<usize>(n * c + h * hs) << 2);
        let sum: f32 = 0;
        for (let j = 0; j <= t; j++) {
          const vj = v + (<usize>((b * T + j) * kvd + kvh * hs) << 2);
          const g = dotF32(dot_, vj, hs);
          sf(dp, j, g);
          sum += f(a, j) * g;
          axpyF32(dv + (<usize>((b * T + j) * kvd + kvh * hs) << 2), f(a, j), dot_, hs);
        }
        const qh = q + (<usize>(n * c + h * hs) << 2), dqh = dq + (<usize>(n * c + h * hs) << 2);
        for (let j = 0; j <= t; j++) {
          const ds = f(a, j) * (f(dp, j) - sum) * inv;
          if (ds == 0) continue;
          const off = <usize>((b * T + j) * kvd + kvh * hs) << 2;
          axpyF32(dqh, ds, k + off, hs);
          axpyF32(dk + off, ds, qh, hs);
        }
      }
    }
  }
}

// out[N][H] = silu(a) * g, silu(v) = v · σ(v) (the kernels' swiglu itself).
export function swigluForward(out: usize, a: usize, g: usize, n: i32): void {
  memory.copy(out, a, <usize>n << 2);
  swiglu(out, g, n);
}

export function swigluBackward(da: usize, dg: usize, dout: usize, a: usize, g: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const v = f(a, i), d = f(dout, i);
    const sig: f32 = <f32>1.0 / (<f32>1.0 + expF32(-v));
    const silu = v * sig;
    addAt(da, i, d * f(g, i) * sig * (<f32>1.0 + v * (<f32>1.0 - sig)));
    addAt(dg, i, d * silu);
  }
}

// y[n] += x[n]
export function residualForward(y: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) addAt(y, i, f(x, i));
}
