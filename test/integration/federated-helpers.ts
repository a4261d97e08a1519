// Shared by the federated integration tests: tiny rounds (rank 2, a few local steps, a few dozen
// examples per home) on the repository's default model, a coordinator and trainers in this
// process or as CLI child processes, and an observer that reads every update and verdict off the
// broker so a test can check that the global moved by exactly the average of the accepted updates.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Example } from "../../host/commands/examples.js";
import { Assembler, bytesToF32 } from "../../host/federated/chunks.js";
import { Coordinator, type DpOptions } from "../../host/federated/coordinator.js";
import { CoordinatorService } from "../../host/federated/coordinator-service.js";
import { denseGlobal } from "../../host/federated/global-model.js";
import { inProcess, LocalTrainer, modelChecksum } from "../../host/federated/local-trainer.js";
import { FedTrainer } from "../../host/federated/trainer.js";
import { b64, type Recipe, type Update } from "../../host/fleet/messages.js";
import { topics } from "../../host/fleet/topics.js";
import { Transport } from "../../host/fleet/transport.js";
import { loadModel } from "../../host/cli/model-source.js";
import { LORA_TARGET_KINDS, LoraTrainer } from "../../host/train/finetune.js";
import { CLI, captureLog, until } from "./fleet-helpers.js";

export const SEQ = 32;
export const RECIPE: Recipe = { method: "backprop", steps: 3, lr: 5e-3, batch: 4, seq: SEQ, seed: 5 };

export const baseModel = (() => { let m: ReturnType<typeof loadModel> | null = null; return () => (m ??= loadModel(undefined, undefined)); })();

const AREAS = ["kitchen", "garage", "bedroom", "office", "attic", "porch"];
// A home's examples: commands in the shape of ../shared/data/home-commands, different per home.
export function homeExamples(home: number, n = 24): Example[] {
  return Array.from({ length: n }, (_, i) => {
    const area = AREAS[(home + i) % AREAS.length], on = (i + home) % 2 === 0;
    return { sentence: `${on ? "turn on" : "switch off"} the ${area} lights`, label: `${on ? "HassTurnOn" : "HassTurnOff"} ; area=${area} ; domain=light` };
  });
}

export function writeHome(home: number): string {
  const p = join(mkdtempSync(join(tmpdir(), "edgellm-fed-")), `home${home}.tsv`);
  writeFileSync(p, homeExamples(home).map((e) => `${e.sentence}\t${e.label}`).join("\n") + "\n");
  return p;
}

export interface Auth { username: string; password: string }

export async function startCoordinator(broker: string, fleet: string, o: { rounds: number; clientsPerRound: number; roundMs: number; gatherMs?: number; dp?: DpOptions; auth?: Auth }) {
  const m = baseModel();
  const trainer = new LoraTrainer(m.image, modelChecksum(m), SEQ, { rank: 2, alpha: 2, targets: [...LORA_TARGET_KINDS], lr: RECIPE.lr, lrDecay: 1, weightDecay: 0, batch: RECIPE.batch, steps: RECIPE.steps, seed: RECIPE.seed });
  const model = denseGlobal(trainer, undefined);
  const coordinator = new Coordinator(model.initial, { clientsPerRound: o.clientsPerRound, roundMs: o.roundMs, server: "fedavg", seed: RECIPE.seed, dp: o.dp });
  const service = await CoordinatorService.start(coordinator, model, {
    broker, fleet, id: "coord", rounds: o.rounds, clientsPerRound: o.clientsPerRound, roundMs: o.roundMs, gatherMs: o.gatherMs ?? 500, base: modelChecksum(m), recipe: RECIPE, log: captureLog("coord").log, ...o.auth,
  });
  return { coordinator, service, model };
}

export function startTrainer(broker: string, fleet: string, id: string, home: number, auth?: Auth): Promise<FedTrainer> {
  return FedTrainer.start({ broker, fleet, id, local: inProcess(new LocalTrainer(baseModel(), homeExamples(home))), chunkBytes: 16384, fetchRetryMs: 1000, ackWaitMs: 1500, log: captureLog(id).log, ...auth });
}

// `edgellm serve --train-data` as a child process.
export function spawnTrainer(broker: string, fleet: string, id: string, home: number): ChildProcess {
  return spawn(process.execPath, [CLI, "serve", "--broker", broker, "--fleet", fleet, "--id", id, "--train-data", writeHome(home), "--log-level", "info"], { stdio: ["ignore", "ignore", "pipe"] });
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
    // 30 s: after a broker restart the view completes only when the trainers' re-sent parts arrive.
    await until(have, 30_000, `the observer's view of round ${round}`);
  }
  accepted(round: number): string[] { return [...this.verdicts].filter(([k, s]) => k.startsWith(`${round}/`) && s === "accepted").map(([k]) => k.split("/")[1]).sort(); }

  // The global after `round` must be the one before it plus Σ n_k Δ_k / Σ n_k over the accepted.
  checkAverage(round: number, before: Float32Array, after: Float32Array, acc = this.accepted(round)): void {
    const sum = new Float64Array(before.length);
    let n = 0;
    for (const c of acc) {
      const e = this.updates.get(`${round}/${c}`);
      assert.ok(e?.asm.complete, `round ${round}: the observer holds ${c}'s whole update`);
      const d = bytesToF32(e.asm.result());
      for (let i = 0; i < d.length; i++) sum[i] += e.examples * d[i];
      n += e.examples;
    }
    let worst = 0;
    for (let i = 0; i < before.length; i++) worst = Math.max(worst, Math.abs(after[i] - (n ? Math.fround(before[i] + sum[i] / n) : before[i])));
    assert.ok(worst < 1e-6, `round ${round}: the global differs from the average of the ${acc.length} accepted updates by ${worst}`);
  }
  close(): Promise<void> { return this.t.close(); }
}

export function waitFor<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); })]).finally(() => clearTimeout(timer));
}
