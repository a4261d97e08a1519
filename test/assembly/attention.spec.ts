import { attentionScores, attentionScoresRef, attentionMix, attentionMixRef, attentionScoresPair, attentionMixPair } from "../../assembly/kernels/attention";
import { expF32, expShifted, softmax, softmaxRef } from "../../assembly/kernels/f32";
import { randomF32, zeros, maxAbsDiff, bitsEqual, resetRandom } from "./helpers.include";

// The fast exp against libm's: relative error bound.
const EXP_REL_TOL: f32 = 4e-7;
// Softmax with the fast exp and four-partial sum against the reference.
const SOFTMAX_TOL: f32 = 1e-6;
// Mix accumulates in the same order as the reference: only rounding of 0-initialization differs (none).
const MIX_TOL: f32 = 0;

describe("attention kernels", () => {
  test("scores equal the reference bit for bit (both share dotF32's order)", () => {
    resetRandom(30);
    const hs = 8, kvDim = 32, n = 37;
    const q = randomF32(hs), k = randomF32(n * kvDim);
    const a = zeros(n * 4), b = zeros(n * 4);
    attentionScores(a, q, k + 8 * 4, kvDim * 4, n, hs, Mathf.sqrt(<f32>hs));
    attentionScoresRef(b, q, k + 8 * 4, kvDim * 4, n, hs, Mathf.sqrt(<f32>hs));
    expect(bitsEqual(a, b, n)).toBe(true);
  });

  test("mix equals the reference", () => {
    resetRandom(31);
    const hs = 12, kvDim = 24, n = 29;
    const att = randomF32(n), v = randomF32(n * kvDim);
    const a = zeros(hs * 4), b = zeros(hs * 4);
    attentionMix(a, att, v, kvDim * 4, n, hs);
    attentionMixRef(b, att, v, kvDim * 4, n, hs);
    expect(maxAbsDiff(a, b, hs)).toBeLessThanOrEqual(MIX_TOL);
  });

  test("pair kernels (two heads sharing a KV head) equal two single-head calls bit for bit", () => {
    resetRandom(33);
    const hs = 8, kvDim = 16, n = 43;
    const qa = randomF32(hs), qb = randomF32(hs), k = randomF32(n * kvDim), v = randomF32(n * kvDim);
    const sa = zeros(n * 4), sb = zeros(n * 4), ra = zeros(n * 4), rb = zeros(n * 4);
    attentionScoresPair(sa, sb, qa, qb, k + 32, kvDim * 4, n, hs, Mathf.sqrt(<f32>hs));
    attentionScores(ra, qa, k + 32, kvDim * 4, n, hs, Mathf.sqrt(<f32>hs));
    attentionScores(rb, qb, k + 32, kvDim * 4, n, hs, Mathf.sqrt(<f32>hs));
    expect(bitsEqual(sa, ra, n)).toBe(true);
    expect(bitsEqual(sb, rb, n)).toBe(true);
    const oa = zeros(hs * 4), ob = zeros(hs * 4), pa = zeros(hs * 4), pb = zeros(hs * 4);
    attentionMixPair(oa, ob, sa, sb, v + 32, kvDim * 4, n, hs);
    attentionMix(pa, sa, v + 32, kvDim * 4, n, hs);
    attentionMix(pb, sb, v + 32, kvDim * 4, n, hs);
    expect(bitsEqual(oa, pa, hs)).toBe(true);
    expect(bitsEqual(ob, pb, hs)).toBe(true);
  });

  test("expF32 is within a few ulp of Mathf.exp over the softmax range", () => {
    for (let i = 0; i <= 2000; i++) {
      const x = <f32>(-80.0 + <f64>i * 0.04);
      const ref = Mathf.exp(x);
      expect(Mathf.abs(expF32(x) - ref) / ref).toBeLessThan(EXP_REL_TOL);
    }
  });

  test("softmax matches the libm reference; expShifted returns the normalizer", () => {
    resetRandom(32);
    const n = 130;
    const a = randomF32(n, 8);
    const b = zeros(n * 4), c = zeros(n * 4);
    memory.copy(b, a, n * 4); memory.copy(c, a, n * 4);
    softmax(a, n);
    softmaxRef(b, n);
    expect(maxAbsDiff(a, b, n)).toBeLessThan(SOFTMAX_TOL);
    const sum = expShifted(c, n);
    let total: f32 = 0;
    for (let i = 0; i < n; i++) total += load<f32>(c + (<usize>i << 2)) / sum;
    expect(Mathf.abs(total - 1)).toBeLessThan(1e-5);
  });
});
