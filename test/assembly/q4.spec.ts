import { dotQ4, dotQ4Ref, matvecQ4, matvecQ4Ref, dequantRowQ4, q4RowBytes } from "../../assembly/kernels/q4";
import { quantizeActs } from "../../assembly/kernels/q8";
import { randomF32, randomI8, zeros, bitsEqual, resetRandom, nextU32 } from "./helpers.include";

// Random q4 rows [rows][ceil(cols/2)] with nibbles in [-7, 7] (the full nibble range -8..7
// when full), followed by align4 padding and f32 scales [rows]; returns the data pointer.
function randomQ4(rows: i32, cols: i32, full: bool): usize {
  const rb = q4RowBytes(cols);
  const qBytes = (rows * rb + 3) & ~3;
  const p = zeros(qBytes + 4 * rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const q = full ? <i32>(nextU32() % 16) - 8 : <i32>(nextU32() % 15) - 7;
      const a = p + <usize>(r * rb + (c >> 1));
      store<u8>(a, load<u8>(a) | <u8>((q & 15) << ((c & 1) << 2)));
    }
    store<f32>(p + <usize>(qBytes + 4 * r), <f32>(nextU32() % 1000 + 1) / <f32>7000.0);
  }
  return p;
}

describe("int4 W4A8 kernels", () => {
  test("dotQ4 is exact against the reference, every length", () => {
    resetRandom(41);
    for (let n = 1; n < 200; n += 1) {
      const w = randomQ4(1, n, true), x = randomI8(n + 64);
      expect(dotQ4(w, x, n)).toBe(dotQ4Ref(w, x, n));
    }
  });

  test("dotQ4 decodes the nibble order: low nibble = even column", () => {
    const w = zeros(4), x = zeros(64);
    store<u8>(w, 0x2f);      // col 0 = -1, col 1 = 2
    store<u8>(w + 1, 0x97);  // col 2 = 7, col 3 = -7
    store<i8>(x, 1); store<i8>(x + 1, 10); store<i8>(x + 2, 100); store<i8>(x + 3, 3);
    expect(dotQ4Ref(w, x, 4)).toBe(-1 + 20 + 700 - 21);
    expect(dotQ4(w, x, 4)).toBe(-1 + 20 + 700 - 21);
  });

  test("matvecQ4 is bit-identical to matvecQ4Ref", () => {
    resetRandom(42);
    const shapes: i32[] = [1, 64, 3, 32, 5, 17, 7, 64, 512, 64, 9, 172, 16, 33];
    for (let k = 0; k < shapes.length; k += 2) {
      const rows = shapes[k], cols = shapes[k + 1];
      const rb = q4RowBytes(cols);
      const w = randomQ4(rows, cols, false), ws = w + <usize>((rows * rb + 3) & ~3);
      const pad = (cols + 63) & ~63;
      const xq = zeros(pad);
      const sa = quantizeActs(xq, randomF32(cols), cols, pad);
      const y = zeros(4 * rows), yr = zeros(4 * rows);
      matvecQ4(y, w, ws, xq, sa, rows, cols);
      matvecQ4Ref(yr, w, ws, xq, sa, rows, cols);
      expect(bitsEqual(y, yr, rows)).toBe(true);
    }
  });

  test("dequantRowQ4 is f32(q) · scale", () => {
    resetRandom(43);
    const rows = 3, cols = 7;
    const w = randomQ4(rows, cols, false), ws = w + <usize>((rows * q4RowBytes(cols) + 3) & ~3);
    const out = zeros(4 * cols);
    dequantRowQ4(out, w, ws, 2, cols);
    for (let c = 0; c < cols; c++) {
      const b = <i32>load<u8>(w + <usize>(2 * q4RowBytes(cols) + (c >> 1)));
      let q = (b >> ((c & 1) << 2)) & 15;
      if (q >= 8) q -= 16;
      expect(load<f32>(out + (<usize>c << 2))).toBe(<f32>q * load<f32>(ws + 8));
    }
  });
});
