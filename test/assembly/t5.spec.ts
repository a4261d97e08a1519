import { matvecT5Ref, t5RowBytes, t5Weight, dequantRowT5, repackT5ToT2 } from "../../assembly/kernels/t5";
import { matvecT2, matvecT5, matvecT5Lut, matvecTernaryLutShared } from "../../assembly/kernels/ternary-lut";
import { matvecT2Ref, t2RowBytes } from "../../assembly/kernels/t2";
import { quantizeActs } from "../../assembly/kernels/q8";
import { randomF32, zeros, nextU32, maxAbsDiff, bitsEqual, resetRandom } from "./helpers.include";

class Packed { codes: usize = 0; scales: usize = 0; dense: usize = 0; }

const POW3: i32[] = [1, 3, 9, 27, 81];

// Random ternary matrix in the t5 layout (with the writer's zero padding after the last row,
// then the scales, as in a file) plus its dense f32 equivalent.
function randomT5(rows: i32, cols: i32): Packed {
  const rb = t5RowBytes(cols);
  const codeBytes = (rows * rb + 3) & ~3;
  const p = new Packed();
  p.codes = zeros(codeBytes + rows * 4);
  p.scales = p.codes + <usize>codeBytes;
  memory.copy(p.scales, randomF32(rows, 0.1), <usize>rows << 2);
  p.dense = zeros(rows * cols * 4);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < rb; j++) {
      let byte = 0;
      for (let k = 0; k < 5; k++) {
        const c = 5 * j + k;
        const digit = c < cols ? <i32>(nextU32() % 3) : 1;
        byte += digit * POW3[k];
        if (c < cols) store<f32>(p.dense + (<usize>(r * cols + c) << 2), <f32>(digit - 1) * load<f32>(p.scales + (<usize>r << 2)));
      }
      store<u8>(p.codes + <usize>(r * rb + j), <u8>byte);
    }
  }
  return p;
}

function int8Input(cols: i32): usize {
  const pad = (cols + 63) & ~63;
  const xq = zeros(pad + 4);
  const sa = quantizeActs(xq, randomF32(cols), cols, pad);
  store<f32>(xq + <usize>pad, sa);
  return xq;
}

@inline function scaleOf(xq: usize, cols: i32): f32 { return load<f32>(xq + <usize>((cols + 63) & ~63)); }

describe("dense ternary (t5) kernels", () => {
  test("t5Weight decodes the documented layout", () => {
    resetRandom(30);
    const p = randomT5(3, 131);
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 131; c++) {
        const expected = load<f32>(p.dense + (<usize>(r * 131 + c) << 2)) / load<f32>(p.scales + (<usize>r << 2));
        expect(<f32>t5Weight(p.codes, t5RowBytes(131), r, c)).toBe(nearest<f32>(expected));
      }
    }
  });

  test("lookup-table kernel equals the reference bit for bit, on every row-length remainder", () => {
    resetRandom(31);
    // 64 → 13-byte rows (the u32 groups cross rows); 172 → 35; 5, 7, 3: shorter than a group.
    const shapes: i32[] = [64, 64, 32, 64, 172, 64, 64, 172, 512, 64, 5, 200, 9, 7, 4, 3, 33, 21, 2, 80];
    for (let s = 0; s < shapes.length; s += 2) {
      const rows = shapes[s], cols = shapes[s + 1];
      const p = randomT5(rows, cols);
      const xq = int8Input(cols), sa = scaleOf(xq, cols);
      const y = zeros(rows * 4), yl = zeros(rows * 4), yr = zeros(rows * 4);
      const lut = zeros(2048), acc = zeros(rows * 4);
      matvecT5(y, p.codes, p.scales, xq, sa, rows, cols, lut, acc);
      matvecT5Lut(yl, p.codes, p.scales, xq, sa, rows, cols, lut, acc);
      matvecT5Ref(yr, p.codes, p.scales, xq, sa, rows, cols);
      expect(bitsEqual(y, yr, rows)).toBe(true);
      expect(bitsEqual(yl, yr, rows)).toBe(true);
    }
  });

  test("three matrices sharing the tables equal three reference products", () => {
    resetRandom(32);
    const cols = 64;
    const a = randomT5(64, cols), b = randomT5(32, cols), c = randomT5(32, cols);
    const xq = int8Input(cols), sa = scaleOf(xq, cols);
    const ya = zeros(256), yb = zeros(128), yc = zeros(128), ra = zeros(256), rb = zeros(128), rc = zeros(128);
    matvecTernaryLutShared(true, ya, a.codes, a.scales, 64, yb, b.codes, b.scales, 32, yc, c.codes, c.scales, 32,
                      xq, sa, cols, zeros(2048), zeros(128 * 4));
    matvecT5Ref(ra, a.codes, a.scales, xq, sa, 64, cols);
    matvecT5Ref(rb, b.codes, b.scales, xq, sa, 32, cols);
    matvecT5Ref(rc, c.codes, c.scales, xq, sa, 32, cols);
    expect(bitsEqual(ya, ra, 64)).toBe(true);
    expect(bitsEqual(yb, rb, 32)).toBe(true);
    expect(bitsEqual(yc, rc, 32)).toBe(true);
  });

  test("repacked to t2, the t2 kernels give the same products", () => {
    resetRandom(33);
    const shapes: i32[] = [64, 64, 64, 172, 7, 130];
    for (let s = 0; s < shapes.length; s += 2) {
      const rows = shapes[s], cols = shapes[s + 1];
      const p = randomT5(rows, cols);
      const t2 = zeros(rows * t2RowBytes(cols));
      repackT5ToT2(t2, p.codes, rows, cols);
      const xq = int8Input(cols), sa = scaleOf(xq, cols);
      const y5 = zeros(rows * 4), y2 = zeros(rows * 4), y2r = zeros(rows * 4);
      matvecT5Ref(y5, p.codes, p.scales, xq, sa, rows, cols);
      matvecT2(y2, t2, p.scales, xq, sa, rows, cols, zeros(2048), zeros(rows * 4));
      matvecT2Ref(y2r, t2, p.scales, xq, sa, rows, cols);
      expect(bitsEqual(y2, y5, rows)).toBe(true);
      expect(bitsEqual(y2r, y5, rows)).toBe(true);
    }
  });

  test("dequantRowT5 reproduces the dense row", () => {
    resetRandom(34);
    const p = randomT5(4, 101);
    const out = zeros(404);
    dequantRowT5(out, p.codes, p.scales, 2, 101);
    expect(maxAbsDiff(out, p.dense + 2 * 404, 101)).toBe(0);
  });
});
