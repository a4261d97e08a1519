// Rényi DP of the Sampled Gaussian Mechanism (SGM): each record (here: each client) is included
// with probability q and the sum gets Gaussian noise of σ = z × the clipping norm. For order α
// the RDP is log(A_α)/(α − 1), with A_α = E_{x∼N(0,z²)}[(1 − q + q·e^((2x−1)/(2z²)))^α]
// (Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism",
// section 3.3). Integer α: the binomial expansion, exact. Fractional α: their two-sided series
// with erfc tails. Both in log space: the terms overflow a double long before α = 64.
import { checkNoise, checkSampleRate, PrivacyError } from "./errors.js";
import { logAdd, logErfc, logSub } from "./log-math.js";

// The orders Opacus's RDPAccountant uses by default: 1.1, 1.2, …, 10.9, then 12, 13, …, 63.
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, k) => 1 + (k + 1) / 10),
  ...Array.from({ length: 52 }, (_, k) => 12 + k),
]);

// A_α for integer α: Σ_i C(α,i) q^i (1−q)^(α−i) e^((i²−i)/(2z²)).
function logAInteger(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q), log1mQ = Math.log1p(-q), twoVar = 2 * z * z;
  let logA = -Infinity, logBinom = 0; // log C(α, 0)
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log((alpha - i + 1) / i);
    logA = logAdd(logA, logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / twoVar);
  }
  return logA;
}

// The series stops once both new terms are below e^−30 (as the reference implementations do);
// the cap only guards against parameters where it would never get there.
const SERIES_CUTOFF = -30;
const SERIES_MAX_TERMS = 1_000_000;

// A_α for fractional α: the integral split at z0 where the two Gaussians' densities cross, each
// side a generalized binomial series (coefficients alternate in sign once i > α) times erfc tails.
function logAFractional(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q), log1mQ = Math.log1p(-q), twoVar = 2 * z * z, sqrt2z = Math.SQRT2 * z;
  const z0 = z * z * Math.log(1 / q - 1) + 0.5;
  let logA0 = -Infinity, logA1 = -Infinity;
  let logBinom = 0, positive = true; // |C(α, i)| in log space and its sign
  for (let i = 0; i < SERIES_MAX_TERMS; i++) {
    if (i > 0) {
      const ratio = (alpha - i + 1) / i;
      if (ratio < 0) positive = !positive;
      logBinom += Math.log(Math.abs(ratio));
    }
    const j = alpha - i;
    const logS0 = logBinom + i * logQ + j * log1mQ + (i * i - i) / twoVar + Math.log(0.5) + logErfc((i - z0) / sqrt2z);
    const logS1 = logBinom + j * logQ + i * log1mQ + (j * j - j) / twoVar + Math.log(0.5) + logErfc((z0 - j) / sqrt2z);
    if (positive) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < SERIES_CUTOFF) return logAdd(logA0, logA1);
  }
  throw new PrivacyError("E_PRIVACY_NUMERIC", `the RDP series did not converge for q=${q}, z=${z}, order ${alpha}`);
}

// RDP at order α of one SGM step with sample rate q and noise multiplier z.
export function sgmRdp(q: number, z: number, alpha: number): number {
  checkSampleRate(q);
  checkNoise(z);
  if (!(alpha > 1)) throw new PrivacyError("E_PRIVACY", `RDP orders must be > 1, got ${alpha}`);
  if (q === 0) return 0;
  if (z === 0) return Infinity; // no noise, no privacy
  if (q === 1) return alpha / (2 * z * z); // the plain Gaussian mechanism
  if (alpha === Infinity) return Infinity;
  const logA = Number.isInteger(alpha) ? logAInteger(q, z, alpha) : logAFractional(q, z, alpha);
  return logA / (alpha - 1);
}

// RDP composes by addition: T identical steps cost T times one. Shape: [orders.length].
export function sgmRdpSteps(q: number, z: number, steps: number, orders: readonly number[]): Float64Array {
  const out = new Float64Array(orders.length);
  for (let k = 0; k < orders.length; k++) out[k] = steps === 0 ? 0 : steps * sgmRdp(q, z, orders[k]);
  return out;
}
