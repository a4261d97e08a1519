import { dotF32, dotF32Ref, matvecF32, matvecF32Ref, matmulF32, matmulF32Ref, rmsnorm, softmax, swiglu, rope, ropeTable } from "../../assembly/kernels/f32";
import { randomF32, zeros, maxAbsDiff, maxAbs, resetRandom, bitsEqual } from "./helpers.include";

// Fast kernels reassociate sums into four partials: allowed relative error against the reference.
const F32_REL_TOL: f32 = 2e-6;

describe("f32 kernels", () => {
  test("dotF32 matches dotF32Ref on odd and even lengths", () => {
    resetRandom(1);
    for (let n = 1; n < 200; n += 7) {
      const a = randomF32(n), b = randomF32(n);
      const d = Mathf.abs(dotF32(a, b, n) - dotF32Ref(a, b, n));
      expect(d).toBeLessThanOrEqual(F32_REL_TOL * <f32>n);
    }
  });

  test("matvecF32 matches the reference for stories260K shapes", () => {
    resetRandom(2);
    const shapes: i32[] = [64, 64, 172, 64, 64, 172, 512, 64, 3, 5];
    for (let s = 0; s < shapes.length; s += 2) {
      const rows = shapes[s], cols = shapes[s + 1];
      const w = randomF32(rows * cols), x = randomF32(cols);
      const y = zeros(rows * 4), yr = zeros(rows * 4);
      matvecF32(y, w, x, rows, cols);
      matvecF32Ref(yr, w, x, rows, cols);
      expect(maxAbsDiff(y, yr, rows)).toBeLessThanOrEqual(F32_REL_TOL * <f32>cols);
    }
  });

  test("matmulF32 equals a batch of matvecs bit for bit and the reference within tolerance", () => {
    resetRandom(3);
    const t = 7, rows = 17, cols = 42;
    const w = randomF32(rows * cols), x = randomF32(t * cols);
    const y = zeros(t * rows * 4), yr = zeros(t * rows * 4), yv = zeros(t * rows * 4);
    matmulF32(y, w, x, t, rows, cols);
    matmulF32Ref(yr, w, x, t, rows, cols);
    for (let i = 0; i < t; i++) matvecF32(yv + <usize>(i * rows * 4), w, x + <usize>(i * cols * 4), rows, cols);
    expect(bitsEqual(y, yv, t * rows)).toBe(true);
    expect(maxAbsDiff(y, yr, t * rows)).toBeLessThanOrEqual(F32_REL_TOL * <f32>cols);
  });

  test("rmsnorm gives unit RMS before the weight", () => {
    resetRandom(4);
    const n = 64;
    const x = randomF32(n, 3), w = zeros(n * 4), out = zeros(n * 4);
    for (let i = 0; i < n; i++) store<f32>(w + (<usize>i << 2), 1);
    rmsnorm(out, x, w, n, 1e-5);
    let ss: f32 = 0;
    for (let i = 0; i < n; i++) ss += load<f32>(out + (<usize>i << 2)) ** 2;
    expect(Mathf.abs(Mathf.sqrt(ss / <f32>n) - 1)).toBeLessThan(1e-4);
  });

  test("softmax sums to one and keeps order", () => {
    resetRandom(5);
    const n = 100;
    const x = randomF32(n, 10);
    const before0 = load<f32>(x), before1 = load<f32>(x, 4);
    softmax(x, n);
    let sum: f32 = 0;
    for (let i = 0; i < n; i++) sum += load<f32>(x + (<usize>i << 2));
    expect(Mathf.abs(sum - 1)).toBeLessThan(1e-5);
    expect(load<f32>(x) > load<f32>(x, 4)).toBe(before0 > before1);
  });

  test("swiglu computes silu(h) * g", () => {
    const h = zeros(8), g = zeros(8);
    store<f32>(h, 2); store<f32>(h, -1, 4);
    store<f32>(g, 3); store<f32>(g, 0.5, 4);
    swiglu(h, g, 2);
    expect(Mathf.abs(load<f32>(h) - <f32>(2.0 / (1.0 + Math.exp(-2.0)) * 3.0))).toBeLessThan(1e-6);
    expect(Mathf.abs(load<f32>(h, 4) - <f32>(-1.0 / (1.0 + Math.exp(1.0)) * 0.5))).toBeLessThan(1e-6);
  });

  test("rope rotates pairs and preserves their norm", () => {
    resetRandom(6);
    const hs = 8, n = 32;
    const v = randomF32(n), cs = zeros(hs * 4);
    const before = maxAbs(v, n);
    ropeTable(cs, 7, hs, 10000);
    let normBefore: f32 = 0, normAfter: f32 = 0;
    for (let i = 0; i < n; i++) normBefore += load<f32>(v + (<usize>i << 2)) ** 2;
    rope(v, n, cs, hs);
    for (let i = 0; i < n; i++) normAfter += load<f32>(v + (<usize>i << 2)) ** 2;
    expect(Mathf.abs(normAfter - normBefore)).toBeLessThan(1e-4);
    expect(before).toBeGreaterThan(0);
    ropeTable(cs, 0, hs, 10000);
    expect(load<f32>(cs)).toBe(1); // position 0: no rotation
    expect(load<f32>(cs, 4)).toBe(0);
  });
});
