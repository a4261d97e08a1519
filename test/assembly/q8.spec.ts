import { dotI8, dotI8Ref, matvecQ8, matvecQ8Ref, quantizeActs } from "../../assembly/kernels/q8";
import { matvecF32Ref } from "../../assembly/kernels/f32";
import { randomF32, randomI8, zeros, maxAbsDiff, maxAbs, bitsEqual, resetRandom } from "./helpers.include";

// int8 weights and int8 activations against f32: error relative to the output's magnitude.
const Q8_REL_TOL: f32 = 0.03;

// Quantizes w[rows][cols] in groups like the file writer: q at out, scales after align4(rows*cols).
function quantizeWeights(w: usize, rows: i32, cols: i32, group: i32): usize {
  const n = rows * cols;
  const qBytes = (n + 3) & ~3;
  const out = zeros(qBytes + 4 * (n / group));
  for (let g = 0; g < n / group; g++) {
    let amax: f32 = 0;
    for (let i = 0; i < group; i++) amax = Mathf.max(amax, Mathf.abs(load<f32>(w + (<usize>(g * group + i) << 2))));
    const s = amax / 127;
    store<f32>(out + <usize>qBytes + (<usize>g << 2), s);
    for (let i = 0; i < group; i++) {
      const q = s > 0 ? nearest<f32>(load<f32>(w + (<usize>(g * group + i) << 2)) / s) : 0;
      store<i8>(out + <usize>(g * group + i), <i8><i32>q);
    }
  }
  return out;
}

describe("int8 W8A8 kernels", () => {
  test("dotI8 is exact against the reference", () => {
    resetRandom(10);
    for (let n = 1; n < 300; n += 13) {
      const a = randomI8(n), b = randomI8(n);
      expect(dotI8(a, b, n)).toBe(dotI8Ref(a, b, n));
    }
  });

  test("dotI8 holds the extreme values without overflow", () => {
    const n = 4096;
    const a = zeros(n), b = zeros(n);
    memory.fill(a, 0x81, n); memory.fill(b, 0x81, n); // -127 everywhere
    expect(dotI8(a, b, n)).toBe(127 * 127 * n);
  });

  test("quantizeActs maps absmax to ±127 and zero to zero", () => {
    const x = zeros(16), q = zeros(64);
    store<f32>(x, -2); store<f32>(x, 1, 4); store<f32>(x, 0, 8); store<f32>(x, 0.5, 12);
    const s = quantizeActs(q, x, 4, 64);
    expect(s).toBe(<f32>2 / 127);
    expect(load<i8>(q)).toBe(-127);
    expect(load<i8>(q, 2)).toBe(0);
    expect(load<i8>(q, 63)).toBe(0); // padding zeroed
    expect(quantizeActs(q, zeros(16), 4, 4)).toBe(0);
  });

  test("matvecQ8 equals matvecQ8Ref bit for bit, per row and per group", () => {
    resetRandom(11);
    const shapes: i32[] = [64, 64, 64, 172, 64, 4, 172, 64, 16, 512, 64, 64, 7, 24, 8];
    for (let s = 0; s < shapes.length; s += 3) {
      const rows = shapes[s], cols = shapes[s + 1], group = shapes[s + 2];
      const w = quantizeWeights(randomF32(rows * cols), rows, cols, group);
      const scales = w + <usize>((rows * cols + 3) & ~3);
      const x = randomF32(cols), xq = zeros((cols + 63) & ~63);
      const sa = quantizeActs(xq, x, cols, (cols + 63) & ~63);
      const y = zeros(rows * 4), yr = zeros(rows * 4);
      matvecQ8(y, w, scales, group, xq, sa, rows, cols);
      matvecQ8Ref(yr, w, scales, group, xq, sa, rows, cols);
      expect(bitsEqual(y, yr, rows)).toBe(true);
    }
  });

  test("matvecQ8 approximates the f32 product", () => {
    resetRandom(12);
    const rows = 64, cols = 172;
    const wf = randomF32(rows * cols), x = randomF32(cols);
    const w = quantizeWeights(wf, rows, cols, cols);
    const xq = zeros(192);
    const sa = quantizeActs(xq, x, cols, 192);
    const y = zeros(rows * 4), yf = zeros(rows * 4);
    matvecQ8(y, w, w + <usize>(rows * cols), cols, xq, sa, rows, cols);
    matvecF32Ref(yf, wf, x, rows, cols);
    expect(maxAbsDiff(y, yf, rows)).toBeLessThan(Q8_REL_TOL * maxAbs(yf, rows));
  });
});
