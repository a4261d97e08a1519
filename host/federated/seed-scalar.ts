// Seed-and-scalar federated rounds (FedKSeed: Qin et al. 2024, "Federated full-parameter tuning
// of billion-sized language models with communication cost under 18 kilobytes"), for clients
// that train with MeZO (assembly/mezo): every direction z comes from one of K seeds every party
// shares, so a client's round is a list of (seed index, projected gradient) pairs, 8 bytes a
// step, and the global adapter moves by replaying the aggregate of those numbers.
//
//   client: from the global image, `steps` MeZO steps, each with z = z(pool[j]) for a j drawn
//           from its own stream → pairs (j, g)
//   server: G_j = Σ_k w_k Σ_{steps of k with index j} g   (w_k = |D_k| / Σ|D|: FedAvg's weights)
//           θ −= lr · Σ_j G_j z(pool[j]), in j order, by the module's replay: every party that
//           replays the round's (j, G_j) list gets the same bytes.
// No I/O; no clock.
import type { Example } from "../commands/examples.js";
import type { MezoTrainer } from "../train/mezo.js";
import { prng } from "../train/corpus.js";

export class SeedPool {
  readonly seeds: BigUint64Array;
  constructor(readonly size: number, seed: number) {
    const r = prng(seed ^ 0x5eed5eed);
    this.seeds = BigUint64Array.from({ length: size }, () => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
  }
}

export interface ScalarUpdate { client: string; examples: number; index: Uint32Array; grad: Float32Array; loss: number }

// One client's round on `trainer` (its engine holds an f32 adapter of the global's layout).
export function localRound(trainer: MezoTrainer, global: Uint8Array, pool: SeedPool, client: string, examples: readonly Example[], steps: number, seed: number): ScalarUpdate {
  trainer.setImage(global);
  trainer.useExamples(examples, BigInt(seed >>> 0));
  const pick = prng(seed ^ 0x9e3779b9);
  const index = new Uint32Array(steps), grad = new Float32Array(steps);
  let loss = 0;
  for (let s = 0; s < steps; s++) {
    const j = Math.floor(pick() * pool.size);
    const st = trainer.step({ seed: pool.seeds[j], t: 0 });
    index[s] = j; grad[s] = st.gradient;
    loss += (st.lossPlus + st.lossMinus) / 2;
  }
  return { client, examples: examples.length, index, grad, loss: loss / steps };
}

// The round's aggregate: (j, G_j) for every index some accepted client used, j ascending.
export function aggregateScalars(updates: readonly ScalarUpdate[]): { index: Uint32Array; grad: Float64Array } {
  const total = updates.reduce((s, u) => s + u.examples, 0);
  const sum = new Map<number, number>();
  for (const u of updates) {
    const w = u.examples / total;
    for (let s = 0; s < u.index.length; s++) sum.set(u.index[s], (sum.get(u.index[s]) ?? 0) + w * u.grad[s]);
  }
  const keys = [...sum.keys()].sort((a, b) => a - b);
  return { index: Uint32Array.from(keys), grad: Float64Array.from(keys, (k) => sum.get(k)!) };
}

// θ −= lr · Σ_j G_j z_j on the trainer's adapter (the global's holder, or a client catching up).
export function replayAggregate(trainer: MezoTrainer, pool: SeedPool, agg: { index: Uint32Array; grad: Float64Array }, lr: number): void {
  for (let i = 0; i < agg.index.length; i++) trainer.replay(pool.seeds[agg.index[i]], 0, -lr * agg.grad[i]);
}

// A refused update's reason, or null: shape and values, as the dense path checks them.
export function scalarProblem(u: ScalarUpdate, pool: SeedPool, maxSteps: number): string | null {
  if (u.index.length !== u.grad.length) return `${u.index.length} seed indices but ${u.grad.length} gradients`;
  if (u.index.length > maxSteps) return `${u.index.length} steps, more than the round's ${maxSteps}`;
  for (let s = 0; s < u.index.length; s++) {
    if (u.index[s] >= pool.size) return `seed index ${u.index[s]} is outside the pool of ${pool.size}`;
    if (!Number.isFinite(u.grad[s])) return `gradient ${s} is ${u.grad[s]}`;
  }
  if (!(Number.isInteger(u.examples) && u.examples >= 1)) return `example count ${u.examples} is not a positive integer`;
  return null;
}
