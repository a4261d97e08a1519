// RDP at several orders → (ε, δ)-DP: the smallest ε any order gives.
//
// - "opacus" (default): Balle et al. 2020, "Hypothesis testing interpretations and Rényi
//   differential privacy", Theorem 21 (the same bound as Canonne, Kamath, Steinke 2020):
//   ε = rdp − (log δ + log α)/(α − 1) + log((α − 1)/α). This is Opacus's get_privacy_spent.
//   Orders whose ε is NaN are skipped, as Opacus does; ε is floored at 0 (a negative ε, possible
//   only for δ near 1, is a true but useless statement).
// - "tf-privacy": the same bound with the guards of Google's dp_accounting RdpAccountant, which
//   current TF-Privacy calls: ε = 0 where δ² + e^(−rdp) − 1 > 0 (the KL bound already gives it),
//   orders ≤ 1.01 unusable (the bound is unstable there), ε floored at 0.
// - "mironov": the original ε = rdp − log δ/(α − 1) (Mironov 2017, Proposition 3), which
//   TF-Privacy used until 2021; looser, kept to reproduce numbers published with it.
import { checkDelta, PrivacyError } from "./errors.js";

export const CONVERSIONS = ["opacus", "tf-privacy", "mironov"] as const;
export type Conversion = (typeof CONVERSIONS)[number];

export interface EpsilonResult {
  epsilon: number;
  bestOrder: number; // NaN when no order gives a finite ε
}

function epsilonAt(conversion: Conversion, alpha: number, rdp: number, delta: number): number {
  const logDelta = Math.log(delta);
  switch (conversion) {
    case "opacus":
      return rdp - (logDelta + Math.log(alpha)) / (alpha - 1) + Math.log((alpha - 1) / alpha);
    case "tf-privacy":
      if (delta * delta + Math.expm1(-rdp) > 0) return 0;
      if (alpha > 1.01) return rdp + Math.log1p(-1 / alpha) - Math.log(delta * alpha) / (alpha - 1);
      return Infinity;
    case "mironov":
      return rdp - logDelta / (alpha - 1);
  }
}

// orders and rdp: shape [n], rdp[k] the (composed) RDP at orders[k].
export function epsilonFromRdp(orders: readonly number[], rdp: ArrayLike<number>, delta: number, conversion: Conversion = "opacus"): EpsilonResult {
  checkDelta(delta);
  if (orders.length !== rdp.length || orders.length === 0) throw new PrivacyError("E_PRIVACY", `need one RDP value per order, got ${orders.length} orders and ${rdp.length} values`);
  let best = Infinity, bestOrder = NaN;
  for (let k = 0; k < orders.length; k++) {
    const eps = epsilonAt(conversion, orders[k], rdp[k], delta);
    if (eps < best) { // strict: the first of equal orders wins, like numpy's argmin
      best = eps;
      bestOrder = orders[k];
    }
  }
  return { epsilon: Math.max(0, best), bestOrder };
}
