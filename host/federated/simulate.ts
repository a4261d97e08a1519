// Federated rounds with every client in this process: the coordinator's code as the broker-
// driven run uses it, clients trained one after another on one LoraTrainer (each from the
// global parameters, fresh optimizer state, its own batch order). For measurements at scale
// (hundreds of homes: split the data further) and for planning a real run.
//
//   simulateRound(...) → the coordinator's RoundResult, plus bytes a client would move.
import type { Rows } from "../train/finetune-data.js";
import type { LoraTrainer } from "../train/finetune.js";
import { clientSeed, denseLocalRound, type KeptClients, type LocalDp } from "./local-round.js";
import type { Coordinator, RoundResult } from "./coordinator.js";
import type { Example } from "../commands/examples.js";
import type { MezoTrainer } from "../train/mezo.js";
import { aggregateScalars, localRound, replayAggregate, scalarProblem, type ScalarUpdate, type SeedPool } from "./seed-scalar.js";

export interface SimClient { id: string; rows: Rows }

export interface LocalRecipe {
  steps: number;              // local optimizer steps per round
  localDp?: LocalDp;          // clip and noise on the device before the update leaves
  kept?: KeptClients;         // clients keep their AdamW state between rounds
  proxMu?: number;            // FedProx's proximal weight μ (0: plain FedAvg clients)
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
    const { delta, loss } = denseLocalRound(trainer, global, c.rows, recipe.steps, seed, ann.round, id, recipe.localDp, recipe.kept, recipe.proxMu);
    coordinator.submit({ client: id, round: ann.round, examples: c.rows.n, delta, loss });
  }
  const r = coordinator.close();
  // A client fetches the global adapter and returns one update of the same size (f32).
  return { ...r, bytesPerClient: 2 * 4 * global.length };
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
    const u = localRound(sim.clientTrainer, global, sim.pool, id, byId.get(id)!.examples, sim.steps, clientSeed(seed, ann.round, id));
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
