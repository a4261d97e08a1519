// The privacy ledger of a federated run: one SGM step per round (clients sampled with rate q,
// their clipped updates summed with noise z·S). ε after any round comes from the composed RDP.
//
// Budget policy: a run stops *before* a round that would take ε past the budget, never after
// (wouldExceed), so the reported ε never exceeds what the user allowed; spent() tells a run
// that was resumed with a smaller budget that it has nothing left.
import { checkDelta, checkNoise, checkSampleRate, PrivacyError } from "./errors.js";
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

export class RdpAccountant {
  readonly orders: readonly number[];
  readonly conversion: Conversion;
  // Runs of identical rounds are kept as one entry: a 10 000-round run stays a short ledger.
  private readonly history: LedgerEntry[] = [];
  // Composed RDP per order, shape [orders.length], kept current so epsilon() is cheap.
  private readonly rdp: Float64Array;

  constructor(orders: readonly number[] = DEFAULT_ORDERS, conversion: Conversion = "opacus") {
    if (orders.length === 0 || orders.some((a) => !(a > 1))) throw new PrivacyError("E_PRIVACY", "RDP orders must be a non-empty list of numbers > 1");
    this.orders = Object.freeze([...orders]);
    this.conversion = conversion;
    this.rdp = new Float64Array(orders.length);
  }

  // Records `steps` rounds with noise multiplier z and client sample rate q.
  step(noise: number, sampleRate: number, steps = 1): void {
    checkNoise(noise);
    checkSampleRate(sampleRate);
    if (!Number.isInteger(steps) || steps < 0) throw new PrivacyError("E_PRIVACY", `steps must be a non-negative integer, got ${steps}`);
    if (steps === 0) return;
    const add = sgmRdpSteps(sampleRate, noise, steps, this.orders);
    for (let k = 0; k < add.length; k++) this.rdp[k] += add[k];
    const last = this.history[this.history.length - 1];
    if (last && last.noise === noise && last.sampleRate === sampleRate) last.steps += steps;
    else this.history.push({ noise, sampleRate, steps });
  }

  get rounds(): number {
    return this.history.reduce((n, e) => n + e.steps, 0);
  }

  epsilon(delta: number): EpsilonResult {
    return epsilonFromRdp(this.orders, this.rdp, delta, this.conversion);
  }

  // ε if one more round with these parameters ran; the ledger is unchanged.
  epsilonAfter(noise: number, sampleRate: number, delta: number): EpsilonResult {
    checkNoise(noise);
    checkSampleRate(sampleRate);
    const next = sgmRdpSteps(sampleRate, noise, 1, this.orders);
    for (let k = 0; k < next.length; k++) next[k] += this.rdp[k];
    return epsilonFromRdp(this.orders, next, delta, this.conversion);
  }

  wouldExceed(noise: number, sampleRate: number, delta: number, budget: number): boolean {
    return this.epsilonAfter(noise, sampleRate, delta).epsilon > budget;
  }

  spent(delta: number, budget: number): boolean {
    checkDelta(delta);
    return this.epsilon(delta).epsilon >= budget;
  }

  toJSON(): AccountantState {
    return { version: 1, orders: [...this.orders], conversion: this.conversion, history: this.history.map((e) => ({ ...e })) };
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
