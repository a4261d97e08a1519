// Layer-by-layer gradient checks of the training kernels (assembly/train/layers.ts) against
// central finite differences of L = Σ y·r for a random r (so dL/dy = r), in both builds.
import {
  attentionBackward, attentionForward, matmulBackward, matmulForward, rmsnormBackward, rmsnormForward,
  ropeBackward, ropeForward, swigluBackward, swigluForward,
} from "../../assembly/train/layers";
import { loraBackward, loraForward } from "../../assembly/kernels/lora";
import { ropeTable } from "../../assembly/kernels/f32";
import { randomF32, resetRandom, zeros } from "./helpers.include";

// |analytic − numeric| ≤ GRAD_RTOL·max(|a|, |n|) + GRAD_ATOL with step FD_H (f32 forward).
const GRAD_RTOL: f32 = 0.03;
const GRAD_ATOL: f32 = 2e-3;
const FD_H: f32 = 1e-2;

@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

function dotR(y: usize, r: usize, n: i32): f32 {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) s += load<f32>(at(y, i)) * load<f32>(at(r, i));
  return s;
}

function close(a: f32, n: f32): bool {
  return Mathf.abs(a - n) <= GRAD_RTOL * Mathf.max(Mathf.abs(a), Mathf.abs(n)) + GRAD_ATOL;
}

// Perturbs p[i], re-runs fwd (which returns L), restores; returns the central difference.
function numeric(p: usize, i: i32, fwd: () => f32): f32 {
  const w = load<f32>(at(p, i));
  store<f32>(at(p, i), w + FD_H); const up = fwd();
  store<f32>(at(p, i), w - FD_H); const down = fwd();
  store<f32>(at(p, i), w);
  return (up - down) / (<f32>2 * FD_H);
}

// Globals the forward closures read (AssemblyScript closures cannot capture locals).
let X: usize = 0, W: usize = 0, Y: usize = 0, R: usize = 0, S: usize = 0, G: usize = 0, Q: usize = 0, K: usize = 0, VV: usize = 0, CS: usize = 0;
const N = 6, C = 8, H = 12;

describe("training layers: gradients match finite differences", () => {
  test("rmsnorm", () => {
    resetRandom(21);
    X = randomF32(N * C); W = randomF32(C); Y = zeros(N * C * 4); R = randomF32(N * C); S = zeros(N * 4);
    const fwd = (): f32 => { rmsnormForward(Y, S, X, W, N, C, 1e-5); return dotR(Y, R, N * C); };
    fwd();
    const dx = zeros(N * C * 4), dw = zeros(C * 4);
    rmsnormBackward(dx, dw, R, X, W, S, N, C);
    for (let i = 0; i < N * C; i += 5) expect(close(load<f32>(at(dx, i)), numeric(X, i, fwd))).toBe(true);
    for (let i = 0; i < C; i++) expect(close(load<f32>(at(dw, i)), numeric(W, i, fwd))).toBe(true);
  });

  test("matmul (f32: unit scales)", () => {
    resetRandom(22);
    X = randomF32(N * C); W = randomF32(H * C); Y = zeros(N * H * 4); R = randomF32(N * H);
    S = zeros(N * 4); G = zeros(H * 4);
    for (let i = 0; i < N; i++) store<f32>(at(S, i), 1);
    for (let i = 0; i < H; i++) store<f32>(at(G, i), 1);
    const fwd = (): f32 => { matmulForward(Y, X, S, W, G, N, C, H); return dotR(Y, R, N * H); };
    fwd();
    const dx = zeros(N * C * 4), dw = zeros(H * C * 4);
    matmulBackward(dx, dw, R, X, S, W, G, N, C, H);
    for (let i = 0; i < N * C; i += 3) expect(close(load<f32>(at(dx, i)), numeric(X, i, fwd))).toBe(true);
    for (let i = 0; i < H * C; i += 7) expect(close(load<f32>(at(dw, i)), numeric(W, i, fwd))).toBe(true);
  });

  test("swiglu", () => {
    resetRandom(23);
    X = randomF32(N * H, 3); G = randomF32(N * H); Y = zeros(N * H * 4); R = randomF32(N * H);
    const fwd = (): f32 => { swigluForward(Y, X, G, N * H); return dotR(Y, R, N * H); };
    fwd();
    const da = zeros(N * H * 4), dg = zeros(N * H * 4);
    swigluBackward(da, dg, R, X, G, N * H);
    for (let i = 0; i < N * H; i += 5) {
      expect(close(load<f32>(at(da, i)), numeric(X, i, fwd))).toBe(true);
      expect(close(load<f32>(at(dg, i)), numeric(G, i, fwd))).toBe(true);
    }
  });

  test("rope", () => {
    resetRandom(24);
    const T = 3, hs = 4;
    CS = zeros(T * hs * 4);
    for (let t = 0; t < T; t++) ropeTable(at(CS, t * hs), t, hs, 10000);
    X = randomF32(N * C); Y = zeros(N * C * 4); R = randomF32(N * C);
    const fwd = (): f32 => { memory.copy(Y, X, <usize>(N * C) << 2); ropeForward(Y, CS, N, 3, C, 4); return dotR(Y, R, N * C); };
    fwd();
    const d = zeros(N * C * 4);
    memory.copy(d, R, <usize>(N * C) << 2);
    ropeBackward(d, CS, N, T, C, hs);
    for (let i = 0; i < N * C; i += 3) expect(close(load<f32>(at(d, i)), numeric(X, i, fwd))).toBe(true);
  });

  test("causal grouped-query attention", () => {
    resetRandom(25);
    // B = 2 sequences of T = 3, 4 heads of size 2 sharing 2 KV heads.
    const B = 2, T = 3, nh = 4, nkv = 2, hs = 2, kvd = 4;
    Q = randomF32(N * C); K = randomF32(N * kvd); VV = randomF32(N * kvd);
    Y = zeros(N * C * 4); R = randomF32(N * C); S = zeros(N * nh * T * 4);
    const fwd = (): f32 => { attentionForward(Y, S, Q, K, VV, 2, 3, 4, 2, 2); return dotR(Y, R, N * C); };
    fwd();
    const dq = zeros(N * C * 4), dk = zeros(N * kvd * 4), dv = zeros(N * kvd * 4), dp = zeros(T * 4);
    attentionBackward(dq, dk, dv, R, S, Q, K, VV, dp, B, T, nh, nkv, hs);
    for (let i = 0; i < N * C; i += 3) expect(close(load<f32>(at(dq, i)), numeric(Q, i, fwd))).toBe(true);
    for (let i = 0; i < N * kvd; i += 2) {
      expect(close(load<f32>(at(dk, i)), numeric(K, i, fwd))).toBe(true);
      expect(close(load<f32>(at(dv, i)), numeric(VV, i, fwd))).toBe(true);
    }
  });
});

// LoRA (assembly/train/lora.ts): y = base + k·B(Ax); gradients of x, A and B.
let LA: usize = 0, LB: usize = 0, LU: usize = 0, LBASE: usize = 0;
const LR = 3;
const LK: f32 = 0.75;

describe("LoRA adapter layer: gradients match finite differences", () => {
  test("loraForward adds k·B(Ax) to what is there; loraBackward's dx, dA, dB", () => {
    resetRandom(31);
    X = randomF32(N * C); LA = randomF32(LR * C); LB = randomF32(H * LR); LBASE = randomF32(N * H);
    Y = zeros(N * H * 4); LU = zeros(N * LR * 4); R = randomF32(N * H);
    const fwd = (): f32 => {
      memory.copy(Y, LBASE, <usize>(N * H) << 2);
      loraForward(Y, LU, X, LA, LB, N, C, H, LR, LK);
      return dotR(Y, R, N * H);
    };
    fwd();
    // One output by hand: base + k · Σ_o B[o][j] (Σ_i A[j][i] x[i]).
    let want: f32 = 0;
    for (let j = 0; j < LR; j++) {
      let u: f32 = 0;
      for (let i = 0; i < C; i++) u += load<f32>(at(LA, j * C + i)) * load<f32>(at(X, i));
      want += load<f32>(at(LB, j)) * u;
    }
    expect(Mathf.abs(load<f32>(Y) - (load<f32>(LBASE) + LK * want)) < 1e-4).toBe(true);
    const dx = zeros(N * C * 4), dA = zeros(LR * C * 4), dB = zeros(H * LR * 4), du = zeros(LR * 4);
    loraBackward(dx, dA, dB, R, X, LU, LA, LB, du, N, C, H, LR, LK);
    for (let i = 0; i < N * C; i += 3) expect(close(load<f32>(at(dx, i)), numeric(X, i, fwd))).toBe(true);
    for (let i = 0; i < LR * C; i += 2) expect(close(load<f32>(at(dA, i)), numeric(LA, i, fwd))).toBe(true);
    for (let i = 0; i < H * LR; i++) expect(close(load<f32>(at(dB, i)), numeric(LB, i, fwd))).toBe(true);
  });

  test("B = 0 (a fresh adapter) leaves the output alone and still gives B a gradient", () => {
    resetRandom(32);
    X = randomF32(N * C); LA = randomF32(LR * C); LB = zeros(H * LR * 4); LBASE = randomF32(N * H);
    Y = zeros(N * H * 4); LU = zeros(N * LR * 4); R = randomF32(N * H);
    memory.copy(Y, LBASE, <usize>(N * H) << 2);
    loraForward(Y, LU, X, LA, LB, N, C, H, LR, LK);
    expect(memory.compare(Y, LBASE, <usize>(N * H) << 2)).toBe(0);
    const dx = zeros(N * C * 4), dA = zeros(LR * C * 4), dB = zeros(H * LR * 4), du = zeros(LR * 4);
    loraBackward(dx, dA, dB, R, X, LU, LA, LB, du, N, C, H, LR, LK);
    let gB: f32 = 0, gA: f32 = 0;
    for (let i = 0; i < H * LR; i++) gB += Mathf.abs(load<f32>(at(dB, i)));
    for (let i = 0; i < LR * C; i++) gA += Mathf.abs(load<f32>(at(dA, i)));
    expect(gB > 0).toBe(true);
    expect(gA).toBe(0);
  });
});
