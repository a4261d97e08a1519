// Shared by the federated integration tests: tiny rounds (rank 2, a few local steps, a few dozen
// examples per home) on the repository's default model against one mosquitto per file; a
// coordinator and trainers in this process or as CLI child processes; and the average check —
// the global after a round must be the one before it plus Σ n_k Δ_k / Σ n_k over the accepted
// updates — fed either by an observer that reads every update and verdict off the broker, or by
// the trainers' own record of what they uploaded (TrainerRecord: a view no broker restart can cut).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import type { Example } from "../../host/commands/examples.js";
import { Assembler, bytesToF32 } from "../../host/federated/chunks.js";
import { Coordinator, type DpOptions } from "../../host/federated/coordinator.js";
import { CoordinatorService } from "../../host/federated/coordinator-service.js";
import { denseGlobal } from "../../host/federated/global-model.js";
import { inProcess, LocalTrainer, modelChecksum } from "../../host/federated/local-trainer.js";
import type { FedRoundResult } from "../../host/federated/round-driver.js";
import { TrainThread } from "../../host/federated/train-thread.js";
import { FedTrainer } from "../../host/federated/trainer.js";
import { b64, type Recipe, type Update } from "../../host/fleet/messages.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { topics } from "../../host/fleet/topics.js";
import { Transport } from "../../host/fleet/transport.js";
import { loadModel } from "../../host/cli/model-source.js";
import { LORA_TARGET_KINDS, LoraTrainer } from "../../host/train/finetune.js";
import { CLI, captureLog, until } from "./fleet-helpers.js";

export const SEQ = 32;
export const RECIPE: Recipe = { method: "backprop", steps: 3, lr: 5e-3, batch: 4, seq: SEQ, seed: 5 };
// The same rounds from the command line (federate --broker / --simulate), rank 2 on every matrix.
export const RECIPE_ARGS = ["--local-steps", String(RECIPE.steps), "--batch", String(RECIPE.batch), "--lr", String(RECIPE.lr), "--rank", "2", "--seq", String(SEQ), "--seed", String(RECIPE.seed)];

export const baseModel = (() => { let m: ReturnType<typeof loadModel> | null = null; return () => (m ??= loadModel(undefined, undefined)); })();

// A LoraTrainer of the shape every test trains (the coordinator's and the simulation's).
export const loraTrainer = (): LoraTrainer => {
  const m = baseModel();
  return new LoraTrainer(m.image, modelChecksum(m), SEQ, { rank: 2, alpha: 2, targets: [...LORA_TARGET_KINDS], lr: RECIPE.lr, lrDecay: 1, weightDecay: 0, batch: RECIPE.batch, steps: RECIPE.steps, seed: RECIPE.seed });
};

// One mosquitto for the test file, started before its tests and stopped after them.
export function useMosquitto(o?: Parameters<typeof startMosquitto>[0]): () => MosquittoProcess {
  let mosq: MosquittoProcess | undefined;
  before(async () => { mosq = await startMosquitto(o); });
  after(async () => { await mosq?.stop(); });
  return () => mosq!;
}

const AREAS = ["kitchen", "garage", "bedroom", "office", "attic", "porch"];
// A home's examples: commands in the shape of ../shared/data/home-commands, different per home.
export function homeExamples(home: number, n = 24): Example[] {
  return Array.from({ length: n }, (_, i) => {
    const area = AREAS[(home + i) % AREAS.length], on = (i + home) % 2 === 0;
    return { sentence: `${on ? "turn on" : "switch off"} the ${area} lights`, label: `${on ? "HassTurnOn" : "HassTurnOff"} ; area=${area} ; domain=light` };
  });
}

// homeExamples as a data file `home<N>.tsv` (a simulated client's id is the file's name).
export function writeHome(home: number): string {
  const p = join(mkdtempSync(join(tmpdir(), "edgellm-fed-")), `home${home}.tsv`);
  writeFileSync(p, homeExamples(home).map((e) => `${e.sentence}\t${e.label}`).join("\n") + "\n");
  return p;
}

export interface Auth { username: string; password: string }

export async function startCoordinator(broker: string, fleet: string, o: { rounds: number; clientsPerRound: number; roundMs: number; gatherMs?: number; dp?: DpOptions; auth?: Auth }) {
  const m = baseModel();
  const model = denseGlobal(loraTrainer(), undefined);
  const coordinator = new Coordinator(model.initial, { clientsPerRound: o.clientsPerRound, roundMs: o.roundMs, server: "fedavg", seed: RECIPE.seed, dp: o.dp });
  const service = await CoordinatorService.start(coordinator, model, {
    broker, fleet, id: "coord", rounds: o.rounds, clientsPerRound: o.clientsPerRound, roundMs: o.roundMs, gatherMs: o.gatherMs ?? 500, base: modelChecksum(m), recipe: RECIPE, log: captureLog("coord").log, ...o.auth,
  });
  return { coordinator, service, model };
}

// A trainer in this process on home `home`'s examples; `thread`: its compute in a worker thread,
// as `serve --train-data` runs it.
export function startTrainer(broker: string, fleet: string, id: string, home: number, o: { auth?: Auth; thread?: boolean } = {}): Promise<FedTrainer> {
  const local = o.thread ? new TrainThread(baseModel().bytes, homeExamples(home)) : inProcess(new LocalTrainer(baseModel(), homeExamples(home)));
  return FedTrainer.start({ broker, fleet, id, local, chunkBytes: 16384, fetchRetryMs: 1000, ackWaitMs: 1500, log: captureLog(id).log, ...o.auth });
}

// `edgellm serve --train-data` as a child process.
export function spawnTrainer(broker: string, fleet: string, id: string, home: number): ChildProcess {
  return spawn(process.execPath, [CLI, "serve", "--broker", broker, "--fleet", fleet, "--id", id, "--train-data", writeHome(home), "--log-level", "info"], { stdio: ["ignore", "ignore", "pipe"] });
}

// The global before each round and each round's result, as the coordinator's driver reports
// them; after(r): the global round r left (the one before r + 1, or the last one).
export function recordRounds(coordinator: Coordinator, service: CoordinatorService) {
  const befores = new Map<number, Float32Array>();
  const results: FedRoundResult[] = [];
  service.driver.on("started", (m) => befores.set(m.round, coordinator.global.slice()));
  service.driver.on("closed", (r) => results.push(r));
  return { results, before: (r: number) => befores.get(r)!, after: (r: number) => befores.get(r + 1) ?? coordinator.global };
}

export interface SeenUpdate { client: string; examples: number; delta: Float32Array }

// The global after `round` must be `before` plus Σ n_k Δ_k / Σ n_k over the accepted updates.
export function checkAverage(round: number, before: Float32Array, after: Float32Array, accepted: SeenUpdate[]): void {
  const sum = new Float64Array(before.length);
  let n = 0;
  for (const u of accepted) {
    assert.equal(u.delta.length, before.length, `round ${round}: ${u.client}'s update has the global's size`);
    for (let i = 0; i < u.delta.length; i++) sum[i] += u.examples * u.delta[i];
    n += u.examples;
  }
  let worst = 0;
  for (let i = 0; i < before.length; i++) worst = Math.max(worst, Math.abs(after[i] - (n ? Math.fround(before[i] + sum[i] / n) : before[i])));
  assert.ok(worst < 1e-6, `round ${round}: the global differs from the average of the ${accepted.length} accepted updates by ${worst}`);
}

// What trainers in this process trained, by round and client: the bytes each uploaded, from its
// own side of the wire.
export class TrainerRecord {
  private readonly updates = new Map<string, SeenUpdate>(); // `${round}/${client}`
  constructor(trainers: Record<string, FedTrainer>) {
    for (const [client, t] of Object.entries(trainers)) t.on("trained", (round, r) => this.updates.set(`${round}/${client}`, { client, examples: r.examples, delta: bytesToF32(r.bytes) }));
  }
  of(round: number, clients: string[]): SeenUpdate[] {
    return clients.map((c) => { const u = this.updates.get(`${round}/${c}`); assert.ok(u, `round ${round}: ${c} trained`); return u; });
  }
}

// Every update and verdict on the broker, by round and client.
export class Observer {
  readonly updates = new Map<string, { examples: number; asm: Assembler }>();   // `${round}/${client}`
  readonly verdicts = new Map<string, string>();                               // `${round}/${client}` → first status
  private constructor(readonly t: Transport) {}
  static async start(broker: string, fleet: string, auth?: Auth): Promise<Observer> {
    const t = await Transport.connect({ broker, clientId: `observer-${process.pid}-${Date.now()}`, log: captureLog("observer").log, ...auth });
    const o = new Observer(t);
    t.on("message", (route, m) => {
      if (route.dir === "fedpeer" && m.kind === "update") o.onUpdate(route.id, m);
      if (route.dir === "fedto" && m.kind === "ack" && m.status !== "incomplete" && !o.verdicts.has(`${m.round}/${route.id}`)) o.verdicts.set(`${m.round}/${route.id}`, m.status);
    });
    await t.subscribe([topics.allTrainers(fleet), `edgellm/v1/${fleet}/fedto/+/ack`]);
    return o;
  }
  private onUpdate(client: string, u: Update): void {
    const k = `${u.round}/${client}`;
    let e = this.updates.get(k);
    try { if (!e) { e = { examples: u.examples, asm: new Assembler(u.parts, u.bytes, u.partBytes) }; this.updates.set(k, e); } } catch { return; }
    e.asm.add(u.part, u.parts, u.bytes, b64.to(u.data), u.crc32);
  }
  // The broker delivers to the observer a little after the coordinator: wait for the round's
  // verdicts and the accepted updates' bytes (`clients`: when verdicts cannot be read, the ACL test).
  async settled(round: number, accepted: number, clients?: string[]): Promise<void> {
    const have = () => {
      const acc = clients ?? this.accepted(round);
      return acc.length >= accepted && acc.every((c) => this.updates.get(`${round}/${c}`)?.asm.complete);
    };
    await until(have, 30_000, `the observer's view of round ${round}`); // generous: CI machines are loaded
  }
  accepted(round: number): string[] { return [...this.verdicts].filter(([k, s]) => k.startsWith(`${round}/`) && s === "accepted").map(([k]) => k.split("/")[1]).sort(); }

  // The accepted updates (by their verdicts, or `acc`) as the observer rebuilt them.
  of(round: number, acc = this.accepted(round)): SeenUpdate[] {
    return acc.map((client) => {
      const e = this.updates.get(`${round}/${client}`);
      assert.ok(e?.asm.complete, `round ${round}: the observer holds ${client}'s whole update`);
      return { client, examples: e.examples, delta: bytesToF32(e.asm.result()) };
    });
  }
  close(): Promise<void> { return this.t.close(); }
}

// Closes what a test started, in order, each whatever the others do.
export async function closeAll(...things: ({ close(): Promise<unknown> } | undefined)[]): Promise<void> {
  for (const t of things) await t?.close().catch(() => undefined);
}

export function waitFor<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); })]).finally(() => clearTimeout(timer));
}
