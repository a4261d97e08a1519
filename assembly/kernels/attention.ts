// Attention inner loops for one head over cached positions. Scores use the four-partial dot
// order of dotF32 in both builds; the SIMD build computes four positions at once and combines
// lanes with shuffles in exactly that order, so results stay bit-identical to the MVP build.
import { dotF32 } from "./f32";

// scores[t] = (q[hs] · k_t[hs]) / sqrtHs for t < n; k_t = kBase + t·stride bytes.
export function attentionScoresRef(scores: usize, q: usize, kBase: usize, stride: usize, n: i32, hs: i32, sqrtHs: f32): void {
  for (let t = 0; t < n; t++) {
    store<f32>(scores + (<usize>t << 2), dotF32(q, kBase + <usize>t * stride, hs) / sqrtHs);
  }
}

export function attentionScores(scores: usize, q: usize, kBase: usize, stride: usize, n: i32, hs: i32, sqrtHs: f32): void {
  let t = 0;
  if (ASC_FEATURE_SIMD && (hs & 3) == 0) {
    const vs = f32x4.splat(sqrtHs);
    for (; t + 4 <= n; t += 4) {
      const k0 = kBase + <usize>t * stride;
      const k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let i = 0; i < hs; i += 4) {
        const off = <usize>i << 2;
        const qv = v128.load(q + off);
        a0 = f32x4.add(a0, f32x4.mul(qv, v128.load(k0 + off)));
        a1 = f32x4.add(a1, f32x4.mul(qv, v128.load(k1 + off)));
        a2 = f32x4.add(a2, f32x4.mul(qv, v128.load(k2 + off)));
        a3 = f32x4.add(a3, f32x4.mul(qv, v128.load(k3 + off)));
      }
      v128.store(scores + (<usize>t << 2), f32x4.div(reduce4(a0, a1, a2, a3), vs));
    }
  } else if (hs == 8) {
    // Interpreters, at the common head size: q held in locals, each key read once, the
    // four partial sums of dotF32 in its order.
    const q0 = load<f32>(q), q1 = load<f32>(q, 4), q2 = load<f32>(q, 8), q3 = load<f32>(q, 12);
    const q4 = load<f32>(q, 16), q5 = load<f32>(q, 20), q6 = load<f32>(q, 24), q7 = load<f32>(q, 28);
    let k = kBase;
    for (; t < n; t++) {
      const s0 = q0 * load<f32>(k) + q4 * load<f32>(k, 16);
      const s1 = q1 * load<f32>(k, 4) + q5 * load<f32>(k, 20);
      const s2 = q2 * load<f32>(k, 8) + q6 * load<f32>(k, 24);
      const s3 = q3 * load<f32>(k, 12) + q7 * load<f32>(k, 28);
      store<f32>(scores + (<usize>t << 2), ((s0 + s1) + (s2 + s3)) / sqrtHs);
      k += stride;
    }
  }
  for (; t < n; t++) {
    store<f32>(scores + (<usize>t << 2), dotF32(q, kBase + <usize>t * stride, hs) / sqrtHs);
  }
}

// out[hs] = Σ_t att[t] · v_t[hs], t < n, accumulated in order of t.
export function attentionMixRef(out: usize, att: usize, vBase: usize, stride: usize, n: i32, hs: i32): void {
  memory.fill(out, 0, <usize>hs << 2);
  for (let t = 0; t < n; t++) {
    const a = load<f32>(att + (<usize>t << 2));
    const v = vBase + <usize>t * stride;
    for (let i = 0; i < hs; i++) {
      const o = out + (<usize>i << 2);
      store<f32>(o, load<f32>(o) + a * load<f32>(v + (<usize>i << 2)));
    }
  }
}

export function attentionMix(out: usize, att: usize, vBase: usize, stride: usize, n: i32, hs: i32): void {
  let i = 0;
  if (!ASC_FEATURE_SIMD) {
    // Interpreters: four output lanes per pass read each weight once (same order per element).
    for (; i + 4 <= hs; i += 4) {
      let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
      let v = vBase + (<usize>i << 2);
      for (let t = 0; t < n; t++) {
        const a = load<f32>(att + (<usize>t << 2));
        a0 += a * load<f32>(v); a1 += a * load<f32>(v, 4); a2 += a * load<f32>(v, 8); a3 += a * load<f32>(v, 12);
        v += stride;
      }
      const o = out + (<usize>i << 2);
      store<f32>(o, a0); store<f32>(o, a1, 4); store<f32>(o, a2, 8); store<f32>(o, a3, 12);
    }
  } else {
    // Output lanes stay in registers across all positions (same order per element); eight
    // lanes per pass share each weight's splat.
    for (; i + 8 <= hs; i += 8) {
      let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
      let v = vBase + (<usize>i << 2);
      for (let t = 0; t < n; t++) {
        const a = f32x4.splat(load<f32>(att + (<usize>t << 2)));
        acc0 = f32x4.add(acc0, f32x4.mul(a, v128.load(v)));
        acc1 = f32x4.add(acc1, f32x4.mul(a, v128.load(v, 16)));
        v += stride;
      }
      v128.store(out + (<usize>i << 2), acc0);
      v128.store(out + (<usize>i << 2), acc1, 16);
    }
    for (; i + 4 <= hs; i += 4) {
      let acc = f32x4.splat(0);
      let v = vBase + (<usize>i << 2);
      for (let t = 0; t < n; t++) {
        acc = f32x4.add(acc, f32x4.mul(f32x4.splat(load<f32>(att + (<usize>t << 2))), v128.load(v)));
        v += stride;
      }
      v128.store(out + (<usize>i << 2), acc);
    }
  }
  for (; i < hs; i++) {
    let acc: f32 = 0;
    let v = vBase + (<usize>i << 2);
    for (let t = 0; t < n; t++) {
      acc += load<f32>(att + (<usize>t << 2)) * load<f32>(v);
      v += stride;
    }
    store<f32>(out + (<usize>i << 2), acc);
  }
}

// Two heads that share one KV head (grouped-query attention), SIMD build: each key and value
// is loaded once for both. Per head the arithmetic is exactly attentionScores' / attentionMix',
// so results are bit-identical to two separate calls. hs must be a multiple of 4.
export function attentionScoresPair(sa: usize, sb: usize, qa: usize, qb: usize, kBase: usize, stride: usize, n: i32, hs: i32, sqrtHs: f32): void {
  if (!ASC_FEATURE_SIMD || (hs & 3) != 0) {
    attentionScores(sa, qa, kBase, stride, n, hs, sqrtHs);
    attentionScores(sb, qb, kBase, stride, n, hs, sqrtHs);
    return;
  }
  const vs = f32x4.splat(sqrtHs);
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const k0 = kBase + <usize>t * stride;
    const k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let i = 0; i < hs; i += 4) {
      const off = <usize>i << 2;
      const qav = v128.load(qa + off), qbv = v128.load(qb + off);
      const kv0 = v128.load(k0 + off), kv1 = v128.load(k1 + off), kv2 = v128.load(k2 + off), kv3 = v128.load(k3 + off);
      a0 = f32x4.add(a0, f32x4.mul(qav, kv0)); b0 = f32x4.add(b0, f32x4.mul(qbv, kv0));
      a1 = f32x4.add(a1, f32x4.mul(qav, kv1)); b1 = f32x4.add(b1, f32x4.mul(qbv, kv1));
      a2 = f32x4.add(a2, f32x4.mul(qav, kv2)); b2 = f32x4.add(b2, f32x4.mul(qbv, kv2));
      a3 = f32x4.add(a3, f32x4.mul(qav, kv3)); b3 = f32x4.add(b3, f32x4.mul(qbv, kv3));
    }
    v128.store(sa + (<usize>t << 2), f32x4.div(reduce4(a0, a1, a2, a3), vs));
    v128.store(sb + (<usize>t << 2), f32x4.div(reduce4(b0, b1, b2, b3), vs));
  }
  for (; t < n; t++) {
    const k = kBase + <usize>t * stride;
    store<f32>(sa + (<usize>t << 2), dotF32(qa, k, hs) / sqrtHs);
    store<f32>(sb + (<usize>t << 2), dotF32(qb, k, hs) / sqrtHs);
  }
}

// [Σa, Σb, Σc, Σd], each as (l0 + l1) + (l2 + l3): dotF32's order.
@inline function reduce4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 2, 4, 6), v128.shuffle<f32>(a, b, 1, 3, 5, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 2, 4, 6), v128.shuffle<f32>(c, d, 1, 3, 5, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 2, 4, 6), v128.shuffle<f32>(ab, cd, 1, 3, 5, 7));
}

export function attentionMixPair(oa: usize, ob: usize, atta: usize, attb: usize, vBase: usize, stride: usize, n: i32, hs: i32): void {
  if (!ASC_FEATURE_SIMD || (hs & 3) != 0) {
    attentionMix(oa, atta, vBase, stride, n, hs);
    attentionMix(ob, attb, vBase, stride, n, hs);
    return;
  }
  for (let i = 0; i < hs; i += 4) {
    let acca = f32x4.splat(0), accb = f32x4.splat(0);
    let v = vBase + (<usize>i << 2);
    for (let t = 0; t < n; t++) {
      const vv = v128.load(v);
      acca = f32x4.add(acca, f32x4.mul(f32x4.splat(load<f32>(atta + (<usize>t << 2))), vv));
      accb = f32x4.add(accb, f32x4.mul(f32x4.splat(load<f32>(attb + (<usize>t << 2))), vv));
      v += stride;
    }
    v128.store(oa + (<usize>i << 2), acca);
    v128.store(ob + (<usize>i << 2), accb);
  }
}
