// A federated run over MQTT is the simulated run, byte for byte: the same Coordinator, the same
// local-round code, the same seeds. Two trainers on mosquitto and `simulateRound` /
// `simulateSeedScalarRound` with the same homes end with identical global adapters, for backprop
// (dense f32 updates in parts) and for MeZO (seed-and-scalar pairs replayed by the coordinator).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { Coordinator } from "../../host/federated/coordinator.js";
import { CoordinatorService } from "../../host/federated/coordinator-service.js";
import { scalarGlobal } from "../../host/federated/global-model.js";
import { modelChecksum } from "../../host/federated/local-trainer.js";
import { SeedPool } from "../../host/federated/seed-scalar.js";
import { simulateRound, simulateSeedScalarRound } from "../../host/federated/simulate.js";
import type { Recipe } from "../../host/fleet/messages.js";
import { tokenizeRows } from "../../host/train/finetune-data.js";
import { f32AdapterImage } from "../../host/train/finetune.js";
import { MezoTrainer } from "../../host/train/mezo.js";
import { captureLog, cliAsync } from "./fleet-helpers.js";
import { baseModel, closeAll, homeExamples, loraTrainer, RECIPE, RECIPE_ARGS, SEQ, startCoordinator, startTrainer, useMosquitto, waitFor, writeHome } from "./federated-helpers.js";
import { FedTrainer } from "../../host/federated/trainer.js";
import { inProcess, LocalTrainer } from "../../host/federated/local-trainer.js";

const mosquitto = useMosquitto();
const IDS = ["h1", "h2"];

test("backprop: 2 rounds over MQTT end with the simulated run's global, to the bit", { timeout: 60_000 }, async () => {
  const fleet = "fe", mosq = mosquitto();
  // h1 trains in this thread, h2 in a worker thread as `serve --train-data` does: the same bits.
  const trainers = [await startTrainer(mosq.url, fleet, "h1", 1), await startTrainer(mosq.url, fleet, "h2", 2, { thread: true })];
  const { coordinator, service } = await startCoordinator(mosq.url, fleet, { rounds: 2, clientsPerRound: 2, roundMs: 30_000 });
  service.run();
  await waitFor(service.finished(), 45_000, "2 rounds");
  await closeAll(service, ...trainers);

  const t = loraTrainer();
  const sim = new Coordinator(t.lora.slice(), { clientsPerRound: 2, roundMs: 1, server: "fedavg", seed: RECIPE.seed });
  const e = Engine.load(baseModel().bytes, undefined, { engine: "simd", ctx: 2 });
  const clients = IDS.map((id, i) => ({ id, rows: tokenizeRows(e, { kind: "labelled", examples: homeExamples(i + 1) }, SEQ) }));
  for (let r = 1; r <= 2; r++) simulateRound(sim, t, clients, { steps: RECIPE.steps }, RECIPE.seed, r);
  assert.ok(coordinator.global.some((v, i) => v !== loraTrainer().lora[i]), "training moved the global");
  assert.deepEqual([...coordinator.global], [...sim.global]);
});

test("mezo (seed-and-scalar): 2 rounds over MQTT end with the simulated run's adapter bytes", { timeout: 60_000 }, async () => {
  const fleet = "fk", mosq = mosquitto();
  const recipe: Recipe = { method: "mezo", steps: 20, lr: 1e-3, batch: 2, seq: SEQ, seed: 9, mezo: { eps: 1e-3, pool: 64, poolSeed: 9 } };
  const start = f32AdapterImage(loraTrainer());
  const holder = () => {
    const e = Engine.load(baseModel().bytes, undefined, { engine: "simd", ctx: SEQ });
    e.loadAdapter(start, 1);
    return new MezoTrainer(e, start.length, homeExamples(1), { eps: 1e-3, lr: recipe.lr, batch: recipe.batch, seed: BigInt(recipe.seed) });
  };
  const trainers = await Promise.all(IDS.map((id, i) => FedTrainer.start({ broker: mosq.url, fleet, id, local: inProcess(new LocalTrainer(baseModel(), homeExamples(i + 1))), chunkBytes: 2048, log: captureLog(id).log })));
  const model = scalarGlobal(holder(), new SeedPool(64, 9), recipe.steps, recipe.lr, undefined);
  const coordinator = new Coordinator(model.initial, { clientsPerRound: 2, roundMs: 30_000, server: "fedavg", seed: recipe.seed });
  const service = await CoordinatorService.start(coordinator, model, { broker: mosq.url, fleet, id: "coord", rounds: 2, clientsPerRound: 2, roundMs: 30_000, gatherMs: 500, base: modelChecksum(baseModel()), recipe, log: captureLog("coord").log });
  let up = 0;
  service.driver.on("closed", (r) => { up = Math.max(up, r.bytesUp); });
  service.run();
  await waitFor(service.finished(), 45_000, "2 rounds");
  const overMqtt = model.bytes(coordinator).slice();
  await closeAll(service, ...trainers);
  assert.equal(up, 2 * 8 * recipe.steps, "each client uploads 8 bytes a step");

  const g = holder();
  const sim = { clientTrainer: holder(), globalTrainer: g, pool: new SeedPool(64, 9), clients: IDS.map((id, i) => ({ id, examples: homeExamples(i + 1) })), steps: recipe.steps, lr: recipe.lr };
  const c = new Coordinator(new Float32Array(0), { clientsPerRound: 2, roundMs: 1, server: "fedavg", seed: recipe.seed });
  for (let r = 1; r <= 2; r++) simulateSeedScalarRound(c, sim, recipe.seed, r);
  const simulated = g.adapterBytes();
  assert.ok(!Buffer.from(simulated).equals(Buffer.from(start)), "training moved the adapter");
  assert.ok(Buffer.from(overMqtt).equals(Buffer.from(simulated)), "the same adapter bytes");
});

// --keep-client-state: each trainer keeps its AdamW state in memory between rounds (the recipe's
// keepState), as each simulated client keeps it in the simulation's map.
test("backprop, clients keeping their optimizer state: federate --broker writes federate --simulate's adapter, to the bit", { timeout: 90_000 }, async () => {
  const fleet = "fs", mosq = mosquitto(), dir = mkdtempSync(join(tmpdir(), "edgellm-fed-"));
  const homes = [1, 2], files = homes.map(writeHome); // home1.tsv, home2.tsv: the simulated clients home1, home2
  const trainers = [await startTrainer(mosq.url, fleet, "home1", 1), await startTrainer(mosq.url, fleet, "home2", 2, { thread: true })];
  const run = ["--rounds", "3", "--clients-per-round", "2", ...RECIPE_ARGS, "--keep-client-state", "--log-level", "warn"];
  let fleetRun: Awaited<ReturnType<typeof cliAsync>>;
  try {
    fleetRun = await cliAsync(["federate", "--broker", mosq.url, "--fleet", fleet, "-o", join(dir, "fleet.ella"), ...run, "--round-timeout", "30000", "--gather", "500", "--json"]);
  } finally {
    await closeAll(...trainers);
  }
  assert.equal(fleetRun.code, 0, fleetRun.stderr);
  assert.deepEqual(fleetRun.stdout.toString().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).clients), [2, 2, 2], "both trainers in every round");
  const sim = await cliAsync(["federate", "--simulate", "--data", ...files, "-o", join(dir, "sim.ella"), ...run]);
  assert.equal(sim.code, 0, sim.stderr);
  const fresh = await cliAsync(["federate", "--simulate", "--data", ...files, "-o", join(dir, "fresh.ella"), ...run.filter((a) => a !== "--keep-client-state")]);
  assert.equal(fresh.code, 0, fresh.stderr);
  const [overMqtt, simulated, withoutKept] = ["fleet", "sim", "fresh"].map((n) => readFileSync(join(dir, `${n}.ella`)));
  assert.ok(!simulated.equals(withoutKept), "kept state takes another path than fresh clients");
  assert.ok(overMqtt.equals(simulated), "the same adapter bytes");
});
