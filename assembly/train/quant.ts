// Weight fake-quantization for quantization-aware training. Each matrix is held twice: the
// latent f32 weights w[rows][cols] that the optimizer updates, and the integer weights
// wInt[rows][cols] (integers stored as f32) with one scale per row ws[rows] that the forward
// pass uses. The file writer packs wInt/ws unchanged, so the file runs exactly as trained.

// No quantization: wInt = w, ws = 1.
export function weightsF32(wInt: usize, ws: usize, w: usize, rows: i32, cols: i32): void {
  memory.copy(wInt, w, <usize>(rows * cols) << 2);
  for (let r = 0; r < rows; r++) store<f32>(ws + (<usize>r << 2), 1);
}

// BitNet b1.58 per row: s = mean|w|, t = clamp(nearest(w / s), -1, 1) (t = 0 when s = 0).
export function weightsTernary(wInt: usize, ws: usize, w: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = w + (<usize>(r * cols) << 2), out = wInt + (<usize>(r * cols) << 2);
    let sum: f32 = 0;
    for (let c = 0; c < cols; c++) sum += Mathf.abs(load<f32>(row + (<usize>c << 2)));
    const s: f32 = sum / <f32>cols;
    for (let c = 0; c < cols; c++) {
      const t: f32 = s > 0 ? Mathf.min(1, Mathf.max(-1, nearest<f32>(load<f32>(row + (<usize>c << 2)) / s))) : 0;
      store<f32>(out + (<usize>c << 2), t);
    }
    store<f32>(ws + (<usize>r << 2), s);
  }
}

// Symmetric int8 per row (one group per row): s = absmax / 127, q = clamp(nearest(w / s), ±127).
export function weightsInt8(wInt: usize, ws: usize, w: usize, rows: i32, cols: i32): void {
  weightsSymmetric(wInt, ws, w, rows, cols, 127);
}

// Symmetric int4 per row, the file's q4: s = absmax / 7, q = clamp(nearest(w / s), ±7).
export function weightsInt4(wInt: usize, ws: usize, w: usize, rows: i32, cols: i32): void {
  weightsSymmetric(wInt, ws, w, rows, cols, 7);
}

function weightsSymmetric(wInt: usize, ws: usize, w: usize, rows: i32, cols: i32, qmax: f32): void {
  for (let r = 0; r < rows; r++) {
    const row = w + (<usize>(r * cols) << 2), out = wInt + (<usize>(r * cols) << 2);
    let amax: f32 = 0;
    for (let c = 0; c < cols; c++) amax = Mathf.max(amax, Mathf.abs(load<f32>(row + (<usize>c << 2))));
    const s: f32 = amax / qmax;
    for (let c = 0; c < cols; c++) {
      const q: f32 = s > 0 ? Mathf.min(qmax, Mathf.max(-qmax, nearest<f32>(load<f32>(row + (<usize>c << 2)) / s))) : 0;
      store<f32>(out + (<usize>c << 2), q);
    }
    store<f32>(ws + (<usize>r << 2), s);
  }
}

// wInt[rows][cols] = blend·wInt + (1 − blend)·w / ws[r]: a weighted mean of the quantized and
// latent weights in the row's scale (rows with scale 0 keep their zeros). The straight-through
// backward is unchanged.
export function blendLatent(wInt: usize, ws: usize, w: usize, rows: i32, cols: i32, blend: f32): void {
  for (let r = 0; r < rows; r++) {
    const s = load<f32>(ws + (<usize>r << 2));
    if (s == 0) continue;
    const row = w + (<usize>(r * cols) << 2), out = wInt + (<usize>(r * cols) << 2);
    for (let c = 0; c < cols; c++) {
      const o = out + (<usize>c << 2);
      store<f32>(o, blend * load<f32>(o) + (1 - blend) * (load<f32>(row + (<usize>c << 2)) / s));
    }
  }
}
