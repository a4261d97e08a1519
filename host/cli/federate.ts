// edgellm federate --simulate: federated fine-tuning of a LoRA adapter with every client in this
// process (host/federated/simulate.ts), one client per data file (a home) or each file split
// into --split clients. The coordinator (host/federated/coordinator.ts) is the one a broker-driven
// run uses. Per round: clients' loss, validation, ε, clients that answered, bytes moved; the
// global adapter saved atomically after every round with its state beside it (--resume).
import { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { Engine } from "../engine/engine.js";
import { AdapterStorage, MAX_RANK } from "../format/adapter-spec.js";
import { writeAdapter } from "../format/adapter-writer.js";
import { readAdapter } from "../format/adapter-reader.js";
import { CHECKSUM_OFFSET } from "../format/spec.js";
import { Coordinator, CoordinatorError, type CoordinatorState } from "../federated/coordinator.js";
import { splitClients, type SimRound } from "../federated/simulate.js";
import { clientExamples, denseMode, labelledExamples, seedScalarMode, type FederationMode } from "./federate-modes.js";
import { tokenizeRows } from "../train/finetune-data.js";
import { FinetuneError, LORA_TARGET_KINDS, LoraTrainer } from "../train/finetune.js";
import { loraArg, readAdapters, TARGET_NAMES, targetList, type LoraArg } from "./lora-option.js";
import { choice, float, int } from "./args.js";
import { UsageError } from "./errors.js";
import { readExampleFile } from "./example-file.js";
import { loadModel } from "./model-source.js";
import { checkWritable, writeOutput } from "./output.js";
import { startProgress } from "./progress.js";

interface FederateState { version: 1; run: Record<string, unknown>; coordinator: CoordinatorState; history: unknown[] }

export function federateCommand(): Command {
  return new Command("federate")
    .description("federated fine-tuning of a LoRA adapter over homes (--simulate: every client in this process)")
    .requiredOption("--simulate", "run every client in this process (the MQTT-driven run is issue 20's next step)")
    .requiredOption("--data <files...>", "one SENTENCE<TAB>LABEL file per home (e.g. train-home*.tsv)")
    .requiredOption("-o, --output <adapter>", "the global adapter, written after every round")
    .option("--base <model>", "base model (default: models/default.ellm)")
    .option("--val <file>", "validation examples: teacher-forced exact label and intent after each round")
    .option("--split <int>", "clients per data file (simulate many homes)", int("split", 1, 1000), 1)
    .option("--rounds <int>", "rounds", int("rounds", 1, 100000), 10)
    .option("--clients-per-round <int>", "K clients sampled per round (without DP)", int("clients-per-round", 1, 100000), 6)
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
    .option("--sample-rate <float>", "client-level DP: Poisson sampling rate q (default: K / clients)", float("sample-rate", 1e-9, 1))
    .option("--delta <float>", "DP δ", float("delta", 1e-30, 0.5), 1e-5)
    .option("--epsilon <float>", "privacy budget: no round starts that would pass it", float("epsilon", 1e-6, 1e6), Infinity)
    .option("--keep-client-state", "backprop clients keep their AdamW moments between rounds and follow one cosine over the run (not with --resume in a simulation)")
    .option("--local-dp", "clip and noise each update on the client too (for users who do not trust the gateway)")
    .option("--method <name>", "client training: backprop (dense updates) or mezo (seed-and-scalar: 8 bytes a step)", choice("method", ["backprop", "mezo"] as const), "backprop")
    .option("--pool <int>", "mezo: directions shared by every party (seed pool size)", int("pool", 1, 1 << 20), 4096)
    .option("--eps <float>", "mezo: perturbation size", float("eps", 1e-6, 1), 1e-3)
    .option("--seed <int>", "sampling, initialization and batch order", int("seed", 0, 2 ** 31 - 1), 1)
    .option("--resume", "continue from the state saved beside -o")
    .option("--json", "one JSON line per round")
    .action((o, cmd: Command) => {
      const statePath = `${o.output}.federate.json`;
      const inputs: Record<string, string | undefined> = { base: o.base, val: o.val, state: statePath };
      o.data.forEach((d: string, i: number) => { inputs[`data file ${i + 1}`] = d; });
      checkWritable(o.output, "output", inputs);
      if (!o.resume && existsSync(statePath)) throw new UsageError(`${statePath} holds an earlier run: add --resume to continue it, or remove it`);
      const base = loadModel(o.base, undefined);
      if (base.source !== "edgellm") throw new UsageError(`${base.path}: federated fine-tuning needs an edgellm model file`);
      const seq = Math.min(o.seq, base.image.config.seqLen);
      const engine = Engine.load(base.bytes, undefined, { engine: "simd", ctx: 2 });
      const mezo = o.method === "mezo";
      // Each mode reads the data its own way: token rows for backprop, examples for MeZO.
      const clients = mezo ? [] : splitClients(o.data.map((path: string) => ({ id: basename(path).replace(/\.[^.]*$/, ""), rows: tokenizeRows(engine, readExampleFile(path, "data file"), seq) })), o.split);
      const mezoClients = mezo ? clientExamples(o.data, o.split) : [];
      const clientSizes = mezo ? mezoClients.map((c) => `${c.id}:${c.examples.length}`) : clients.map((c) => `${c.id}:${c.rows.n}`);
      const val = o.val && !mezo ? tokenizeRows(engine, readExampleFile(o.val, "validation file"), seq) : undefined;
      const checksum = new DataView(base.bytes.buffer, base.bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true);
      const starts: LoraArg[] = o.lora ?? [];
      if (starts.length > 1) throw new UsageError("federate trains one adapter: give --lora once");
      const startAdapter = starts.length ? readAdapter(readAdapters(starts, base.bytes, base.path)[0].bytes, starts[0].path) : undefined;
      if (startAdapter) {
        for (const opt of ["rank", "alpha", "targets"]) if (cmd.getOptionValueSource(opt) === "cli") throw new UsageError(`--${opt} comes from the --lora adapter (${starts[0].path}); drop it`);
        o.rank = startAdapter.rank; o.alpha = startAdapter.alpha;
        o.targets = LORA_TARGET_KINDS.filter((k) => startAdapter.matrices.some((m) => m.kind === k));
      }
      const alpha: number = o.alpha ?? o.rank;
      let trainer: LoraTrainer;
      try {
        trainer = new LoraTrainer(base.image, checksum, seq, { rank: o.rank, alpha, targets: o.targets, lr: o.lr, lrDecay: 1, weightDecay: 0, batch: o.batch, steps: o.localSteps, seed: o.seed });
      } catch (e) {
        if (e instanceof FinetuneError) throw new UsageError(`${base.path}: ${e.message}`);
        throw e;
      }
      if (o.keepClientState && mezo) throw new UsageError("--keep-client-state keeps AdamW moments: backprop clients only (MeZO has none)");
      if (o.keepClientState && o.resume) throw new UsageError("--keep-client-state: the simulated clients' optimizer states are not saved, so this run cannot resume");
      if (mezo && o.dpNoise !== undefined) throw new UsageError("--method mezo (seed-and-scalar clients) has no DP yet: drop --dp-noise");
      const dp = o.dpNoise !== undefined
        ? { clip: o.dpClip, noise: o.dpNoise, delta: o.delta, epsilon: o.epsilon, sampleRate: o.sampleRate ?? Math.min(1, o.clientsPerRound / clientSizes.length) }
        : undefined;
      if (!dp && o.localDp) throw new UsageError("--local-dp needs --dp-noise (and --dp-clip)");
      const lr: number = mezo && cmd.getOptionValueSource("lr") === "default" ? 1e-3 : o.lr;
      const run = { method: o.method, base: checksum, clients: clientSizes.join(","), rank: o.rank, targets: o.targets, alpha, lr, batch: o.batch, localSteps: o.localSteps, seq, clientsPerRound: o.clientsPerRound, server: o.server, serverLr: o.serverLr ?? null, dp: dp ?? null, localDp: !!o.localDp, keepClientState: !!o.keepClientState, seed: o.seed, ...(startAdapter ? { start: starts[0].path } : {}), ...(mezo ? { pool: o.pool, eps: o.eps } : {}) };
      let saved: FederateState | undefined;
      let start: Uint8Array | undefined;
      if (startAdapter) { trainer.setAdapter(startAdapter); start = writeAdapter(trainer.adapter(AdapterStorage.F32)); } // f32 whatever it was stored as
      if (o.resume && existsSync(statePath)) {
        try { saved = JSON.parse(readFileSync(statePath, "utf8")) as FederateState; } catch (e) { throw new UsageError(`${statePath}: not JSON (${(e as Error).message.split("\n")[0]})`); }
        if (saved?.version !== 1 || typeof saved.coordinator?.round !== "number") throw new UsageError(`${statePath}: damaged`);
        for (const [k, v] of Object.entries(run)) if (JSON.stringify(saved.run?.[k]) !== JSON.stringify(v)) throw new UsageError(`${statePath} was made with ${k} ${JSON.stringify(saved.run?.[k])}, this run has ${JSON.stringify(v)}`);
        start = new Uint8Array(readFileSync(o.output));
        readAdapter(start, o.output);
      }
      const mode: FederationMode = mezo
        ? seedScalarMode({ base: base.bytes, ctx: seq, trainer, start, clients: mezoClients, val: o.val ? labelledExamples(o.val, "validation file") : undefined, steps: o.localSteps, batch: o.batch, lr, eps: o.eps, pool: o.pool, seed: o.seed })
        : denseMode({ trainer, start, clients, val, steps: o.localSteps, localDp: o.localDp && dp ? { clip: dp.clip, noise: dp.noise } : undefined, kept: o.keepClientState ? { rounds: o.rounds, clients: new Map() } : undefined, seed: o.seed });
      let coordinator: Coordinator;
      try {
        coordinator = new Coordinator(mode.initial, { clientsPerRound: o.clientsPerRound, roundMs: 1, server: o.server, serverLr: o.serverLr, dp, seed: o.seed }, saved?.coordinator);
      } catch (e) {
        if (e instanceof CoordinatorError) throw new UsageError(e.message);
        throw e;
      }
      const history = saved?.history ?? [];
      const log = (s: string) => process.stdout.write(s + "\n");
      log(`federate: ${clientSizes.length} clients (${o.data.length} files${o.split > 1 ? ` × ${o.split}` : ""}), ${mode.describe}, ${o.rounds} rounds × ${dp ? `q = ${dp.sampleRate}` : `${o.clientsPerRound} clients`} × ${o.localSteps} local steps × ${o.batch}${dp ? `, DP z = ${dp.noise}, S = ${dp.clip}, δ = ${dp.delta}${Number.isFinite(dp.epsilon) ? `, budget ε = ${dp.epsilon}` : ""}` : ""}${coordinator.round ? `; resuming after round ${coordinator.round}` : ""}`);
      const bar = startProgress("federate", o.rounds - coordinator.round, " exact {exact}", { piped: false });
      let done = 0;
      for (let r = coordinator.round + 1; r <= o.rounds; r++) {
        const res: SimRound | null = mode.round(coordinator, r);
        if (!res) { bar.stop(); log(`federate: stopped before round ${r}: it would take ε past the budget ${o.epsilon}`); break; }
        const v = r % o.evalEvery === 0 || r === o.rounds ? mode.evaluate(coordinator) : undefined;
        const entry = { round: res.round, loss: res.meanLoss, clients: res.accepted, sampled: res.sampled, examples: res.examples, bytesPerClient: res.bytesPerClient,
          ...(res.epsilon !== undefined ? { epsilon: res.epsilon, clipped: res.clipped } : {}), ...(v ? { valLoss: v.loss, valExact: v.exact, valIntent: v.intent } : {}) };
        history.push(entry);
        writeOutput(o.output, mode.adapterBytes(coordinator), "output");
        writeOutput(statePath, JSON.stringify({ version: 1, run, coordinator: coordinator.state(), history } satisfies FederateState), "state");
        done++;
        bar.update(done, { exact: v ? `${(100 * v.exact).toFixed(1)} %` : "-" });
        if (o.json) log(JSON.stringify(entry));
        else if (!process.stderr.isTTY || r === o.rounds) log(`round ${r}/${o.rounds} loss ${res.meanLoss.toFixed(4)} clients ${res.accepted}/${res.sampled} bytes/client ${res.bytesPerClient}${res.epsilon !== undefined ? ` ε ${res.epsilon.toFixed(3)}` : ""}${v ? ` val exact ${(100 * v.exact).toFixed(1)} % intent ${(100 * v.intent).toFixed(1)} %` : ""}`);
      }
      bar.stop();
      log(`wrote ${o.output} (global adapter after round ${coordinator.round})${dp ? `, ε = ${coordinator.epsilon.toFixed(3)} at δ = ${dp.delta}` : ""}`);
    });
}
