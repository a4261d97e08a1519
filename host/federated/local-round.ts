// One client's local work in a round, the same code whether the client is simulated
// (simulate.ts) or a trainer on the fleet (trainer.ts): from the global parameters, `steps`
// optimizer steps on its own rows with a seed that depends on the run's seed, the round and the
// client's id, then Δ = θ_local − θ_global, clipped and noised on the device with local DP.
// So an MQTT round replays a simulated one exactly. No I/O.
import type { Rows } from "../train/finetune-data.js";
import type { KeptClient, LoraTrainer } from "../train/finetune.js";
import { localDp } from "../privacy/dp.js";
import { GaussianRng } from "../privacy/gaussian.js";

export interface LocalDp { clip: number; noise: number }

// Clients that keep their AdamW state between rounds (federate --keep-client-state): the state
// stays with the client (here: a map by client id) and the rate follows one cosine over the
// run's rounds × steps, so a client's rounds are pieces of one continuous optimization.
export interface KeptClients { rounds: number; clients: Map<string, KeptClient> }

export function hashId(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

// The client's own stream for a round: batch order (backprop), direction picks (mezo).
export function clientSeed(runSeed: number, round: number, id: string): number {
  return (runSeed ^ Math.imul(round, 0x27d4eb2d) ^ hashId(id)) >>> 0;
}

export function denseLocalRound(trainer: LoraTrainer, global: Float32Array, rows: Rows, steps: number, runSeed: number, round: number, id: string, dp?: LocalDp, kept?: KeptClients, proxMu = 0): { delta: Float32Array; loss: number } {
  const schedule = { done: (round - 1) * steps, total: (kept?.rounds ?? 1) * steps };
  const state = kept && (kept.clients.get(id) ?? { moments: new Float32Array(2 * global.length), adamSteps: 0, schedule });
  trainer.beginLocal(global, clientSeed(runSeed, round, id), steps, state && { ...state, schedule }, proxMu);
  let loss = 0;
  for (let s = 0; s < steps; s++) loss += trainer.step(rows);
  if (kept) kept.clients.set(id, trainer.keptState(schedule));
  const local = trainer.lora;
  let delta: Float32Array = new Float32Array(global.length);
  for (let i = 0; i < delta.length; i++) delta[i] = local[i] - global[i];
  if (dp) delta = localDp(delta, dp.clip, dp.noise, new GaussianRng((runSeed ^ hashId(`${id}/${round}`)) >>> 0)).update[0];
  return { delta, loss: loss / steps };
}
