// The privacy ledger of a federated run: one SGM step per round (clients sampled with rate q,
// their clipped updates summed with noise z·S). ε after any round comes from the composed RDP.
//
// Budget policy: a run stops *before* a round that would take ε past the budget, never after
// (wouldExceed), so the reported ε never exceeds what the user allowed; spent() tells a run
// that was resumed with a smaller budget that it has nothing left.
import { checkNoise, checkSampleRate, PrivacyError } from "./errors.js";
import { CONVERSIONS, epsilonFromRdp, type Conversion, type EpsilonResult } from "./conversion.js";
import { DEFAULT_ORDERS, sgmRdpSteps } from "./rdp.js";

export interface LedgerEntry {
  noise: number;
  sampleRate: number;
  steps: number;
}

export interface AccountantState {
  version: 1;
  orders: number[];
  conversion: Conversion;
  history: LedgerEntry[];
}

interface Run extends LedgerEntry {
  perStep: Float64Array; // RDP of one such round per order, shape [orders.length]
}

export class RdpAccountant {
  readonly orders: readonly number[];
  readonly conversion: Conversion;
  // Runs of identical rounds are kept as one entry: a 10 000-round run stays a short ledger, and
  // ε is Σ steps × (RDP of one step) over the runs, so a ledger replayed after a restart gives
  // bit-for-bit the ε of the uninterrupted run, whatever the rounding of repeated additions.
  private readonly runs: Run[] = [];

  constructor(orders: readonly number[] = DEFAULT_ORDERS, conversion: Conversion = "opacus") {
    if (orders.length === 0 || orders.some((a) => !(a > 1))) throw new PrivacyError("E_PRIVACY", "RDP orders must be a non-empty list of numbers > 1");
    this.orders = Object.freeze([...orders]);
    this.conversion = conversion;
  }

  // Records `steps` rounds with noise multiplier z and client sample rate q.
  step(noise: number, sampleRate: number, steps = 1): void {
    checkNoise(noise);
    checkSampleRate(sampleRate);
    if (!Number.isInteger(steps) || steps < 0) throw new PrivacyError("E_PRIVACY", `steps must be a non-negative integer, got ${steps}`);
    if (steps === 0) return;
    const last = this.runs[this.runs.length - 1];
    if (last && last.noise === noise && last.sampleRate === sampleRate) last.steps += steps;
    else this.runs.push({ noise, sampleRate, steps, perStep: sgmRdpSteps(sampleRate, noise, 1, this.orders) });
  }

  get rounds(): number {
    return this.runs.reduce((n, e) => n + e.steps, 0);
  }

  // Composed RDP per order, shape [orders.length]; `extra` is a hypothetical next round.
  private composedRdp(extra?: { noise: number; sampleRate: number }): Float64Array {
    const runs = this.runs.map((r) => ({ steps: r.steps, perStep: r.perStep }));
    if (extra) {
      const last = this.runs[this.runs.length - 1];
      if (last && last.noise === extra.noise && last.sampleRate === extra.sampleRate) runs[runs.length - 1].steps++;
      else runs.push({ steps: 1, perStep: sgmRdpSteps(extra.sampleRate, extra.noise, 1, this.orders) });
    }
    const total = new Float64Array(this.orders.length);
    for (const r of runs) for (let k = 0; k < total.length; k++) total[k] += r.steps * r.perStep[k];
    return total;
  }

  epsilon(delta: number): EpsilonResult {
    return epsilonFromRdp(this.orders, this.composedRdp(), delta, this.conversion);
  }

  // ε if one more round with these parameters ran; the ledger is unchanged.
  epsilonAfter(noise: number, sampleRate: number, delta: number): EpsilonResult {
    checkNoise(noise);
    checkSampleRate(sampleRate);
    return epsilonFromRdp(this.orders, this.composedRdp({ noise, sampleRate }), delta, this.conversion);
  }

  wouldExceed(noise: number, sampleRate: number, delta: number, budget: number): boolean {
    return this.epsilonAfter(noise, sampleRate, delta).epsilon > budget;
  }

  spent(delta: number, budget: number): boolean {
    return this.epsilon(delta).epsilon >= budget;
  }

  toJSON(): AccountantState {
    return { version: 1, orders: [...this.orders], conversion: this.conversion, history: this.runs.map(({ noise, sampleRate, steps }) => ({ noise, sampleRate, steps })) };
  }
  // A resumed run replays the ledger, so its ε continues exactly where it stopped.
  static fromJSON(state: unknown): RdpAccountant {
    const bad = (what: string): never => { throw new PrivacyError("E_PRIVACY_STATE", `privacy ledger: ${what}`); };
    if (typeof state !== "object" || state === null) return bad("not an object");
    const s = state as Partial<AccountantState>;
    if (s.version !== 1) bad(`unsupported version ${String(s.version)}`);
    if (!Array.isArray(s.orders) || !s.orders.every((a) => typeof a === "number" && a > 1)) bad("orders must be numbers > 1");
    if (!CONVERSIONS.includes(s.conversion as Conversion)) bad(`unknown conversion ${String(s.conversion)}`);
    if (!Array.isArray(s.history)) bad("history must be a list");
    const acc = new RdpAccountant(s.orders as number[], s.conversion as Conversion);
    for (const e of s.history as unknown[]) {
      const { noise, sampleRate, steps } = (e ?? {}) as Partial<LedgerEntry>;
      if (typeof noise !== "number" || typeof sampleRate !== "number" || typeof steps !== "number") bad("each history entry needs noise, sampleRate and steps");
      try {
        acc.step(noise as number, sampleRate as number, steps as number);
      } catch (err) {
        bad(err instanceof Error ? err.message : String(err));
      }
    }
    return acc;
  }
}
