import { hsum4 } from "./simd";

// Ternary W1.58A8 kernels (BitNet b1.58). Layout (docs/model-format.md, qtype t2): each row
// is blocks of 64 weights in 16 bytes; byte j of a block holds weights 16k + j (k = 0..3) at
// bits 2k..2k+1 as code = w + 1. Row stride = 16 · ceil(cols / 64) bytes; one f32 scale per
// row. Activations: int8, one scale per vector, zero-padded to a multiple of 64.
// All kernels accumulate exactly in i32, so the three agree bit for bit.

export const T2_BLOCK: i32 = 64;
export const T2_BLOCK_BYTES: i32 = 16;

@inline export function t2RowBytes(cols: i32): i32 {
  return ((cols + T2_BLOCK - 1) / T2_BLOCK) * T2_BLOCK_BYTES;
}

@inline export function t2Weight(w: usize, rowBytes: i32, r: i32, c: i32): i32 {
  const b = load<u8>(w + <usize>(r * rowBytes + (c >> 6) * 16 + (c & 15)));
  return <i32>((b >> <u8>(((c >> 4) & 3) << 1)) & 3) - 1;
}

// Reference: decode every weight, multiply, accumulate.
export function matvecT2Ref(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32): void {
  const rowBytes = t2RowBytes(cols);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let c = 0; c < cols; c++) acc += t2Weight(w, rowBytes, r, c) * <i32>load<i8>(xq + <usize>c);
    store<f32>(y + (<usize>r << 2), <f32>acc * load<f32>(ws + (<usize>r << 2)) * sa);
  }
}

// i16 lanes += codes (0..2) · x for 16 weights: no widening of the codes needed.
@inline function codeDot(acc: v128, codes: v128, x: v128): v128 {
  return i16x8.add(acc, i16x8.add(i16x8.extmul_low_i8x16_s(codes, x), i16x8.extmul_high_i8x16_s(codes, x)));
}

// Blocks whose i16 partial sums cannot overflow: 4 planes · 2 · 2 · 127 = 2032 per block.
const I16_BLOCKS: i32 = 16;

// SIMD (V8 build). Σ t·x = Σ c·x − Σ x with c = t + 1 ∈ {0,1,2}: the codes multiply the
// activations directly (extmul), partial sums stay in i16 for up to 16 blocks, and one
// Σx per input corrects the offset. A 16-bit shift + mask extracts each 2-bit plane (the
// mask drops the bits that cross bytes). Integer sums: equal to the reference bit for bit.
export function matvecT2Simd(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32): void {
  const rowBytes = t2RowBytes(cols);
  const blocks = rowBytes >> 4;
  const padded = blocks << 6;
  let xsum = 0;
  for (let i = 0; i < padded; i++) xsum += <i32>load<i8>(xq + <usize>i);
  const vxsum = i32x4.splat(xsum);
  const three = i8x16.splat(3);
  const vsa = f32x4.splat(sa);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const row0 = w + <usize>(r * rowBytes);
    const row1 = row0 + <usize>rowBytes, row2 = row1 + <usize>rowBytes, row3 = row2 + <usize>rowBytes;
    let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
    for (let b0 = 0; b0 < blocks; b0 += I16_BLOCKS) {
      const bEnd = min(blocks, b0 + I16_BLOCKS);
      let h0 = i16x8.splat(0), h1 = i16x8.splat(0), h2 = i16x8.splat(0), h3 = i16x8.splat(0);
      for (let b = b0; b < bEnd; b++) {
        const off = <usize>(b << 4);
        const c0 = v128.load(row0 + off), c1 = v128.load(row1 + off), c2 = v128.load(row2 + off), c3 = v128.load(row3 + off);
        const xb = xq + <usize>(b << 6);
        // Planes k = 0..3 unrolled so every shift is an immediate.
        let xv = v128.load(xb);
        h0 = codeDot(h0, v128.and(c0, three), xv);
        h1 = codeDot(h1, v128.and(c1, three), xv);
        h2 = codeDot(h2, v128.and(c2, three), xv);
        h3 = codeDot(h3, v128.and(c3, three), xv);
        xv = v128.load(xb, 16);
        h0 = codeDot(h0, v128.and(i16x8.shr_u(c0, 2), three), xv);
        h1 = codeDot(h1, v128.and(i16x8.shr_u(c1, 2), three), xv);
        h2 = codeDot(h2, v128.and(i16x8.shr_u(c2, 2), three), xv);
        h3 = codeDot(h3, v128.and(i16x8.shr_u(c3, 2), three), xv);
        xv = v128.load(xb, 32);
        h0 = codeDot(h0, v128.and(i16x8.shr_u(c0, 4), three), xv);
        h1 = codeDot(h1, v128.and(i16x8.shr_u(c1, 4), three), xv);
        h2 = codeDot(h2, v128.and(i16x8.shr_u(c2, 4), three), xv);
        h3 = codeDot(h3, v128.and(i16x8.shr_u(c3, 4), three), xv);
        xv = v128.load(xb, 48);
        h0 = codeDot(h0, v128.and(i16x8.shr_u(c0, 6), three), xv);
        h1 = codeDot(h1, v128.and(i16x8.shr_u(c1, 6), three), xv);
        h2 = codeDot(h2, v128.and(i16x8.shr_u(c2, 6), three), xv);
        h3 = codeDot(h3, v128.and(i16x8.shr_u(c3, 6), three), xv);
      }
      a0 = i32x4.add(a0, i32x4.extadd_pairwise_i16x8_s(h0));
      a1 = i32x4.add(a1, i32x4.extadd_pairwise_i16x8_s(h1));
      a2 = i32x4.add(a2, i32x4.extadd_pairwise_i16x8_s(h2));
      a3 = i32x4.add(a3, i32x4.extadd_pairwise_i16x8_s(h3));
    }
    const acc = f32x4.convert_i32x4_s(i32x4.sub(hsum4(a0, a1, a2, a3), vxsum));
    v128.store(y + (<usize>r << 2), f32x4.mul(f32x4.mul(acc, v128.load(ws + (<usize>r << 2))), vsa));
  }
  for (; r < rows; r++) {
    const row = w + <usize>(r * rowBytes);
    let a = i32x4.splat(0);
    for (let b0 = 0; b0 < blocks; b0 += I16_BLOCKS) {
      const bEnd = min(blocks, b0 + I16_BLOCKS);
      let h = i16x8.splat(0);
      for (let b = b0; b < bEnd; b++) {
        const codes = v128.load(row + <usize>(b << 4));
        const xb = xq + <usize>(b << 6);
        for (let k = 0; k < 4; k++) {
          h = codeDot(h, v128.and(i16x8.shr_u(codes, k << 1), three), v128.load(xb + <usize>(k << 4)));
        }
      }
      a = i32x4.add(a, i32x4.extadd_pairwise_i16x8_s(h));
    }
    const s = i32x4.extract_lane(a, 0) + i32x4.extract_lane(a, 1) + i32x4.extract_lane(a, 2) + i32x4.extract_lane(a, 3) - xsum;
    store<f32>(y + (<usize>r << 2), <f32>s * load<f32>(ws + (<usize>r << 2)) * sa);
  }
}

// lut[256] i16: entry c0 | c1<<2 | c2<<4 | c3<<6 = Σ (c_k - 1) · x[16k]; 81 valid entries.
// The inner 3 × 3 (c1, c0) block is unrolled: nine stores at constant offsets per (c3, c2).
@inline function buildLut(lut: usize, x: usize): void {
  const a0 = <i32>load<i8>(x), a1 = <i32>load<i8>(x, 16), a2 = <i32>load<i8>(x, 32), a3 = <i32>load<i8>(x, 48);
  for (let c3 = 0; c3 < 3; c3++) {
    const s3 = (c3 - 1) * a3;
    for (let c2 = 0; c2 < 3; c2++) {
      const s2 = s3 + (c2 - 1) * a2;
      const m = s2 - a1, p = s2 + a1;
      const base = lut + (<usize>((c3 << 6) | (c2 << 4)) << 1);
      store<i16>(base, <i16>(m - a0), 0);  store<i16>(base, <i16>m, 2);  store<i16>(base, <i16>(m + a0), 4);
      store<i16>(base, <i16>(s2 - a0), 8); store<i16>(base, <i16>s2, 10); store<i16>(base, <i16>(s2 + a0), 12);
      store<i16>(base, <i16>(p - a0), 16); store<i16>(base, <i16>p, 18); store<i16>(base, <i16>(p + a0), 20);
    }
  }
}

// The lookup-table kernel's (ternary-lut.ts) four tables for code bytes off..off+3 of every row:
// block b = off >> 4, byte j = off & 15, so table t reads activations 64b + j + t + 16k.
@inline export function lutTablesT2(lut: usize, xq: usize, off: i32): void {
  const xb = xq + <usize>((off >> 4) << 6) + <usize>(off & 15);
  for (let t = 0; t < 4; t++) buildLut(lut + (<usize>t << 9), xb + <usize>t);
}

export function dequantRowT2(out: usize, w: usize, ws: usize, r: i32, cols: i32): void {
  const rowBytes = t2RowBytes(cols);
  const s = load<f32>(ws + (<usize>r << 2));
  for (let c = 0; c < cols; c++) store<f32>(out + (<usize>c << 2), <f32>t2Weight(w, rowBytes, r, c) * s);
}
