// int8 W8A8 kernels. Weights: int8 q[rows][cols] with one f32 scale per group of `group`
// consecutive weights of a row (group divides cols). Activations: int8 with one f32 scale
// per vector (absmax, quantized at run time). Dot products accumulate exactly in i32, so the
// SIMD and scalar kernels agree bit for bit; y = sa · Σ_g sw[g] · acc_g.

// q[n] = round(x[n] / s), s = absmax(x) / 127; returns s (0 for an all-zero vector).
// qPad bytes past n are zeroed so kernels may read whole blocks.
export function quantizeActs(q: usize, x: usize, n: i32, qPad: i32): f32 {
  let amax: f32 = 0;
  for (let i = 0; i < n; i++) amax = Mathf.max(amax, Mathf.abs(load<f32>(x + (<usize>i << 2))));
  const s: f32 = amax / <f32>127.0;
  const inv: f32 = s > 0 ? <f32>1.0 / s : 0;
  for (let i = 0; i < n; i++) {
    const v = nearest<f32>(load<f32>(x + (<usize>i << 2)) * inv);
    store<i8>(q + <usize>i, <i8><i32>Mathf.min(<f32>127, Mathf.max(<f32>-127, v)));
  }
  for (let i = n; i < qPad; i++) store<i8>(q + <usize>i, 0);
  return s;
}

// Reference: i32 dot of two int8 vectors.
export function dotI8Ref(a: usize, b: usize, n: i32): i32 {
  let s = 0;
  for (let i = 0; i < n; i++) s += <i32>load<i8>(a + <usize>i) * <i32>load<i8>(b + <usize>i);
  return s;
}

@inline export function dotI8(a: usize, b: usize, n: i32): i32 {
  let i = 0;
  let s = 0;
  if (ASC_FEATURE_SIMD) {
    let acc = i32x4.splat(0);
    for (; i + 16 <= n; i += 16) {
      const va = v128.load(a + <usize>i), vb = v128.load(b + <usize>i);
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(va), i16x8.extend_low_i8x16_s(vb)));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(va), i16x8.extend_high_i8x16_s(vb)));
    }
    s = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) +
        i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  } else {
    for (; i + 8 <= n; i += 8) {
      const pa = a + <usize>i, pb = b + <usize>i;
      s += <i32>load<i8>(pa) * <i32>load<i8>(pb) + <i32>load<i8>(pa, 1) * <i32>load<i8>(pb, 1) +
           <i32>load<i8>(pa, 2) * <i32>load<i8>(pb, 2) + <i32>load<i8>(pa, 3) * <i32>load<i8>(pb, 3) +
           <i32>load<i8>(pa, 4) * <i32>load<i8>(pb, 4) + <i32>load<i8>(pa, 5) * <i32>load<i8>(pb, 5) +
           <i32>load<i8>(pa, 6) * <i32>load<i8>(pb, 6) + <i32>load<i8>(pa, 7) * <i32>load<i8>(pb, 7);
    }
  }
  for (; i < n; i++) s += <i32>load<i8>(a + <usize>i) * <i32>load<i8>(b + <usize>i);
  return s;
}

// y[rows] = sa · (W[rows, cols] · xq[cols]); W int8 q at w, scales f32 [rows][cols/group] at ws.
export function matvecQ8Ref(y: usize, w: usize, ws: usize, group: i32, xq: usize, sa: f32, rows: i32, cols: i32): void {
  const groups = cols / group;
  for (let r = 0; r < rows; r++) {
    let sum: f32 = 0;
    for (let g = 0; g < groups; g++) {
      const acc = dotI8Ref(w + <usize>(r * cols + g * group), xq + <usize>(g * group), group);
      sum += <f32>acc * load<f32>(ws + (<usize>(r * groups + g) << 2));
    }
    store<f32>(y + (<usize>r << 2), sum * sa);
  }
}

export function matvecQ8(y: usize, w: usize, ws: usize, group: i32, xq: usize, sa: f32, rows: i32, cols: i32): void {
  const groups = cols / group;
  for (let r = 0; r < rows; r++) {
    let sum: f32 = 0;
    const row = w + <usize>r * <usize>cols;
    const rs = ws + (<usize>(r * groups) << 2);
    for (let g = 0; g < groups; g++) {
      sum += <f32>dotI8(row + <usize>(g * group), xq + <usize>(g * group), group) * load<f32>(rs + (<usize>g << 2));
    }
    store<f32>(y + (<usize>r << 2), sum * sa);
  }
}

// Dequantizes row r of a q8 matrix into out[cols] (embedding lookup).
export function dequantRowQ8(out: usize, w: usize, ws: usize, group: i32, r: i32, cols: i32): void {
  const groups = cols / group;
  for (let i = 0; i < cols; i++) {
    const s = load<f32>(ws + (<usize>(r * groups + i / group) << 2));
    store<f32>(out + (<usize>i << 2), <f32>load<i8>(w + <usize>(r * cols + i)) * s);
  }
}
