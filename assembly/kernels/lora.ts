// A low-rank adapter on one matrix: the forward the inference module adds after a matrix
// (N = 1: model/lora.ts) and the forward/backward pair the fine-tuning trainer adds beside a
// frozen matrix's (assembly/train/model.ts; issue 18). Dimension key: N tokens,
// I the matrix's input width, O its output width, R the rank; k = (α/R)·s.
//
//   y[N][O] += k · B[O][R] · (A[R][I] · x[N][I]),  u[N][R] = A x kept for the backward
//
// x is the matrix's f32 input (before the int8 activation quantization the base matrix sees),
// as the inference module applies an adapter. Gradients accumulate (zero them first).
import { axpyF32, dotF32 } from "./f32";

@inline function f(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
@inline function sf(p: usize, i: i32, v: f32): void { store<f32>(p + (<usize>i << 2), v); }
@inline function row(p: usize, r: i32, width: i32): usize { return p + (<usize>(r * width) << 2); }

export function loraForward(y: usize, u: usize, x: usize, A: usize, B: usize, n: i32, in_: i32, out: i32, rank: i32, k: f32): void {
  for (let t = 0; t < n; t++) {
    const xt = row(x, t, in_), ut = row(u, t, rank), yt = row(y, t, out);
    for (let j = 0; j < rank; j++) sf(ut, j, dotF32(row(A, j, in_), xt, in_));
    for (let o = 0; o < out; o++) sf(yt, o, f(yt, o) + k * dotF32(row(B, o, rank), ut, rank));
  }
}

// dy[N][O] → dB[O][R] += k·dy uᵀ, dA[R][I] += (k·Bᵀ dy) xᵀ, dx[N][I] += Aᵀ (k·Bᵀ dy).
// du: scratch f32 [R].
export function loraBackward(dx: usize, dA: usize, dB: usize, dy: usize, x: usize, u: usize, A: usize, B: usize, du: usize,
                             n: i32, in_: i32, out: i32, rank: i32, k: f32): void {
  for (let t = 0; t < n; t++) {
    const xt = row(x, t, in_), ut = row(u, t, rank), dyt = row(dy, t, out), dxt = row(dx, t, in_);
    memory.fill(du, 0, <usize>rank << 2);
    for (let o = 0; o < out; o++) {
      const g = k * f(dyt, o);
      if (g == 0) continue;
      axpyF32(row(dB, o, rank), g, ut, rank);
      axpyF32(du, g, row(B, o, rank), rank);
    }
    for (let j = 0; j < rank; j++) {
      const g = f(du, j);
      if (g == 0) continue;
      axpyF32(row(dA, j, in_), g, xt, in_);
      axpyF32(dxt, g, row(A, j, in_), in_);
    }
  }
}

// loraForward for a block of n inputs (prefill), each A and B row read once for all of them:
// u[t][j] and y[t][o] are the same dotF32 and the same update as loraForward's, so the two
// agree bit for bit (loraForward is this kernel's reference).
export function loraForwardBlock(y: usize, u: usize, x: usize, A: usize, B: usize, n: i32, in_: i32, out: i32, rank: i32, k: f32): void {
  for (let j = 0; j < rank; j++) {
    const aj = row(A, j, in_);
    for (let t = 0; t < n; t++) sf(row(u, t, rank), j, dotF32(aj, row(x, t, in_), in_));
  }
  for (let o = 0; o < out; o++) {
    const bo = row(B, o, rank);
    for (let t = 0; t < n; t++) {
      const yt = row(y, t, out);
      sf(yt, o, f(yt, o) + k * dotF32(bo, row(u, t, rank), rank));
    }
  }
}
