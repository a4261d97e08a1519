// Log-space arithmetic and a stable log(erfc(x)) for the RDP series: the terms reach e^±1000,
// far beyond a double, so sums are kept as logarithms.

// log(e^a + e^b); -Infinity stands for 0.
export function logAdd(a: number, b: number): number {
  const lo = Math.min(a, b), hi = Math.max(a, b);
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

// log(e^a − e^b) for a ≥ b; a negative difference is a bug in the caller's series.
export function logSub(a: number, b: number): number {
  if (a < b) throw new RangeError(`log-space subtraction would go negative (${a} − ${b})`);
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  const d = a - b;
  // expm1 overflows past ~709; e^a − e^b is then e^a to double precision.
  return d > 700 ? a : b + Math.log(Math.expm1(d));
}

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

// erf by its all-positive series erf(x) = 2/√π·e^(−x²)·Σ (2x²)^n·x / (1·3·…·(2n+1)):
// no cancellation, so full precision for the |x| ≤ 1 where it is used.
function erfSeries(x: number): number {
  if (x < 0) return -erfSeries(-x);
  const x2 = x * x;
  let term = x, sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

// For x ≥ 1: erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), the classical
// continued fraction (Abramowitz & Stegun 7.1.14), evaluated from a fixed depth backwards. At
// x = 1 a depth of 400 is converged to below 1e-17; larger x converge faster. Returns
// log of the fraction's denominator so callers can stay in log space for huge x.
const CF_DEPTH = 400;
function logCfDenominator(x: number): number {
  let t = x;
  for (let n = CF_DEPTH; n >= 1; n--) t = x + n / 2 / t;
  return Math.log(t);
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < 1) return 1 - erfSeries(x);
  if (x < 0) return 2 - erfc(-x);
  return Math.exp(-x * x - LOG_SQRT_PI - logCfDenominator(x));
}

// log(erfc(x)), finite for every finite x: erfc(30) ≈ 1e-393 is below the smallest double, yet
// the RDP series needs its logarithm.
export function logErfc(x: number): number {
  if (x === Infinity) return -Infinity;
  if (x < 1) return Math.log(erfc(x));
  return -x * x - LOG_SQRT_PI - logCfDenominator(x);
}
