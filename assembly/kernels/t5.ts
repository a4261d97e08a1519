import { t2RowBytes } from "./t2";

// Ternary W1.58A8 kernels for the dense packing (docs/model-format.md, qtype t5): row r is
// ceil(cols/5) bytes at w + r·rowBytes; byte j = Σ_k (t[5j+k] + 1) · 3^k holds columns
// 5j..5j+4 in base 3; one f32 scale per row. Activations: int8, one scale per vector; the
// kernels read exactly cols of them. Integer sums are exact, so every kernel here, t2's on the
// repacked matrix, and the firmware's C twins agree bit for bit.

export const T5_PER_BYTE: i32 = 5;

@inline export function t5RowBytes(cols: i32): i32 {
  return (cols + T5_PER_BYTE - 1) / T5_PER_BYTE;
}

// Ternary value of column c of the row at row.
@inline function t5At(row: usize, c: i32): i32 {
  let b = <i32>load<u8>(row + <usize>(c / T5_PER_BYTE));
  for (let k = c % T5_PER_BYTE; k > 0; k--) b /= 3;
  return b % 3 - 1;
}

export function t5Weight(w: usize, rowBytes: i32, r: i32, c: i32): i32 {
  return t5At(w + <usize>(r * rowBytes), c);
}

// Reference: decode every weight, multiply, accumulate.
export function matvecT5Ref(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32): void {
  const rowBytes = t5RowBytes(cols);
  for (let r = 0; r < rows; r++) {
    const row = w + <usize>(r * rowBytes);
    let acc = 0;
    for (let c = 0; c < cols; c++) acc += t5At(row, c) * <i32>load<i8>(xq + <usize>c);
    store<f32>(y + (<usize>r << 2), <f32>acc * load<f32>(ws + (<usize>r << 2)) * sa);
  }
}

// The lookup-table kernel's (ternary-lut.ts) four tables for code bytes off..off+3 of every row:
// table t = Σ_k (digit_k − 1) · x[5(off+t) + k]. A row's last group may reach up to 3 bytes
// into the next row (or the zero padding and scales after the last row): those bytes index
// all-zero tables.
@inline export function lutTablesT5(lut: usize, xq: usize, off: i32, rowBytes: i32, cols: i32): void {
  for (let t = 0; t < 4; t++) {
    const table = lut + (<usize>t << 9);
    const j = off + t;
    if (j < rowBytes) buildLut5(table, xq, j * T5_PER_BYTE, cols);
    else memory.fill(table, 0, 512);
  }
}

// lut[256] i16: entry Σ d_k·3^k = Σ (d_k − 1) · x[c0 + k] for columns c0 + k < cols (the rest
// count as zero activations); 243 valid entries, 243..255 zero. The inner 3 × 3 (d1, d0) block
// is unrolled: nine stores at constant offsets per (d4, d3, d2).
@inline function buildLut5(lut: usize, xq: usize, c0: i32, cols: i32): void {
  const a0 = actAt(xq, c0, cols), a1 = actAt(xq, c0 + 1, cols), a2 = actAt(xq, c0 + 2, cols);
  const a3 = actAt(xq, c0 + 3, cols), a4 = actAt(xq, c0 + 4, cols);
  let base = lut;
  for (let d4 = -1; d4 <= 1; d4++) {
    for (let d3 = -1; d3 <= 1; d3++) {
      const s3 = d4 * a4 + d3 * a3;
      for (let d2 = -1; d2 <= 1; d2++) {
        const s2 = s3 + d2 * a2;
        const m = s2 - a1, p = s2 + a1;
        store<i16>(base, <i16>(m - a0), 0);  store<i16>(base, <i16>m, 2);  store<i16>(base, <i16>(m + a0), 4);
        store<i16>(base, <i16>(s2 - a0), 6); store<i16>(base, <i16>s2, 8); store<i16>(base, <i16>(s2 + a0), 10);
        store<i16>(base, <i16>(p - a0), 12); store<i16>(base, <i16>p, 14); store<i16>(base, <i16>(p + a0), 16);
        base += 18;
      }
    }
  }
  memory.fill(base, 0, 26); // entries 243..255
}

@inline function actAt(xq: usize, c: i32, cols: i32): i32 {
  return c < cols ? <i32>load<i8>(xq + <usize>c) : 0;
}

export function dequantRowT5(out: usize, w: usize, ws: usize, r: i32, cols: i32): void {
  const row = w + <usize>(r * t5RowBytes(cols));
  const s = load<f32>(ws + (<usize>r << 2));
  for (let c = 0; c < cols; c++) store<f32>(out + (<usize>c << 2), <f32>t5At(row, c) * s);
}

// t5 codes [rows][t5RowBytes] → t2 codes [rows][t2RowBytes] at dst (the scales are shared, not
// copied). Padding weights become code 1 (= 0), as the t2 writer leaves them.
export function repackT5ToT2(dst: usize, src: usize, rows: i32, cols: i32): void {
  const rb5 = t5RowBytes(cols), rb2 = t2RowBytes(cols);
  memory.fill(dst, 0x55, <usize>(rows * rb2));
  for (let r = 0; r < rows; r++) {
    const from = src + <usize>(r * rb5), to = dst + <usize>(r * rb2);
    for (let c = 0; c < cols; c++) {
      const at = to + <usize>((c >> 6) * 16 + (c & 15));
      const shift = <u8>(((c >> 4) & 3) << 1);
      store<u8>(at, (load<u8>(at) & ~(<u8>3 << shift)) | (<u8>(t5At(from, c) + 1) << shift));
    }
  }
}
