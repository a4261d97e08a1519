import { matvecT2Ref, t2RowBytes, t2Weight, dequantRowT2 } from "../../assembly/kernels/t2";
import { matvecT2, matvecT2Lut } from "../../assembly/kernels/ternary-lut";
import { quantizeActs } from "../../assembly/kernels/q8";
import { matvecF32Ref } from "../../assembly/kernels/f32";
import { randomF32, zeros, nextU32, maxAbsDiff, maxAbs, bitsEqual, resetRandom } from "./helpers.include";

// Ternary kernels against f32 with the same ternary weights: only activation rounding differs.
const T2_REL_TOL: f32 = 0.03;

class Packed { codes: usize = 0; scales: usize = 0; dense: usize = 0; }

// Random ternary matrix in the t2 layout plus its dense f32 equivalent.
function randomTernary(rows: i32, cols: i32): Packed {
  const rb = t2RowBytes(cols);
  const p = new Packed();
  p.codes = zeros(rows * rb);
  memory.fill(p.codes, 0x55, <usize>(rows * rb)); // code 1 (= 0) everywhere, including padding
  p.scales = randomF32(rows, 0.1);
  p.dense = zeros(rows * cols * 4);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const code = <i32>(nextU32() % 3);
      const at = p.codes + <usize>(r * rb + (c >> 6) * 16 + (c & 15));
      const shift = ((c >> 4) & 3) << 1;
      store<u8>(at, <u8>((<i32>load<u8>(at) & ~(3 << shift)) | (code << shift)));
      store<f32>(p.dense + (<usize>(r * cols + c) << 2), <f32>(code - 1) * load<f32>(p.scales + (<usize>r << 2)));
    }
  }
  return p;
}

describe("ternary W1.58A8 kernels", () => {
  test("t2Weight decodes the documented layout", () => {
    resetRandom(20);
    const p = randomTernary(3, 130);
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 130; c++) {
        const expected = load<f32>(p.dense + (<usize>(r * 130 + c) << 2)) / load<f32>(p.scales + (<usize>r << 2));
        expect(<f32>t2Weight(p.codes, t2RowBytes(130), r, c)).toBe(nearest<f32>(expected));
      }
    }
  });

  test("fast and lookup-table kernels equal the reference bit for bit", () => {
    resetRandom(21);
    const shapes: i32[] = [64, 64, 32, 64, 172, 64, 64, 172, 512, 64, 5, 200];
    for (let s = 0; s < shapes.length; s += 2) {
      const rows = shapes[s], cols = shapes[s + 1];
      const p = randomTernary(rows, cols);
      const pad = (cols + 63) & ~63;
      const xq = zeros(pad);
      const sa = quantizeActs(xq, randomF32(cols), cols, pad);
      const y = zeros(rows * 4), yl = zeros(rows * 4), yr = zeros(rows * 4);
      const lut = zeros(2048), acc = zeros(rows * 4);
      matvecT2(y, p.codes, p.scales, xq, sa, rows, cols, lut, acc);
      matvecT2Lut(yl, p.codes, p.scales, xq, sa, rows, cols, lut, acc);
      matvecT2Ref(yr, p.codes, p.scales, xq, sa, rows, cols);
      expect(bitsEqual(y, yr, rows)).toBe(true);
      expect(bitsEqual(yl, yr, rows)).toBe(true);
    }
  });

  test("ternary product approximates the f32 product of the same weights", () => {
    resetRandom(22);
    const rows = 64, cols = 172;
    const p = randomTernary(rows, cols);
    const x = randomF32(cols), xq = zeros(192);
    const sa = quantizeActs(xq, x, cols, 192);
    const y = zeros(rows * 4), yf = zeros(rows * 4);
    matvecT2(y, p.codes, p.scales, xq, sa, rows, cols, zeros(2048), zeros(rows * 4));
    matvecF32Ref(yf, p.dense, x, rows, cols);
    expect(maxAbsDiff(y, yf, rows)).toBeLessThan(T2_REL_TOL * maxAbs(yf, rows));
  });

  test("dequantRowT2 reproduces the dense row", () => {
    resetRandom(23);
    const p = randomTernary(4, 100);
    const out = zeros(400);
    dequantRowT2(out, p.codes, p.scales, 2, 100);
    expect(maxAbsDiff(out, p.dense + 2 * 400, 100)).toBe(0);
  });
});
