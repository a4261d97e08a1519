// Federated rounds with every client in this process: the coordinator's code as the broker-
// driven run uses it, clients trained one after another on one LoraTrainer (each from the
// global parameters, fresh optimizer state, its own batch order). For measurements at scale
// (hundreds of homes: split the data further) and for planning a real run.
//
//   simulateRound(...) → the coordinator's RoundResult, plus bytes a client would move.
import type { Rows } from "../train/finetune-data.js";
import type { KeptClient, LoraTrainer } from "../train/finetune.js";
import { localDp } from "../privacy/dp.js";
import { GaussianRng } from "../privacy/gaussian.js";
import type { Coordinator, RoundResult } from "./coordinator.js";
import type { Example } from "../commands/examples.js";
import type { MezoTrainer } from "../train/mezo.js";
import { aggregateScalars, localRound, replayAggregate, scalarProblem, type ScalarUpdate, type SeedPool } from "./seed-scalar.js";

export interface SimClient { id: string; rows: Rows }

export interface LocalRecipe {
  steps: number;              // local optimizer steps per round
  localDp?: { clip: number; noise: number }; // clip and noise on the device before the update leaves
  // Clients keep their AdamW state between rounds, and the rate follows one cosine over the run's
  // rounds × steps: a client's run is then a piece of one continuous optimization.
  kept?: { rounds: number; clients: Map<string, KeptClient> };
}

export interface SimRound extends RoundResult { bytesPerClient: number }

// Rows [from, to) of a set, as a set of their own.
export function sliceRows(r: Rows, from: number, to: number): Rows {
  const T = r.T;
  return {
    tokens: r.tokens.slice(from * T, to * T), targets: r.targets.slice(from * T, to * T), n: to - from, T,
    truncated: 0, labelled: r.labelled, from: r.from.slice(from, to), intentTo: r.intentTo.slice(from, to),
  };
}

// Each home's rows split into `parts` clients of (nearly) equal size: `home-k`.
export function splitClients(homes: readonly { id: string; rows: Rows }[], parts: number): SimClient[] {
  if (parts <= 1) return homes.map((h) => ({ id: h.id, rows: h.rows }));
  return homes.flatMap((h) => Array.from({ length: parts }, (_, k) => ({
    id: `${h.id}-${k}`, rows: sliceRows(h.rows, Math.floor((k * h.rows.n) / parts), Math.floor(((k + 1) * h.rows.n) / parts)),
  }))).filter((c) => c.rows.n > 0);
}

export function simulateRound(coordinator: Coordinator, trainer: LoraTrainer, clients: readonly SimClient[], recipe: LocalRecipe, seed: number, now: number): SimRound | null {
  const byId = new Map(clients.map((c) => [c.id, c]));
  const ann = coordinator.startRound(clients.map((c) => c.id), now);
  if (!ann) return null;
  const global = coordinator.global;
  for (const id of ann.clients) {
    const c = byId.get(id)!;
    const schedule = { done: (ann.round - 1) * recipe.steps, total: (recipe.kept?.rounds ?? 1) * recipe.steps };
    const kept = recipe.kept && (recipe.kept.clients.get(id) ?? { moments: new Float32Array(2 * global.length), adamSteps: 0, schedule });
    trainer.beginLocal(global, (seed ^ Math.imul(ann.round, 0x27d4eb2d) ^ hash(id)) >>> 0, recipe.steps, kept && { ...kept, schedule });
    let loss = 0;
    for (let s = 0; s < recipe.steps; s++) loss += trainer.step(c.rows);
    if (recipe.kept) recipe.kept.clients.set(id, trainer.keptState(schedule));
    const local = trainer.lora;
    let delta: Float32Array = new Float32Array(global.length);
    for (let i = 0; i < delta.length; i++) delta[i] = local[i] - global[i];
    if (recipe.localDp) delta = localDp(delta, recipe.localDp.clip, recipe.localDp.noise, new GaussianRng((seed ^ hash(`${id}/${ann.round}`)) >>> 0)).update[0];
    coordinator.submit({ client: id, round: ann.round, examples: c.rows.n, delta, loss: loss / recipe.steps });
  }
  const r = coordinator.close();
  // A client fetches the global adapter and returns one update of the same size (f32).
  return { ...r, bytesPerClient: 2 * 4 * global.length };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export interface SeedScalarSim {
  clientTrainer: MezoTrainer;   // its engine runs every client in turn
  globalTrainer: MezoTrainer;   // holds the global adapter; validation runs on it
  pool: SeedPool;
  clients: readonly { id: string; examples: readonly Example[] }[];
  steps: number;                // MeZO steps per client per round
  lr: number;
}

// A seed-and-scalar round: the coordinator samples and books (its global is empty: the adapter
// moves by replay), clients return (index, g) pairs, the server replays their aggregate.
export function simulateSeedScalarRound(coordinator: Coordinator, sim: SeedScalarSim, seed: number, now: number): SimRound | null {
  const ann = coordinator.startRound(sim.clients.map((c) => c.id), now);
  if (!ann) return null;
  const byId = new Map(sim.clients.map((c) => [c.id, c]));
  const global = sim.globalTrainer.image().slice();
  const accepted: ScalarUpdate[] = [];
  for (const id of ann.clients) {
    const u = localRound(sim.clientTrainer, global, sim.pool, id, byId.get(id)!.examples, sim.steps, (seed ^ Math.imul(ann.round, 0x27d4eb2d) ^ hash(id)) >>> 0);
    const problem = scalarProblem(u, sim.pool, sim.steps);
    const refused = problem ? null : coordinator.submit({ client: id, round: ann.round, examples: u.examples, delta: new Float32Array(0), loss: u.loss });
    if (!problem && !refused) accepted.push(u);
  }
  const r = coordinator.close();
  const agg = aggregateScalars(accepted);
  replayAggregate(sim.globalTrainer, sim.pool, agg, sim.lr);
  // Up: (u32 index, f32 g) a step; down: the round's (u32 index, f32 G) list to replay.
  return { ...r, bytesPerClient: 8 * sim.steps + 8 * agg.index.length };
}
