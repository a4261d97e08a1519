import { dotAccI8x16, laneSumI32 } from "./simd";
// int4 W4A8 kernels (qtype q4, docs/model-format.md). Weights: row r is ceil(cols/2) bytes at
// w + r·rowBytes; byte j holds column 2j in bits 0..3 and column 2j+1 in bits 4..7, each a
// two's-complement int4 in [-7, 7]; one f32 scale per row. Activations: int8 with one f32
// scale per vector, as the q8 kernels (quantizeActs). The dot product accumulates exactly in
// i32, so the SIMD and scalar kernels agree bit for bit; y = (0 + f32(acc) · sw) · sa, the
// float operations of matvecQ8 with one group per row.

// Bytes of one q4 row: two weights a byte.
@inline export function q4RowBytes(cols: i32): i32 { return (cols + 1) >> 1; }

// Signed int4 weight of column c of the row at row.
@inline function q4At(row: usize, c: i32): i32 {
  const b = <i32>load<u8>(row + <usize>(c >> 1));
  return ((b >> ((c & 1) << 2)) << 28) >> 28;
}

// Reference: i32 dot of one q4 row [n] with int8 x [n].
export function dotQ4Ref(row: usize, x: usize, n: i32): i32 {
  let s = 0;
  for (let c = 0; c < n; c++) s += q4At(row, c) * <i32>load<i8>(x + <usize>c);
  return s;
}

// Fast: 32 columns per step (SIMD: sign-extend both nibbles, interleave back to column
// order, widen and dot as q8 does); MVP: 8 columns from one u32 word, column 8k+i in nibble i.
@inline export function dotQ4(row: usize, x: usize, n: i32): i32 {
  let c = 0;
  let s = 0;
  if (ASC_FEATURE_SIMD) {
    let acc = i32x4.splat(0);
    for (; c + 32 <= n; c += 32) {
      const v = v128.load(row + <usize>(c >> 1));
      const lo = i8x16.shr_s(i8x16.shl(v, 4), 4); // even columns
      const hi = i8x16.shr_s(v, 4);               // odd columns
      const w0 = i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const w1 = i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const x0 = v128.load(x + <usize>c), x1 = v128.load(x + <usize>c, 16);
      acc = dotAccI8x16(dotAccI8x16(acc, w0, x0), w1, x1);
    }
    s = laneSumI32(acc);
  } else {
    for (; c + 8 <= n; c += 8) {
      const v = load<i32>(row + <usize>(c >> 1));
      const p = x + <usize>c;
      s += ((v << 28) >> 28) * <i32>load<i8>(p) + ((v << 24) >> 28) * <i32>load<i8>(p, 1) +
           ((v << 20) >> 28) * <i32>load<i8>(p, 2) + ((v << 16) >> 28) * <i32>load<i8>(p, 3) +
           ((v << 12) >> 28) * <i32>load<i8>(p, 4) + ((v << 8) >> 28) * <i32>load<i8>(p, 5) +
           ((v << 4) >> 28) * <i32>load<i8>(p, 6) + (v >> 28) * <i32>load<i8>(p, 7);
    }
  }
  for (; c < n; c++) s += q4At(row, c) * <i32>load<i8>(x + <usize>c);
  return s;
}

// y[rows] = sa · (W[rows, cols] · xq[cols]); W q4 at w, scales f32 [rows] at ws.
export function matvecQ4Ref(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32): void {
  const rb = <usize>q4RowBytes(cols);
  for (let r = 0; r < rows; r++) {
    let sum: f32 = 0;
    sum += <f32>dotQ4Ref(w + <usize>r * rb, xq, cols) * load<f32>(ws + (<usize>r << 2));
    store<f32>(y + (<usize>r << 2), sum * sa);
  }
}

export function matvecQ4(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32): void {
  const rb = <usize>q4RowBytes(cols);
  for (let r = 0; r < rows; r++) {
    let sum: f32 = 0;
    sum += <f32>dotQ4(w + <usize>r * rb, xq, cols) * load<f32>(ws + (<usize>r << 2));
    store<f32>(y + (<usize>r << 2), sum * sa);
  }
}

// Dequantizes row r of a q4 matrix into out[cols] (embedding lookup): f32(q) · scale.
export function dequantRowQ4(out: usize, w: usize, ws: usize, r: i32, cols: i32): void {
  const row = w + <usize>r * <usize>q4RowBytes(cols);
  const s = load<f32>(ws + (<usize>r << 2));
  for (let c = 0; c < cols; c++) store<f32>(out + (<usize>c << 2), <f32>q4At(row, c) * s);
}
