// edgellm federate --broker URL: the coordinator of federated rounds on the fleet. Builds the
// global model (dense: the LoraTrainer's adapter; mezo: a MezoTrainer holding it), the pure
// Coordinator (resumed from the state beside -o), and the CoordinatorService that drives rounds
// over MQTT; after every round: one progress line (or a JSON line), the adapter and state saved
// atomically. Ctrl-C stops it after closing the announcement; --resume continues the run.
import { Engine } from "../engine/engine.js";
import { Coordinator, CoordinatorError } from "../federated/coordinator.js";
import { CoordinatorService } from "../federated/coordinator-service.js";
import { denseGlobal, scalarGlobal, type GlobalModel } from "../federated/global-model.js";
import type { FedRoundResult } from "../federated/round-driver.js";
import { SeedPool } from "../federated/seed-scalar.js";
import type { Recipe } from "../fleet/messages.js";
import { f32AdapterImage } from "../train/finetune.js";
import { MezoTrainer } from "../train/mezo.js";
import { UsageError } from "./errors.js";
import { loadRun, roundLine, saveRound, type FederateCommon, type FederateOptions } from "./federate-state.js";
import { connectionOptions, untilSignal } from "./fleet-options.js";

export async function runFleet(o: FederateOptions, c: FederateCommon, out: (line: string) => void = (l) => process.stdout.write(l + "\n")): Promise<void> {
  const conn = connectionOptions(o, `coordinator/${o.id}`);
  const mezo = o.method === "mezo";
  const loaded = loadRun(o.output, !!o.resume, { ...c.run, mode: "fleet" });
  const saved = loaded.saved, start = loaded.start ?? c.start;
  const recipe: Recipe = {
    method: o.method, steps: o.localSteps, lr: c.lr, batch: o.batch, seq: c.seq, seed: o.seed,
    ...(o.localDp && c.dp ? { localDp: { clip: c.dp.clip, noise: c.dp.noise } } : {}),
    ...(mezo ? { mezo: { eps: o.eps, pool: o.pool, poolSeed: o.seed } } : {}),
    ...(o.proxMu > 0 ? { proxMu: o.proxMu } : {}),
    ...(o.keepClientState ? { keepState: { rounds: o.rounds } } : {}), // the state stays on each trainer
  };
  let model: GlobalModel;
  if (mezo) {
    const image = start ?? f32AdapterImage(c.trainer); // fresh: A random, B zero
    const e = Engine.load(c.base.bytes, undefined, { engine: "simd", ctx: c.seq });
    e.loadAdapter(image, 1);
    const holder = new MezoTrainer(e, image.length, c.valExamples ?? [{ sentence: "-", label: "-" }], { eps: o.eps, lr: c.lr, batch: o.batch, seed: BigInt(o.seed) });
    model = scalarGlobal(holder, new SeedPool(o.pool, o.seed), o.localSteps, c.lr, c.valExamples);
  } else {
    model = denseGlobal(c.trainer, c.valRows, start);
  }
  let coordinator: Coordinator;
  try {
    coordinator = new Coordinator(model.initial, { clientsPerRound: o.clientsPerRound, roundMs: o.roundTimeout, server: o.server, serverLr: o.serverLr, dp: c.dp, seed: o.seed }, saved?.coordinator);
  } catch (e) {
    if (e instanceof CoordinatorError) throw new UsageError(e.message);
    throw e;
  }
  const history = saved?.history ?? [];
  const run = { ...c.run, mode: "fleet" };
  const dp = c.dp;
  out(`federate: coordinator ${o.id} on ${conn.broker} (fleet ${conn.fleet}), ${model.describe}, ${o.rounds} rounds × ${dp ? `q = ${dp.sampleRate}` : `${o.clientsPerRound} clients`} × ${o.localSteps} local steps × ${o.batch}${dp ? `, DP z = ${dp.noise}, S = ${dp.clip}, δ = ${dp.delta}${Number.isFinite(dp.epsilon) ? `, budget ε = ${dp.epsilon}` : ""}` : ""}${coordinator.round ? `; resuming after round ${coordinator.round}` : ""}`);
  if (coordinator.round >= o.rounds) { out(`federate: all ${o.rounds} rounds already ran (${o.output})`); return; }
  const service = await CoordinatorService.start(coordinator, model, { ...conn, id: o.id, rounds: o.rounds, clientsPerRound: o.clientsPerRound, roundMs: o.roundTimeout, gatherMs: o.gather, base: c.checksum, recipe });
  const d = service.driver;
  d.on("started", (m) => { if (!o.json) out(`round ${m.round}/${o.rounds} started: ${m.clients.length} sampled (${m.clients.join(" ") || "none"}) of ${d.eligible().length} trainers, global ${m.global.bytes} bytes`); });
  d.on("refused", (r) => conn.log.warn(`round ${r.round}: refused ${r.client}'s update (${r.reason}: ${r.detail})`));
  coordinator.on("refused", (r) => conn.log.warn(`round ${r.round}: refused ${r.client}'s update (${r.reason}: ${r.detail})`));
  d.on("closed", (r: FedRoundResult) => {
    const v = r.round % o.evalEvery === 0 || r.round === o.rounds ? model.evaluate(coordinator) : undefined;
    const entry = {
      round: r.round, loss: r.meanLoss, clients: r.accepted, sampled: r.sampled, refused: r.refused.length, examples: r.examples,
      refusals: r.refused.map((x) => `${x.client}:${x.reason}`), bytesDown: r.bytesDown, bytesUp: r.bytesUp,
      ...(r.epsilon !== undefined ? { epsilon: r.epsilon, clipped: r.clipped } : {}), ...(v ? { valLoss: v.loss, valExact: v.exact, valIntent: v.intent } : {}),
    };
    history.push(entry);
    saveRound(o.output, model.bytes(coordinator), { run, coordinator: coordinator.state(), history }); // before the next round starts
    out(o.json ? JSON.stringify(entry) : roundLine(o.rounds, { ...entry, bytes: `bytes down ${r.bytesDown} up ${r.bytesUp}` }));
  });
  service.run();
  const ended = await Promise.race([service.finished().then((why) => ({ why, signal: false })), untilSignal().then((sig) => ({ why: `${sig}: stopped (resume with --resume)`, signal: true }))]);
  await service.close();
  out(`federate: ${ended.why}; ${coordinator.round === 0 ? "no round ran, nothing written" : `${o.output} holds the global adapter after round ${coordinator.round}${dp ? `, ε = ${coordinator.epsilon.toFixed(3)} at δ = ${dp.delta}` : ""}`}`);
  if (ended.signal) process.exitCode = 130;
}

