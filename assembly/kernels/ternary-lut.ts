import { lutTablesT2, matvecT2Simd, t2RowBytes } from "./t2";
import { lutTablesT5, t5RowBytes } from "./t5";

// The lookup-table kernel of both ternary layouts, for interpreters (wasm3), where op count
// is everything. For 4 code bytes off..off+3 of every row, build 4 tables lut[t][byte] = the
// sum of that byte's weights times their activations (t2: four weights 16 apart; t5: five in
// a row), then each row costs one u32 load and four lookups per 16 (t2) or 20 (t5) weights.
// Up to three matrices reading the same input (wq, wk, wv; w1, w3) share each table: pass
// rows = 0 for absent ones. lut: [4][256] i16 (2 KiB); acc: i32 [rowsA + rowsB + rowsC].
export function matvecTernaryLutShared(
  t5: bool,
  yA: usize, wA: usize, sA: usize, rowsA: i32,
  yB: usize, wB: usize, sB: usize, rowsB: i32,
  yC: usize, wC: usize, sC: usize, rowsC: i32,
  xq: usize, sa: f32, cols: i32, lut: usize, acc: usize,
): void {
  const rowBytes = t5 ? t5RowBytes(cols) : t2RowBytes(cols);
  const accB = acc + (<usize>rowsA << 2), accC = accB + (<usize>rowsB << 2);
  memory.fill(acc, 0, <usize>(rowsA + rowsB + rowsC) << 2);
  for (let off = 0; off < rowBytes; off += 4) {
    if (t5) lutTablesT5(lut, xq, off, rowBytes, cols);
    else lutTablesT2(lut, xq, off);
    lutRows(wA + <usize>off, rowsA, rowBytes, lut, acc);
    lutRows(wB + <usize>off, rowsB, rowBytes, lut, accB);
    lutRows(wC + <usize>off, rowsC, rowBytes, lut, accC);
  }
  scaleRows(yA, sA, rowsA, sa, acc);
  scaleRows(yB, sB, rowsB, sa, accB);
  scaleRows(yC, sC, rowsC, sa, accC);
}

// acc[r] += Σ of four lookups for the 4 code bytes of each row at p (rows rowBytes apart).
@inline function lutRows(p: usize, rows: i32, rowBytes: i32, lut: usize, acc: usize): void {
  const end = acc + (<usize>rows << 2);
  for (let pa = acc; pa < end; pa += 4) {
    const bytes = load<u32>(p);
    // Byte k scaled to an i16 index in one shift and one mask: (bytes >> (8k - 1)) & 0x1fe.
    const s = <i32>load<i16>(lut + <usize>((bytes << 1) & 0x1fe)) +
              <i32>load<i16>(lut + <usize>((bytes >> 7) & 0x1fe), 512) +
              <i32>load<i16>(lut + <usize>((bytes >> 15) & 0x1fe), 1024) +
              <i32>load<i16>(lut + <usize>((bytes >> 23) & 0x1fe), 1536);
    store<i32>(pa, load<i32>(pa) + s);
    p += <usize>rowBytes;
  }
}

@inline function scaleRows(y: usize, ws: usize, rows: i32, sa: f32, acc: usize): void {
  for (let r = 0; r < rows; r++) {
    store<f32>(y + (<usize>r << 2), <f32>load<i32>(acc + (<usize>r << 2)) * load<f32>(ws + (<usize>r << 2)) * sa);
  }
}

export function matvecT2Lut(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32, lut: usize, acc: usize): void {
  matvecTernaryLutShared(false, y, w, ws, rows, 0, 0, 0, 0, 0, 0, 0, 0, xq, sa, cols, lut, acc);
}

export function matvecT5Lut(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32, lut: usize, acc: usize): void {
  matvecTernaryLutShared(true, y, w, ws, rows, 0, 0, 0, 0, 0, 0, 0, 0, xq, sa, cols, lut, acc);
}

// Dispatch: the SIMD build runs t2 with its SIMD kernel (and never sees t5 in memory: it
// repacks t5 to t2 at load); the MVP build runs the lookup-table kernel, correct in both.
export function matvecT2(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32, lut: usize, acc: usize): void {
  if (ASC_FEATURE_SIMD) matvecT2Simd(y, w, ws, xq, sa, rows, cols);
  else matvecT2Lut(y, w, ws, xq, sa, rows, cols, lut, acc);
}

export function matvecT5(y: usize, w: usize, ws: usize, xq: usize, sa: f32, rows: i32, cols: i32, lut: usize, acc: usize): void {
  matvecT5Lut(y, w, ws, xq, sa, rows, cols, lut, acc);
}
