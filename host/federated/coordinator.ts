// The federated coordinator's brain, free of I/O: rounds, who takes part, which updates count,
// the aggregate, the privacy ledger. Time is given by the caller (`now`, ms); randomness comes
// from seeded generators, so a run replays exactly.
//
// A round: startRound(available clients) samples its clients (K uniformly at random, or, with
// client-level DP, each one independently with probability q: Poisson sampling, what the
// accountant assumes) and announces them with a deadline. Clients train on their own data and
// submit an update Δ = θ_local − θ_global with their example count |D_k|. submit() accepts an
// update only from a sampled client, for the open round, once, of the global's shape, finite and
// with a positive count; anything else is refused with a reason and never touches the average.
// close() (at the deadline, or when every sampled client answered: due()) aggregates what was
// accepted: FedAvg weighted by |D_k| (Σ n_k Δ_k / Σ n_k), or with DP the DP-FedAvg estimator
// (clip to S, sum, N(0, (zS)²), divide by qN: host/privacy/dp.ts) and one more SGM step in the
// ledger. The server optimizer (FedAvg or FedAdam) then moves the global parameters. A client
// that never answers costs the round nothing but its own update.
import { RdpAccountant, type AccountantState } from "../privacy/accountant.js";
import { aggregateDpFedAvg } from "../privacy/dp.js";
import { GaussianRng } from "../privacy/gaussian.js";
import { TypedEmitter } from "../fleet/events.js";
import { prng } from "../train/corpus.js";
import { serverOptimizer, type ServerOptimizer, type ServerOptimizerName, type ServerOptimizerState } from "./server-optimizer.js";

export interface DpOptions {
  clip: number;        // S, the L2 bound on one client's update
  noise: number;       // z: σ = z·S on the sum
  delta: number;
  epsilon: number;     // budget: no round starts that would take ε past it (Infinity: none)
  sampleRate: number;  // q, Poisson client sampling
}

export interface CoordinatorOptions {
  clientsPerRound: number;   // K (without DP; with DP the expected count is q·N)
  roundMs: number;           // deadline after the announcement
  server: ServerOptimizerName;
  serverLr?: number;         // FedAvg's η_s (1) or FedAdam's rate (1e-2)
  dp?: DpOptions;
  seed: number;
}

export interface Announcement { round: number; clients: string[]; deadlineAt: number }

export interface ClientUpdate {
  client: string;
  round: number;
  examples: number;      // |D_k|: the weight of this update in FedAvg
  delta: Float32Array;   // θ_local − θ_global, the global's length
  loss?: number;         // the client's mean training loss, for the log
}

// The last three are the transport's (host/federated/round-driver.ts): pieces that cannot make an update.
export type RefusalReason = "late" | "early" | "not-sampled" | "duplicate" | "shape" | "non-finite" | "examples" | "checksum" | "method" | "malformed";

export interface Refusal { client: string; round: number; reason: RefusalReason; detail: string }

export interface RoundResult {
  round: number;
  sampled: number;
  accepted: number;
  refused: Refusal[];
  examples: number;         // Σ |D_k| of the accepted
  meanLoss: number;         // of the accepted updates that reported one (NaN: none)
  epsilon?: number;         // after this round (DP runs)
  clipped?: number;         // accepted updates the clip scaled down
}

export interface CoordinatorState {
  version: 1;
  round: number;            // rounds closed
  optimizer: ServerOptimizerState;
  privacy?: AccountantState;
}

export interface CoordinatorEvents {
  refused: (r: Refusal) => void;
}

export class CoordinatorError extends Error {}

export class Coordinator extends TypedEmitter<CoordinatorEvents> {
  readonly global: Float32Array;
  readonly accountant: RdpAccountant | null;
  private readonly optimizer: ServerOptimizer;
  private roundsClosed = 0;
  private open: { round: number; clients: Set<string>; population: number; deadlineAt: number; updates: Map<string, ClientUpdate> } | null = null;
  private readonly refusedThisRound: Refusal[] = [];

  constructor(initial: Float32Array, private readonly o: CoordinatorOptions, saved?: CoordinatorState) {
    super();
    if (!(Number.isInteger(o.clientsPerRound) && o.clientsPerRound >= 1)) throw new CoordinatorError(`clients per round must be a positive integer, got ${o.clientsPerRound}`);
    if (o.dp && !(o.dp.sampleRate > 0 && o.dp.sampleRate <= 1)) throw new CoordinatorError(`client sample rate must be in (0, 1], got ${o.dp.sampleRate}`);
    this.global = initial.slice();
    this.optimizer = serverOptimizer(o.server, initial.length, saved?.optimizer, o.serverLr);
    this.accountant = o.dp ? (saved?.privacy ? RdpAccountant.fromJSON(saved.privacy) : new RdpAccountant()) : null;
    this.roundsClosed = saved?.round ?? 0;
  }

  get round(): number { return this.roundsClosed; }
  get epsilon(): number { return this.accountant && this.o.dp ? this.accountant.epsilon(this.o.dp.delta).epsilon : 0; }

  // Whether the privacy budget lets one more round run.
  budgetAllowsRound(): boolean {
    const dp = this.o.dp;
    return !dp || !this.accountant || !this.accountant.wouldExceed(dp.noise, dp.sampleRate, dp.delta, dp.epsilon);
  }

  // Samples this round's clients from those available (sorted, so the draw does not depend on
  // the order they connected in). Returns null when the budget is spent.
  startRound(available: readonly string[], now: number): Announcement | null {
    if (this.open) throw new CoordinatorError(`round ${this.open.round} is still open`);
    if (!this.budgetAllowsRound()) return null;
    const round = this.roundsClosed + 1;
    const pool = [...new Set(available)].sort();
    const random = prng((this.o.seed ^ Math.imul(round, 0x9e3779b1)) >>> 0);
    let clients: string[];
    if (this.o.dp) {
      clients = pool.filter(() => random() < this.o.dp!.sampleRate);
    } else {
      for (let i = pool.length - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [pool[i], pool[j]] = [pool[j], pool[i]]; }
      clients = pool.slice(0, this.o.clientsPerRound).sort();
    }
    const deadlineAt = now + this.o.roundMs;
    this.open = { round, clients: new Set(clients), population: pool.length, deadlineAt, updates: new Map() };
    this.refusedThisRound.length = 0;
    return { round, clients, deadlineAt };
  }

  submit(u: ClientUpdate): Refusal | null {
    const refuse = (reason: RefusalReason, detail: string): Refusal => {
      const r = { client: u.client, round: u.round, reason, detail };
      this.refusedThisRound.push(r);
      this.emit("refused", r);
      return r;
    };
    const open = this.open;
    if (!open || u.round < open.round) return refuse("late", `round ${u.round} is closed`);
    if (u.round > open.round) return refuse("early", `round ${u.round} has not started (open: ${open.round})`);
    if (!open.clients.has(u.client)) return refuse("not-sampled", `${u.client} was not sampled for round ${u.round}`);
    if (open.updates.has(u.client)) return refuse("duplicate", `${u.client} already sent its update for round ${u.round}`);
    if (!(u.delta instanceof Float32Array) || u.delta.length !== this.global.length) return refuse("shape", `the update has ${u.delta?.length} numbers, the global adapter ${this.global.length}`);
    for (let i = 0; i < u.delta.length; i++) if (!Number.isFinite(u.delta[i])) return refuse("non-finite", `number ${i} of the update is ${u.delta[i]}`);
    if (!(Number.isInteger(u.examples) && u.examples >= 1)) return refuse("examples", `example count ${u.examples} is not a positive integer`);
    open.updates.set(u.client, u);
    return null;
  }

  // The open round may close: its deadline passed, or every sampled client answered.
  due(now: number): boolean {
    const open = this.open;
    return open !== null && (now >= open.deadlineAt || open.updates.size === open.clients.size);
  }

  close(): RoundResult {
    const open = this.open;
    if (!open) throw new CoordinatorError("no round is open");
    const updates = [...open.updates.values()].sort((a, b) => (a.client < b.client ? -1 : 1));
    const examples = updates.reduce((s, u) => s + u.examples, 0);
    const losses = updates.filter((u) => u.loss !== undefined && Number.isFinite(u.loss));
    const result: RoundResult = {
      round: open.round, sampled: open.clients.size, accepted: updates.length, refused: [...this.refusedThisRound], examples,
      meanLoss: losses.length ? losses.reduce((s, u) => s + u.loss!, 0) / losses.length : NaN,
    };
    const dp = this.o.dp;
    if (dp && this.accountant) {
      const agg = aggregateDpFedAvg(updates.map((u) => [u.delta]), [this.global.length], {
        clipNorm: dp.clip, noise: dp.noise, sampleRate: dp.sampleRate, population: Math.max(1, open.population),
        rng: new GaussianRng((this.o.seed ^ Math.imul(open.round, 0x85ebca6b)) >>> 0),
      });
      this.optimizer.apply(this.global, agg.update[0]);
      this.accountant.step(dp.noise, dp.sampleRate);
      result.epsilon = this.accountant.epsilon(dp.delta).epsilon;
      result.clipped = agg.clippedCount;
    } else if (examples > 0) {
      const mean = new Float32Array(this.global.length); // Σ n_k Δ_k / Σ n_k
      for (const u of updates) { const w = u.examples / examples; for (let i = 0; i < mean.length; i++) mean[i] += w * u.delta[i]; }
      this.optimizer.apply(this.global, mean);
    }
    this.roundsClosed = open.round;
    this.open = null;
    return result;
  }

  state(): CoordinatorState {
    return { version: 1, round: this.roundsClosed, optimizer: this.optimizer.state(), ...(this.accountant ? { privacy: this.accountant.toJSON() } : {}) };
  }
}
