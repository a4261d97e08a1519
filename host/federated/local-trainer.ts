// A trainer's compute for one round, no I/O: from the announced recipe and the fetched global
// adapter file to the update's wire bytes. Backprop: a LoraTrainer of the adapter's rank,
// alpha and targets (built once per shape of recipe and kept), Δ = θ_local − θ_global as f32,
// clipped and noised here with local DP; with the recipe's keepState, the client's AdamW state
// stays here between rounds (in memory: a restarted trainer starts fresh). MeZO: a MezoTrainer
// on an engine holding the global, the round's (seed index, g) pairs. The same local-round code
// as the simulation (local-round.ts, seed-scalar.ts), so a client's update is the one a simulated
// client makes.
import { Engine } from "../engine/engine.js";
import type { Example } from "../commands/examples.js";
import { readAdapter } from "../format/adapter-reader.js";
import type { LoadedModel } from "../format/load.js";
import { CHECKSUM_OFFSET } from "../format/spec.js";
import type { Recipe, TrainMethod } from "../fleet/messages.js";
import { tokenizeRows, type Rows } from "../train/finetune-data.js";
import { adapterTargets, LoraTrainer, type KeptClient } from "../train/finetune.js";
import { MezoTrainer } from "../train/mezo.js";
import { f32ToBytes, pairsToBytes } from "./chunks.js";
import { clientSeed, denseLocalRound, type KeptClients } from "./local-round.js";
import { localRound, SeedPool } from "./seed-scalar.js";

export interface LocalResult { method: TrainMethod; bytes: Uint8Array; examples: number; loss: number; ms: number }

// What a trainer needs of its compute: here (LocalTrainer via inProcess) or in a worker thread
// (train-thread.ts), so that a long local round never stalls the process's MQTT connections.
export interface LocalWork {
  readonly base: number;             // the base model's checksum
  readonly methods: TrainMethod[];
  readonly examples: number;         // |D_k|
  train(id: string, round: number, recipe: Recipe, global: Uint8Array): Promise<LocalResult>;
  close(): Promise<void>;
}

export function inProcess(t: LocalTrainer): LocalWork {
  return { base: t.base, methods: t.methods, examples: t.examples.length, train: async (...a) => t.train(...a), close: async () => undefined };
}

// The model as the trainer needs it: its bytes (edgellm format) and the parsed image.
export type TrainerModel = Pick<LoadedModel, "bytes" | "image">;

export class LocalTrainerError extends Error {}

export function modelChecksum(m: Pick<LoadedModel, "bytes">): number {
  return new DataView(m.bytes.buffer, m.bytes.byteOffset, m.bytes.length).getUint32(CHECKSUM_OFFSET, true);
}

export class LocalTrainer {
  readonly base: number;
  private dense: { key: string; trainer: LoraTrainer } | null = null;
  private mezo: { key: string; trainer: MezoTrainer } | null = null;
  private pool: { key: string; pool: SeedPool } | null = null;
  private rows: { T: number; rows: Rows } | null = null;
  private tokenizer: Engine | null = null;
  // recipe.keepState: this client's AdamW state after the rounds it trained (the last two), for
  // the run (recipe and adapter shape) it was made in.
  private kept: { run: string; after: Map<number, KeptClient> } | null = null;

  constructor(private readonly model: TrainerModel, readonly examples: readonly Example[]) {
    if (examples.length === 0) throw new LocalTrainerError("no training examples");
    this.base = modelChecksum(model);
  }

  get methods(): TrainMethod[] { return ["backprop", "mezo"]; }

  // One round's work; throws LocalTrainerError when the global or recipe cannot be trained here.
  train(id: string, round: number, recipe: Recipe, global: Uint8Array): LocalResult {
    const t0 = performance.now();
    const r = recipe.method === "mezo" ? this.trainMezo(id, round, recipe, global) : this.trainDense(id, round, recipe, global);
    return { ...r, ms: performance.now() - t0 };
  }

  private trainDense(id: string, round: number, recipe: Recipe, global: Uint8Array): Omit<LocalResult, "ms"> {
    const ad = readAdapter(global, "the global adapter");
    if (ad.base.checksum !== this.base) throw new LocalTrainerError(`the global adapter is for another base model`);
    const targets = adapterTargets(ad);
    const seq = Math.min(recipe.seq, this.model.image.config.seqLen);
    const key = JSON.stringify([ad.rank, ad.alpha, targets, seq, recipe.batch, recipe.lr]);
    if (this.dense?.key !== key) {
      this.dense = { key, trainer: new LoraTrainer(this.model.image, this.base, seq, { rank: ad.rank, alpha: ad.alpha, targets, lr: recipe.lr, lrDecay: 1, weightDecay: 0, batch: recipe.batch, steps: recipe.steps, seed: recipe.seed }) };
    }
    const t = this.dense.trainer;
    t.setAdapter(ad);
    const start = t.lora.slice();
    const rows = this.rowsFor(seq);
    const kept = recipe.keepState && this.keptBefore(JSON.stringify([key, recipe]), id, round, recipe.keepState.rounds);
    const { delta, loss } = denseLocalRound(t, start, rows, recipe.steps, recipe.seed, round, id, recipe.localDp, kept || undefined, recipe.proxMu);
    if (kept) this.kept!.after.set(round, kept.clients.get(id)!);
    return { method: "backprop", bytes: f32ToBytes(delta), examples: rows.n, loss };
  }

  // The state a kept client starts round `round` from: the one after the latest round before it
  // that it trained in, as a simulated kept client's (local-round.ts KeptClients). States from
  // this round on are dropped: a round trained again (its coordinator resumed mid-round) starts
  // where it first did. Another run's recipe or adapter shape starts fresh.
  private keptBefore(run: string, id: string, round: number, rounds: number): KeptClients {
    if (this.kept?.run !== run) this.kept = { run, after: new Map() };
    const after = this.kept.after;
    for (const r of [...after.keys()]) if (r >= round) after.delete(r);
    const last = Math.max(0, ...after.keys());
    for (const r of [...after.keys()]) if (r !== last) after.delete(r);
    const state = after.get(last);
    return { rounds, clients: new Map(state ? [[id, state]] : []) };
  }

  private trainMezo(id: string, round: number, recipe: Recipe, global: Uint8Array): Omit<LocalResult, "ms"> {
    const m = recipe.mezo;
    if (!m) throw new LocalTrainerError("a mezo recipe without its seed pool");
    if (recipe.localDp) throw new LocalTrainerError("local DP is not defined for seed-and-scalar updates");
    const ad = readAdapter(global, "the global adapter");
    if (ad.base.checksum !== this.base) throw new LocalTrainerError(`the global adapter is for another base model`);
    const seq = Math.min(recipe.seq, this.model.image.config.seqLen);
    const key = JSON.stringify([global.length, seq, recipe.batch, recipe.lr, m.eps]);
    if (this.mezo?.key !== key) {
      const e = Engine.load(this.model.bytes, undefined, { engine: "simd", ctx: seq });
      e.loadAdapter(global, 1);
      this.mezo = { key, trainer: new MezoTrainer(e, global.length, this.examples, { eps: m.eps, lr: recipe.lr, batch: recipe.batch, seed: BigInt(recipe.seed) }) };
    }
    const poolKey = `${m.pool}/${m.poolSeed}`;
    if (this.pool?.key !== poolKey) this.pool = { key: poolKey, pool: new SeedPool(m.pool, m.poolSeed) };
    const u = localRound(this.mezo.trainer, global, this.pool.pool, id, this.examples, recipe.steps, clientSeed(recipe.seed, round, id));
    return { method: "mezo", bytes: pairsToBytes(u.index, u.grad), examples: u.examples, loss: u.loss };
  }

  private rowsFor(T: number): Rows {
    if (this.rows?.T !== T) {
      this.tokenizer ??= Engine.load(this.model.bytes, undefined, { engine: "simd", ctx: 2 });
      this.rows = { T, rows: tokenizeRows(this.tokenizer, { kind: "labelled", examples: [...this.examples] }, T) };
    }
    return this.rows.rows;
  }
}
