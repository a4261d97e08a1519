// edgellm demo --federated: federated fine-tuning on one machine. The embedded broker, a
// coordinator (the one `federate --broker` runs) and one trainer per training home (what
// `serve --train-data` runs), every piece talking MQTT through the broker as on a real fleet;
// a few short rounds of a small adapter with live output: who was sampled, each home's local
// loss and upload, the verdicts, and after each round the global's validation scores.
import { basename, join } from "node:path";
import { existsSync, readdirSync } from "node:fs";
import { Coordinator } from "../federated/coordinator.js";
import { CoordinatorService } from "../federated/coordinator-service.js";
import { denseGlobal } from "../federated/global-model.js";
import { modelChecksum } from "../federated/local-trainer.js";
import { TrainThread } from "../federated/train-thread.js";
import type { FedTrainer } from "../federated/trainer.js";
import { PROJECT_ROOT } from "../engine/module.js";
import { Engine } from "../engine/engine.js";
import type { Logger } from "../fleet/log.js";
import type { Recipe } from "../fleet/messages.js";
import { tokenizeRows } from "../train/finetune-data.js";
import { LORA_TARGET_KINDS, LoraTrainer } from "../train/finetune.js";
import type { LoadedModel } from "../format/load.js";
import { UsageError } from "./errors.js";
import { labelledExamples } from "./federate-modes.js";

export interface FederatedDemoOptions {
  model: LoadedModel;
  homes?: string;           // directory of train-home*.tsv (and val-home*.tsv)
  rounds: number;
  clientsPerRound: number;
  localSteps: number;
  port: number;
  log: Logger;
}

export const DEFAULT_HOMES = join(PROJECT_ROOT, "..", "shared", "data", "home-commands");

export async function federatedDemo(o: FederatedDemoOptions): Promise<void> {
  const dir = o.homes ?? DEFAULT_HOMES;
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^train-home.*\.tsv$/.test(f)).sort() : [];
  if (files.length === 0) throw new UsageError(`--homes ${dir}: no train-home*.tsv files (the home-command data)`);
  const valFile = existsSync(dir) ? readdirSync(dir).filter((f) => /^val-home.*\.tsv$/.test(f)).sort()[0] : undefined;
  if (o.model.source !== "edgellm") throw new UsageError(`${o.model.path}: federated fine-tuning needs an edgellm model file`);
  const say = (s: string) => process.stdout.write(s + "\n");
  const { startEmbeddedBroker } = await import("../fleet/broker.js");
  const { FedTrainer } = await import("../federated/trainer.js");
  const broker = await startEmbeddedBroker(o.port, "127.0.0.1", o.log.child("broker"));
  say(`broker       ${broker.url} (embedded aedes, MQTT 3.1.1)`);
  const conn = { broker: broker.url, fleet: "demo-fed", protocolVersion: 4 as const };
  const recipe: Recipe = { method: "backprop", steps: o.localSteps, lr: 5e-3, batch: 8, seq: 48, seed: 1 };
  const base = modelChecksum(o.model);
  const trainers: FedTrainer[] = [];
  for (const f of files) {
    const id = basename(f, ".tsv").replace(/^train-/, "");
    const examples = labelledExamples(join(dir, f), "home data", "federated training takes");
    // One training thread per home, as each home's `serve --train-data` has.
    const t = await FedTrainer.start({ ...conn, id, local: new TrainThread(o.model.bytes, examples), log: o.log.child(id) });
    t.on("trained", (round, r) => say(`  ${id.padEnd(10)} round ${round}: ${r.examples} examples stay home; ${recipe.steps} steps in ${r.ms.toFixed(0)} ms, loss ${r.loss.toFixed(3)}; uploading ${r.bytes.length} bytes`));
    t.on("verdict", (round, a) => { if (a.status !== "accepted") say(`  ${id.padEnd(10)} round ${round}: ${a.status}${a.reason ? ` (${a.reason}: ${a.detail ?? ""})` : ""}`); });
    trainers.push(t);
  }
  say(`trainers     ${trainers.length} homes (${files[0]} … ${files.at(-1)}), each training on its own file`);
  const seq = Math.min(recipe.seq, o.model.image.config.seqLen);
  const trainer = new LoraTrainer(o.model.image, base, seq, { rank: 4, alpha: 4, targets: [...LORA_TARGET_KINDS], lr: recipe.lr, lrDecay: 1, weightDecay: 0, batch: recipe.batch, steps: recipe.steps, seed: recipe.seed });
  let val;
  if (valFile) {
    const ex = labelledExamples(join(dir, valFile), "validation file", "validation takes").slice(0, 200);
    val = tokenizeRows(Engine.load(o.model.bytes, undefined, { engine: "simd", ctx: 2 }), { kind: "labelled", examples: ex }, seq);
  }
  const model = denseGlobal(trainer, val);
  const coordinator = new Coordinator(model.initial, { clientsPerRound: o.clientsPerRound, roundMs: 120_000, server: "fedavg", seed: recipe.seed });
  const service = await CoordinatorService.start(coordinator, model, { ...conn, id: "coordinator", rounds: o.rounds, clientsPerRound: o.clientsPerRound, roundMs: 120_000, gatherMs: 5000, base, recipe, log: o.log.child("coordinator") });
  say(`coordinator  ${o.rounds} rounds × ${o.clientsPerRound} homes × ${recipe.steps} local steps, rank-4 adapter (${model.initial.length} parameters)${val ? `, validation: ${val.n} examples of ${valFile}` : ""}`);
  const started = performance.now();
  service.driver.on("started", (m) => say(`round ${m.round}      sampled ${m.clients.join(" ")}; global adapter ${m.global.bytes} bytes (CRC-32 ${m.global.crc32.toString(16).padStart(8, "0")})`));
  service.driver.on("refused", (r) => say(`  refused    ${r.client}: ${r.reason} (${r.detail})`));
  service.driver.on("closed", (r) => {
    const v = model.evaluate(coordinator);
    say(`round ${r.round} done ${r.accepted}/${r.sampled} updates averaged (${r.examples} examples), mean local loss ${r.meanLoss.toFixed(3)}, ${(r.bytesDown / 1024).toFixed(0)} KiB down, ${(r.bytesUp / 1024).toFixed(0)} KiB up${v ? `; validation loss ${v.loss.toFixed(3)}, exact ${(100 * v.exact).toFixed(1)} %, intent ${(100 * v.intent).toFixed(1)} %` : ""}`);
  });
  service.run();
  try {
    const why = await service.finished();
    say(`finished     ${why} in ${((performance.now() - started) / 1000).toFixed(1)} s; no example left its home, only updates`);
  } finally {
    await service.close();
    for (const t of trainers) await t.close();
    await broker.close();
  }
}
