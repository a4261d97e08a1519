// The prefill block kernels against their references (one per-input kernel call per input):
// equal bit for bit, in the SIMD and the MVP build.
import { qtMatmul, qtMatmulRef, QT_F32, QT_Q4, QT_Q8 } from "../../assembly/model/qtypes";
import { matmulQ8, matvecQ8Ref } from "../../assembly/kernels/q8";
import { loraForward, loraForwardBlock } from "../../assembly/kernels/lora";
import { randomF32, randomI8, zeros, bitsEqual, resetRandom, nextU32 } from "./helpers.include";

@inline function pad64(n: i32): i32 { return (n + 63) & ~63; }

function randomBytes(n: i32): usize {
  const p = zeros(n);
  for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>(nextU32() & 0xff));
  return p;
}

function positiveF32(n: i32): usize {
  const p = randomF32(n);
  for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), Mathf.abs(load<f32>(p + (<usize>i << 2))) + <f32>0.01);
  return p;
}

describe("prefill block kernels", () => {
  test("matmulQ8 equals one matvecQ8Ref per input (groups, odd widths, 1..5 inputs)", () => {
    resetRandom(31);
    const shapes: i32[] = [64, 64, 64, 224, 64, 32, 48, 16, 16];
    for (let s = 0; s + 2 < shapes.length; s += 3) {
      const rows = shapes[s], cols = shapes[s + 1], group = shapes[s + 2];
      const w = randomI8(rows * cols), ws = positiveF32(rows * (cols / group));
      for (let n = 1; n <= 5; n++) {
        const stride = pad64(cols) + 64;
        const xq = randomI8(n * stride), sa = positiveF32(n);
        const got = zeros(n * rows * 4), want = zeros(n * rows * 4);
        matmulQ8(got, w, ws, group, xq, stride, sa, n, rows, cols);
        for (let t = 0; t < n; t++) {
          matvecQ8Ref(want + (<usize>(t * rows) << 2), w, ws, group, xq + <usize>(t * stride), load<f32>(sa + (<usize>t << 2)), rows, cols);
        }
        expect(bitsEqual(got, want, n * rows)).toBe(true);
      }
    }
  });

  test("qtMatmul equals qtMatmulRef for f32, int8 and q4", () => {
    resetRandom(32);
    const rows = 24, cols = 40, n = 4, stride = pad64(cols);
    const x = randomF32(n * cols), xq = randomI8(n * stride), sa = positiveF32(n);
    const f32w = randomF32(rows * cols);
    const q8w = zeros(rows * cols + 4 * rows * 5); memory.copy(q8w, randomI8(rows * cols), <usize>(rows * cols));
    memory.copy(q8w + <usize>(rows * cols), positiveF32(rows * 5), <usize>(rows * 5 * 4));
    const q4w = randomBytes(rows * (cols >> 1)), q4s = positiveF32(rows);
    const types: u32[] = [QT_F32, QT_Q8, QT_Q4];
    for (let i = 0; i < types.length; i++) {
      const q = types[i];
      const w = q == QT_F32 ? f32w : q == QT_Q8 ? q8w : q4w;
      const ws: usize = q == QT_F32 ? 0 : q == QT_Q8 ? q8w + <usize>(rows * cols) : q4s;
      const group = q == QT_Q8 ? 8 : 0;
      const got = zeros(n * rows * 4), want = zeros(n * rows * 4);
      qtMatmul(q, got, w, ws, group, rows, cols, n, x, xq, stride, sa, 0, 0);
      qtMatmulRef(q, want, w, ws, group, rows, cols, n, x, xq, stride, sa, 0, 0);
      expect(bitsEqual(got, want, n * rows)).toBe(true);
    }
  });

  test("loraForwardBlock equals loraForward (its reference) for 1..4 inputs", () => {
    resetRandom(33);
    const inn = 36, out = 20, rank = 5;
    const A = randomF32(rank * inn), B = randomF32(out * rank);
    for (let n = 1; n <= 4; n++) {
      const x = randomF32(n * inn), y0 = randomF32(n * out);
      const got = zeros(n * out * 4), want = zeros(n * out * 4);
      memory.copy(got, y0, <usize>(n * out * 4)); memory.copy(want, y0, <usize>(n * out * 4));
      loraForwardBlock(got, zeros(n * rank * 4), x, A, B, n, inn, out, rank, 0.75);
      loraForward(want, zeros(n * rank * 4), x, A, B, n, inn, out, rank, 0.75);
      expect(bitsEqual(got, want, n * out)).toBe(true);
    }
  });
});
