// edgellm federate: federated fine-tuning of a LoRA adapter over homes. Two drivers of the one
// Coordinator (host/federated/coordinator.ts): --simulate runs every client in this process
// (host/federated/simulate.ts), one per data file (a home) or each file split into --split
// clients; --broker URL coordinates trainers on the fleet (`edgellm serve --train-data`) over
// MQTT (host/federated/coordinator-service.ts, federate-fleet.ts). Per round: clients' loss,
// validation, ε, clients that answered, bytes moved; the global adapter saved atomically after
// every round with its state beside it (federate-state.ts, --resume).
import { Command, Option } from "commander";
import { basename } from "node:path";
import { Engine } from "../engine/engine.js";
import { MAX_RANK } from "../format/adapter-spec.js";
import { CHECKSUM_OFFSET } from "../format/spec.js";
import { Coordinator, CoordinatorError } from "../federated/coordinator.js";
import { splitClients, type SimRound } from "../federated/simulate.js";
import { clientExamples, denseMode, labelledExamples, seedScalarMode, type FederationMode } from "./federate-modes.js";
import { tokenizeRows, type Rows } from "../train/finetune-data.js";
import { f32AdapterImage, FinetuneError, LORA_TARGET_KINDS, LoraTrainer } from "../train/finetune.js";
import { choice, float, int } from "./args.js";
import { loraArg, startingAdapter, takeAdapterShape, TARGET_NAMES, targetList } from "./lora-option.js";
import { UsageError } from "./errors.js";
import { readExampleFile } from "./example-file.js";
import { withFleetOptions } from "./fleet-options.js";
import { runFleet } from "./federate-fleet.js";
import { loadRun, roundLine, saveRound, statePathOf, type FederateCommon, type FederateOptions } from "./federate-state.js";
import { loadModel } from "./model-source.js";
import { checkWritable } from "./output.js";
import { startProgress } from "./progress.js";

export function federateCommand(): Command {
  return withFleetOptions(new Command("federate"), false)
    .description("federated fine-tuning of a LoRA adapter over homes: --broker URL (trainers on the fleet) or --simulate (every client in this process)")
    .addOption(new Option("--simulate", "run every client in this process").conflicts("broker"))
    .option("--data <files...>", "--simulate: one SENTENCE<TAB>LABEL file per home (e.g. train-home*.tsv)")
    .requiredOption("-o, --output <adapter>", "the global adapter, written after every round")
    .option("--base <model>", "base model (default: models/default.ellm)")
    .option("--val <files...>", "validation examples: teacher-forced exact label and intent after each round")
    .option("--split <int>", "clients per data file (simulate many homes)", int("split", 1, 1000), 1)
    .option("--rounds <int>", "rounds", int("rounds", 1, 100000), 10)
    .option("--clients-per-round <int>", "K clients sampled per round (without DP); on the fleet a round starts when K trainers are online", int("clients-per-round", 1, 100000), 6)
    .option("--local-steps <int>", "optimizer steps each client runs per round", int("local-steps", 1, 100000), 25)
    .option("--batch <int>", "examples per local step", int("batch", 1, 4096), 16)
    .option("--lr <float>", "clients' AdamW learning rate (cosine over the local steps)", float("lr", 1e-7, 1), 5e-3)
    .option("--rank <int>", "adapter rank", int("rank", 1, MAX_RANK), 16)
    .option("--targets <list>", `matrices that carry adapters (${TARGET_NAMES.join(",")})`, targetList, [...LORA_TARGET_KINDS])
    .option("--lora <file>", "the global adapter to start from (its rank, alpha and targets) instead of a fresh one", loraArg)
    .option("--alpha <float>", "LoRA alpha (default: the rank)", float("alpha", 1e-6, 1e6))
    .option("--seq <int>", "positions per example", int("seq", 8, 4096), 128)
    .option("--server <name>", "server optimizer: fedavg or fedadam", choice("server", ["fedavg", "fedadam"] as const), "fedavg")
    .option("--server-lr <float>", "server rate: FedAvg θ += η·Δ (default 1), FedAdam's step (default 0.01)", float("server-lr", 1e-6, 1000))
    .option("--eval-every <int>", "rounds between validations (and the last)", int("eval-every", 1, 100000), 1)
    .option("--dp-noise <float>", "client-level DP: noise multiplier z (σ = z·S on the sum)", float("dp-noise", 0, 1000))
    .option("--dp-clip <float>", "client-level DP: L2 bound S on one client's update", float("dp-clip", 1e-9, 1e9), 1)
    .option("--sample-rate <float>", "client-level DP: Poisson sampling rate q (default with --simulate: K / clients)", float("sample-rate", 1e-9, 1))
    .option("--delta <float>", "DP δ", float("delta", 1e-30, 0.5), 1e-5)
    .option("--epsilon <float>", "privacy budget: no round starts that would pass it", float("epsilon", 1e-6, 1e6), Infinity)
    .option("--prox-mu <float>", "FedProx: backprop clients add μ/2·‖θ − θ_global‖² to their local loss (0: FedAvg's clients)", float("prox-mu", 0, 1000), 0)
    .option("--keep-client-state", "backprop clients keep their AdamW moments between rounds and follow one cosine over the run (on the fleet: in each trainer's memory; --simulate: not with --resume)")
    .option("--local-dp", "clip and noise each update on the client too (for users who do not trust the coordinator)")
    .option("--method <name>", "client training: backprop (dense updates) or mezo (seed-and-scalar: 8 bytes a step)", choice("method", ["backprop", "mezo"] as const), "backprop")
    .option("--pool <int>", "mezo: directions shared by every party (seed pool size)", int("pool", 1, 1 << 20), 4096)
    .option("--eps <float>", "mezo: perturbation size", float("eps", 1e-6, 1), 1e-3)
    .option("--seed <int>", "sampling, initialization and batch order", int("seed", 0, 2 ** 31 - 1), 1)
    .option("--id <name>", "--broker: the coordinator's name in announcements", "coordinator")
    .option("--round-timeout <ms>", "--broker: a round closes this long after its announcement at the latest", int("round-timeout", 100, 86400000), 120000)
    .option("--gather <ms>", "--broker: start a round with fewer than K trainers online after this long", int("gather", 0, 86400000), 10000)
    .option("--resume", "continue from the state saved beside -o")
    .option("--json", "one JSON line per round")
    .action(async (o, cmd: Command) => {
      if (!o.simulate && o.broker === undefined) throw new UsageError("federate needs --broker URL (trainers on the fleet) or --simulate (every client in this process)");
      if (o.simulate && !o.data) throw new UsageError("--simulate needs --data FILES (one per home)");
      if (!o.simulate && o.data) throw new UsageError("--data is for --simulate: on the fleet each trainer reads its own (serve --train-data)");
      const common = setUp(o, cmd);
      if (o.simulate) simulate(o, common);
      else await runFleet(o, common);
    });
}


// What both drivers need: the base, the trainer that shapes the adapter, DP, validation.
function setUp(o: FederateOptions, cmd: Command): FederateCommon {
  const inputs: Record<string, string | undefined> = { base: o.base, state: statePathOf(o.output) };
  (o.data ?? []).forEach((d: string, i: number) => { inputs[`data file ${i + 1}`] = d; });
  (o.val ?? []).forEach((d: string, i: number) => { inputs[`validation file ${i + 1}`] = d; });
  checkWritable(o.output, "output", inputs);
  const base = loadModel(o.base, undefined);
  if (base.source !== "edgellm") throw new UsageError(`${base.path}: federated fine-tuning needs an edgellm model file`);
  const seq = Math.min(o.seq, base.image.config.seqLen);
  const engine = Engine.load(base.bytes, undefined, { engine: "simd", ctx: 2 });
  const checksum = new DataView(base.bytes.buffer, base.bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true);
  const startAdapter = startingAdapter(o.lora, base.bytes, base.path, "federate trains one adapter: give --lora once");
  if (startAdapter) takeAdapterShape(startAdapter, cmd, o);
  const alpha: number = o.alpha ?? o.rank;
  let trainer: LoraTrainer;
  try {
    trainer = new LoraTrainer(base.image, checksum, seq, { rank: o.rank, alpha, targets: o.targets, lr: o.lr, lrDecay: 1, weightDecay: 0, batch: o.batch, steps: o.localSteps, seed: o.seed });
  } catch (e) {
    if (e instanceof FinetuneError) throw new UsageError(`${base.path}: ${e.message}`);
    throw e;
  }
  const start = startAdapter ? (trainer.setAdapter(startAdapter.adapter), f32AdapterImage(trainer)) : undefined; // f32 whatever it was stored as
  const mezo = o.method === "mezo";
  if (o.keepClientState && mezo) throw new UsageError("--keep-client-state keeps backprop clients' AdamW state; MeZO clients have none");
  if (o.keepClientState && o.simulate && o.resume) throw new UsageError("--keep-client-state with --simulate cannot --resume (the simulated clients' optimizer states are not saved)");
  if (mezo && o.proxMu > 0) throw new UsageError("--prox-mu is FedProx for backprop clients; MeZO clients have no gradient to add it to");
  if (mezo && o.dpNoise !== undefined) throw new UsageError("--method mezo (seed-and-scalar clients) has no DP yet: drop --dp-noise");
  if (!o.simulate && o.dpNoise !== undefined && o.sampleRate === undefined) throw new UsageError("--dp-noise on the fleet needs --sample-rate Q (the chance each online trainer is sampled in a round)");
  const dp = o.dpNoise !== undefined ? { clip: o.dpClip, noise: o.dpNoise, delta: o.delta, epsilon: o.epsilon, sampleRate: o.sampleRate ?? 1 } : undefined;
  if (!dp && o.localDp) throw new UsageError("--local-dp needs --dp-noise (and --dp-clip)");
  const lr: number = mezo && cmd.getOptionValueSource("lr") === "default" ? 1e-3 : o.lr;
  const valFiles: string[] = o.val ?? [];
  const valRows = valFiles.length && !mezo ? concatRows(valFiles.map((f) => tokenizeRows(engine, readExampleFile(f, "validation file"), seq))) : undefined;
  const valExamples = valFiles.length && mezo ? valFiles.flatMap((f) => labelledExamples(f, "validation file")) : undefined; // MeZO scores labelled examples
  const run = { method: o.method, base: checksum, rank: o.rank, targets: o.targets, alpha, lr, batch: o.batch, localSteps: o.localSteps, seq, clientsPerRound: o.clientsPerRound, server: o.server, serverLr: o.serverLr ?? null, dp: dp ?? null, localDp: !!o.localDp, keepClientState: !!o.keepClientState, ...(o.keepClientState ? { keptRounds: o.rounds } : {}), ...(o.proxMu > 0 ? { proxMu: o.proxMu } : {}), seed: o.seed, ...(startAdapter ? { start: startAdapter.path } : {}), ...(mezo ? { pool: o.pool, eps: o.eps } : {}) };
  return { base, checksum, seq, alpha, lr, trainer, engine, dp, valRows, valExamples, run, start };
}

function concatRows(sets: Rows[]): Rows {
  if (sets.length === 1) return sets[0];
  const cat = <T extends Int32Array>(f: (r: Rows) => T): Int32Array => { const out = new Int32Array(sets.reduce((n, r) => n + f(r).length, 0)); let at = 0; for (const r of sets) { out.set(f(r), at); at += f(r).length; } return out; };
  return { tokens: cat((r) => r.tokens), targets: cat((r) => r.targets), n: sets.reduce((n, r) => n + r.n, 0), T: sets[0].T, truncated: sets.reduce((n, r) => n + r.truncated, 0), labelled: sets.every((r) => r.labelled), from: cat((r) => r.from), intentTo: cat((r) => r.intentTo) };
}

function simulate(o: FederateOptions, c: FederateCommon): void {
  const data = o.data ?? []; // required with --simulate (checked in the action)
  const mezo = o.method === "mezo";
  // Each mode reads the data its own way: token rows for backprop, examples for MeZO.
  const clients = mezo ? [] : splitClients(data.map((path: string) => ({ id: basename(path).replace(/\.[^.]*$/, ""), rows: tokenizeRows(c.engine, readExampleFile(path, "data file"), c.seq) })), o.split);
  const mezoClients = mezo ? clientExamples(data, o.split) : [];
  const clientSizes = mezo ? mezoClients.map((k) => `${k.id}:${k.examples.length}`) : clients.map((k) => `${k.id}:${k.rows.n}`);
  const dp = c.dp && o.sampleRate === undefined ? { ...c.dp, sampleRate: Math.min(1, o.clientsPerRound / clientSizes.length) } : c.dp;
  const run = { ...c.run, dp: dp ?? null, clients: clientSizes.join(",") };
  const loaded = loadRun(o.output, !!o.resume, run);
  const saved = loaded.saved, start = loaded.start ?? c.start;
  const mode: FederationMode = mezo
    ? seedScalarMode({ base: c.base.bytes, ctx: c.seq, trainer: c.trainer, start, clients: mezoClients, val: c.valExamples, steps: o.localSteps, batch: o.batch, lr: c.lr, eps: o.eps, pool: o.pool, seed: o.seed })
    : denseMode({ trainer: c.trainer, start, clients, val: c.valRows, steps: o.localSteps, localDp: o.localDp && dp ? { clip: dp.clip, noise: dp.noise } : undefined, kept: o.keepClientState ? { rounds: o.rounds, clients: new Map() } : undefined, proxMu: o.proxMu, seed: o.seed });
  let coordinator: Coordinator;
  try {
    coordinator = new Coordinator(mode.initial, { clientsPerRound: o.clientsPerRound, roundMs: 1, server: o.server, serverLr: o.serverLr, dp, seed: o.seed }, saved?.coordinator);
  } catch (e) {
    if (e instanceof CoordinatorError) throw new UsageError(e.message);
    throw e;
  }
  const history = saved?.history ?? [];
  const log = (s: string) => process.stdout.write(s + "\n");
  log(`federate: ${clientSizes.length} clients (${data.length} files${o.split > 1 ? ` × ${o.split}` : ""}), ${mode.describe}, ${o.rounds} rounds × ${dp ? `q = ${dp.sampleRate}` : `${o.clientsPerRound} clients`} × ${o.localSteps} local steps × ${o.batch}${dp ? `, DP z = ${dp.noise}, S = ${dp.clip}, δ = ${dp.delta}${Number.isFinite(dp.epsilon) ? `, budget ε = ${dp.epsilon}` : ""}` : ""}${coordinator.round ? `; resuming after round ${coordinator.round}` : ""}`);
  const bar = startProgress("federate", o.rounds - coordinator.round, " exact {exact}", { piped: false });
  let done = 0;
  for (let r = coordinator.round + 1; r <= o.rounds; r++) {
    const res: SimRound | null = mode.round(coordinator, r);
    if (!res) { bar.stop(); log(`federate: stopped before round ${r}: it would take ε past the budget ${o.epsilon}`); break; }
    const v = r % o.evalEvery === 0 || r === o.rounds ? mode.evaluate(coordinator) : undefined;
    const entry = { round: res.round, loss: res.meanLoss, clients: res.accepted, sampled: res.sampled, examples: res.examples, bytesPerClient: res.bytesPerClient,
      ...(res.epsilon !== undefined ? { epsilon: res.epsilon, clipped: res.clipped } : {}), ...(v ? { valLoss: v.loss, valExact: v.exact, valIntent: v.intent } : {}) };
    history.push(entry);
    saveRound(o.output, mode.adapterBytes(coordinator), { run, coordinator: coordinator.state(), history });
    done++;
    bar.update(done, { exact: v ? `${(100 * v.exact).toFixed(1)} %` : "-" });
    if (o.json) log(JSON.stringify(entry));
    else if (!process.stderr.isTTY || r === o.rounds) log(roundLine(o.rounds, { ...entry, bytes: `bytes/client ${res.bytesPerClient}` }));
  }
  bar.stop();
  log(`wrote ${o.output} (global adapter after round ${coordinator.round})${dp ? `, ε = ${coordinator.epsilon.toFixed(3)} at δ = ${dp.delta}` : ""}`);
}
