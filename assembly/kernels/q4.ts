import { dotAccI8x16, hsum4, laneSumI32 } from "./simd";
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
      s += dotWord(v, <i32>load<i8>(p), <i32>load<i8>(p, 1), <i32>load<i8>(p, 2), <i32>load<i8>(p, 3),
                   <i32>load<i8>(p, 4), <i32>load<i8>(p, 5), <i32>load<i8>(p, 6), <i32>load<i8>(p, 7));
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

// SIMD: four rows at a time. Each 32-column chunk of the activations is split once into its
// even and odd columns and widened, so a row's nibbles need only two shifts (low nibbles are
// the even columns, high nibbles the odd ones) and no shuffle.
function matvecQ4Simd(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32): i32 {
  const rb = <usize>q4RowBytes(cols);
  const full = cols & ~31;
  const vsa = f32x4.splat(sa);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const row0 = w + <usize>r * rb, row1 = row0 + rb, row2 = row1 + rb, row3 = row2 + rb;
    let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
    for (let c = 0; c < full; c += 32) {
      const x0 = v128.load(xq + <usize>c), x1 = v128.load(xq + <usize>c, 16);
      const xe = i8x16.shuffle(x0, x1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const xo = i8x16.shuffle(x0, x1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
      const el = i16x8.extend_low_i8x16_s(xe), eh = i16x8.extend_high_i8x16_s(xe);
      const ol = i16x8.extend_low_i8x16_s(xo), oh = i16x8.extend_high_i8x16_s(xo);
      const o = <usize>(c >> 1);
      a0 = dotNibbles(a0, v128.load(row0 + o), el, eh, ol, oh);
      a1 = dotNibbles(a1, v128.load(row1 + o), el, eh, ol, oh);
      a2 = dotNibbles(a2, v128.load(row2 + o), el, eh, ol, oh);
      a3 = dotNibbles(a3, v128.load(row3 + o), el, eh, ol, oh);
    }
    let acc = hsum4(a0, a1, a2, a3);
    if (full < cols) {
      const o = <usize>(full >> 1), xt = xq + <usize>full, n = cols - full;
      acc = i32x4.add(acc, i32x4(dotQ4Ref(row0 + o, xt, n), dotQ4Ref(row1 + o, xt, n), dotQ4Ref(row2 + o, xt, n), dotQ4Ref(row3 + o, xt, n)));
    }
    const sum = f32x4.add(f32x4.splat(0), f32x4.mul(f32x4.convert_i32x4_s(acc), v128.load(ws + (<usize>r << 2))));
    v128.store(y + (<usize>r << 2), f32x4.mul(sum, vsa));
  }
  return r;
}

// acc + the dot products of the 32 nibbles in v with the widened even (el, eh) and odd (ol, oh)
// activation columns.
@inline function dotNibbles(acc: v128, v: v128, el: v128, eh: v128, ol: v128, oh: v128): v128 {
  const lo = i8x16.shr_s(i8x16.shl(v, 4), 4), hi = i8x16.shr_s(v, 4);
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(lo), el));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(lo), eh));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(hi), ol));
  return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(hi), oh));
}

// Interpreters (wasm3): four rows per pass load each group of eight activations once; a row's
// eight weights come from one u32 word.
function matvecQ4Rows4(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32): i32 {
  const rb = <usize>q4RowBytes(cols);
  const full = cols & ~7;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const row0 = w + <usize>r * rb, row1 = row0 + rb, row2 = row1 + rb, row3 = row2 + rb;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let c = 0; c < full; c += 8) {
      const p = xq + <usize>c, o = <usize>(c >> 1);
      const x0 = <i32>load<i8>(p), x1 = <i32>load<i8>(p, 1), x2 = <i32>load<i8>(p, 2), x3 = <i32>load<i8>(p, 3);
      const x4 = <i32>load<i8>(p, 4), x5 = <i32>load<i8>(p, 5), x6 = <i32>load<i8>(p, 6), x7 = <i32>load<i8>(p, 7);
      a0 += dotWord(load<i32>(row0 + o), x0, x1, x2, x3, x4, x5, x6, x7);
      a1 += dotWord(load<i32>(row1 + o), x0, x1, x2, x3, x4, x5, x6, x7);
      a2 += dotWord(load<i32>(row2 + o), x0, x1, x2, x3, x4, x5, x6, x7);
      a3 += dotWord(load<i32>(row3 + o), x0, x1, x2, x3, x4, x5, x6, x7);
    }
    if (full < cols) {
      const o = <usize>(full >> 1), xt = xq + <usize>full, n = cols - full;
      a0 += dotQ4Ref(row0 + o, xt, n); a1 += dotQ4Ref(row1 + o, xt, n);
      a2 += dotQ4Ref(row2 + o, xt, n); a3 += dotQ4Ref(row3 + o, xt, n);
    }
    const sc = ws + (<usize>r << 2), yr = y + (<usize>r << 2);
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    s0 += <f32>a0 * load<f32>(sc); s1 += <f32>a1 * load<f32>(sc, 4);
    s2 += <f32>a2 * load<f32>(sc, 8); s3 += <f32>a3 * load<f32>(sc, 12);
    store<f32>(yr, s0 * sa); store<f32>(yr, s1 * sa, 4); store<f32>(yr, s2 * sa, 8); store<f32>(yr, s3 * sa, 12);
  }
  return r;
}

// Eight int4 weights of one u32 word (column 8k+i in nibble i) dotted with eight activations.
@inline function dotWord(v: i32, x0: i32, x1: i32, x2: i32, x3: i32, x4: i32, x5: i32, x6: i32, x7: i32): i32 {
  return ((v << 28) >> 28) * x0 + ((v << 24) >> 28) * x1 + ((v << 20) >> 28) * x2 + ((v << 16) >> 28) * x3 +
         ((v << 12) >> 28) * x4 + ((v << 8) >> 28) * x5 + ((v << 4) >> 28) * x6 + (v >> 28) * x7;
}

export function matvecQ4(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32): void {
  const rb = <usize>q4RowBytes(cols);
  let r = ASC_FEATURE_SIMD ? matvecQ4Simd(y, w, ws, xq, sa, rows, cols) : matvecQ4Rows4(y, w, ws, xq, sa, rows, cols);
  for (; r < rows; r++) {
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
