import { dotAccI8x16, hsum4, laneSumI32 } from "./simd";

// int8 W8A8 kernels. Weights: int8 q[rows][cols] with one f32 scale per group of `group`
// consecutive weights of a row (group divides cols). Activations: int8 with one f32 scale
// per vector (absmax, quantized at run time). Dot products accumulate exactly in i32, so the
// SIMD and scalar kernels agree bit for bit; y = sa · Σ_g sw[g] · acc_g.

// q[n] = round(x[n] / s), s = absmax(x) / 127; returns s (0 for an all-zero vector).
// qPad bytes past n are zeroed so kernels may read whole blocks.
export function quantizeActs(q: usize, x: usize, n: i32, qPad: i32): f32 {
  let amax: f32 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    let m = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(x + (<usize>i << 2))));
    amax = Mathf.max(Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  }
  for (; i < n; i++) amax = Mathf.max(amax, Mathf.abs(load<f32>(x + (<usize>i << 2))));
  const s: f32 = amax / <f32>127.0;
  const inv: f32 = s > 0 ? <f32>1.0 / s : 0;
  i = 0;
  if (ASC_FEATURE_SIMD) {
    // |x · inv| ≤ 127 by construction, so the clamp is only for rounding at the edge.
    const vinv = f32x4.splat(inv), lo = f32x4.splat(-127), hi = f32x4.splat(127);
    for (; i + 16 <= n; i += 16) {
      const p = x + (<usize>i << 2);
      const q0 = i32x4.trunc_sat_f32x4_s(f32x4.min(hi, f32x4.max(lo, f32x4.nearest(f32x4.mul(v128.load(p), vinv)))));
      const q1 = i32x4.trunc_sat_f32x4_s(f32x4.min(hi, f32x4.max(lo, f32x4.nearest(f32x4.mul(v128.load(p, 16), vinv)))));
      const q2 = i32x4.trunc_sat_f32x4_s(f32x4.min(hi, f32x4.max(lo, f32x4.nearest(f32x4.mul(v128.load(p, 32), vinv)))));
      const q3 = i32x4.trunc_sat_f32x4_s(f32x4.min(hi, f32x4.max(lo, f32x4.nearest(f32x4.mul(v128.load(p, 48), vinv)))));
      v128.store(q + <usize>i, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3)));
    }
  }
  for (; i < n; i++) {
    const v = nearest<f32>(load<f32>(x + (<usize>i << 2)) * inv);
    store<i8>(q + <usize>i, <i8><i32>Mathf.min(<f32>127, Mathf.max(<f32>-127, v)));
  }
  for (let j = n; j < qPad; j++) store<i8>(q + <usize>j, 0);
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
      acc = dotAccI8x16(acc, v128.load(a + <usize>i), v128.load(b + <usize>i));
    }
    s = laneSumI32(acc);
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

@inline function dot16(acc: v128, w: v128, xl: v128, xh: v128): v128 {
  return i32x4.add(acc, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), xl), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), xh)));
}

// SIMD: four rows at a time share each widened activation vector. Per group, the float
// work is the scalar kernel's: sum += f32(acc) · scale, then y = sum · sa.
function matvecQ8Simd(y: usize, w: usize, ws: usize, group: i32, xq: usize, sa: f32, rows: i32, cols: i32): i32 {
  const groups = cols / group;
  const vsa = f32x4.splat(sa);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const row0 = w + <usize>r * <usize>cols;
    const row1 = row0 + <usize>cols, row2 = row1 + <usize>cols, row3 = row2 + <usize>cols;
    let sum = f32x4.splat(0);
    for (let g = 0; g < groups; g++) {
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
      const end = (g + 1) * group;
      let i = g * group;
      for (; i + 16 <= end; i += 16) {
        const xv = v128.load(xq + <usize>i);
        const xl = i16x8.extend_low_i8x16_s(xv), xh = i16x8.extend_high_i8x16_s(xv);
        a0 = dot16(a0, v128.load(row0 + <usize>i), xl, xh);
        a1 = dot16(a1, v128.load(row1 + <usize>i), xl, xh);
        a2 = dot16(a2, v128.load(row2 + <usize>i), xl, xh);
        a3 = dot16(a3, v128.load(row3 + <usize>i), xl, xh);
      }
      let acc = hsum4(a0, a1, a2, a3);
      if (i < end) {
        const tail = end - i, xt = xq + <usize>i;
        acc = i32x4.add(acc, i32x4(dotI8Ref(row0 + <usize>i, xt, tail), dotI8Ref(row1 + <usize>i, xt, tail),
                                    dotI8Ref(row2 + <usize>i, xt, tail), dotI8Ref(row3 + <usize>i, xt, tail)));
      }
      const sc = ws + (<usize>(r * groups + g) << 2), gs = <usize>groups << 2;
      const scales = groups == 1 ? v128.load(sc) : f32x4(load<f32>(sc), load<f32>(sc + gs), load<f32>(sc + 2 * gs), load<f32>(sc + 3 * gs));
      sum = f32x4.add(sum, f32x4.mul(f32x4.convert_i32x4_s(acc), scales));
    }
    v128.store(y + (<usize>r << 2), f32x4.mul(sum, vsa));
  }
  return r;
}

// Interpreters (wasm3) pay per operation: four rows per pass load each activation once, so
// a weight costs a load, a multiply and an add. Same float work per row as the kernels above.
function matvecQ8Rows4(y: usize, w: usize, ws: usize, group: i32, xq: usize, sa: f32, rows: i32, cols: i32): i32 {
  const groups = cols / group;
  const stride = <usize>cols;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const row0 = w + <usize>r * stride;
    let sum0: f32 = 0, sum1: f32 = 0, sum2: f32 = 0, sum3: f32 = 0;
    for (let g = 0; g < groups; g++) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      let x = xq + <usize>(g * group);
      const xEnd = x + <usize>group;
      let p0 = row0 + <usize>(g * group);
      let p1 = p0 + stride, p2 = p1 + stride, p3 = p2 + stride;
      // Four columns per iteration: constant load offsets instead of pointer arithmetic.
      const xEnd4 = x + <usize>(group & ~3);
      while (x < xEnd4) {
        const x0 = <i32>load<i8>(x), x1 = <i32>load<i8>(x, 1), x2 = <i32>load<i8>(x, 2), x3 = <i32>load<i8>(x, 3);
        a0 += <i32>load<i8>(p0) * x0 + <i32>load<i8>(p0, 1) * x1 + <i32>load<i8>(p0, 2) * x2 + <i32>load<i8>(p0, 3) * x3;
        a1 += <i32>load<i8>(p1) * x0 + <i32>load<i8>(p1, 1) * x1 + <i32>load<i8>(p1, 2) * x2 + <i32>load<i8>(p1, 3) * x3;
        a2 += <i32>load<i8>(p2) * x0 + <i32>load<i8>(p2, 1) * x1 + <i32>load<i8>(p2, 2) * x2 + <i32>load<i8>(p2, 3) * x3;
        a3 += <i32>load<i8>(p3) * x0 + <i32>load<i8>(p3, 1) * x1 + <i32>load<i8>(p3, 2) * x2 + <i32>load<i8>(p3, 3) * x3;
        x += 4; p0 += 4; p1 += 4; p2 += 4; p3 += 4;
      }
      while (x < xEnd) {
        const xv = <i32>load<i8>(x);
        a0 += <i32>load<i8>(p0) * xv;
        a1 += <i32>load<i8>(p1) * xv;
        a2 += <i32>load<i8>(p2) * xv;
        a3 += <i32>load<i8>(p3) * xv;
        x++; p0++; p1++; p2++; p3++;
      }
      const sc = ws + (<usize>(r * groups + g) << 2), gs = <usize>groups << 2;
      sum0 += <f32>a0 * load<f32>(sc);
      sum1 += <f32>a1 * load<f32>(sc + gs);
      sum2 += <f32>a2 * load<f32>(sc + 2 * gs);
      sum3 += <f32>a3 * load<f32>(sc + 3 * gs);
    }
    const yr = y + (<usize>r << 2);
    store<f32>(yr, sum0 * sa); store<f32>(yr, sum1 * sa, 4); store<f32>(yr, sum2 * sa, 8); store<f32>(yr, sum3 * sa, 12);
  }
  return r;
}

export function matvecQ8(y: usize, w: usize, ws: usize, group: i32, xq: usize, sa: f32, rows: i32, cols: i32): void {
  const groups = cols / group;
  let r = 0;
  if (ASC_FEATURE_SIMD) r = matvecQ8Simd(y, w, ws, group, xq, sa, rows, cols);
  else r = matvecQ8Rows4(y, w, ws, group, xq, sa, rows, cols);
  for (; r < rows; r++) {
    let sum: f32 = 0;
    const row = w + <usize>r * <usize>cols;
    const rs = ws + (<usize>(r * groups) << 2);
    for (let g = 0; g < groups; g++) {
      sum += <f32>dotI8(row + <usize>(g * group), xq + <usize>(g * group), group) * load<f32>(rs + (<usize>g << 2));
    }
    store<f32>(y + (<usize>r << 2), sum * sa);
  }
}

// Y[n][rows] for n inputs xq int8 [n][xqStride] with scales sa f32 [n] (prefill): each weight
// row is read once for the block; per output the float work of matvecQ8 (its row tail, which
// all its paths share), so the result equals n matvecQ8 calls bit for bit.
export function matmulQ8(y: usize, w: usize, ws: usize, group: i32, xq: usize, xqStride: i32, sa: usize, n: i32, rows: i32, cols: i32): void {
  const groups = cols / group;
  for (let r = 0; r < rows; r++) {
    const row = w + <usize>r * <usize>cols;
    const rs = ws + (<usize>(r * groups) << 2);
    for (let t = 0; t < n; t++) {
      const xt = xq + <usize>(t * xqStride);
      let sum: f32 = 0;
      for (let g = 0; g < groups; g++) {
        sum += <f32>dotI8(row + <usize>(g * group), xt + <usize>(g * group), group) * load<f32>(rs + (<usize>g << 2));
      }
      store<f32>(y + (<usize>(t * rows + r) << 2), sum * load<f32>(sa + (<usize>t << 2)));
    }
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
