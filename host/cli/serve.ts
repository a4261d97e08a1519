// edgellm serve: run a fleet peer on this machine.
import { Command } from "commander";
import { choice, int } from "./args.js";
import { connectionOptions, untilSignal, withFleetOptions } from "./fleet-options.js";
import { loadModel } from "./model-source.js";
import { UsageError } from "./errors.js";
import { MAX_FED_CHUNK_BYTES, MAX_PEER_QUEUE, MIN_FED_CHUNK_BYTES } from "../fleet/schemas.js";
import { labelledExamples } from "./federate-modes.js";

export function serveCommand(): Command {
  return withFleetOptions(new Command("serve"))
    .description("serve tasks to the fleet as a peer")
    .argument("[model]", "model file (same as --model)")
    .option("--model <path>", "model file: edgellm .ellm or a llama2.c checkpoint (default: the embedded default model)")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin (default: the one carried in the model file)")
    .requiredOption("--id <id>", "peer id (A-Z a-z 0-9 _ -, at most 64)")
    .option("--max-queue <int>", "tasks held at once, running and queued", int("max-queue", 1, MAX_PEER_QUEUE), 4)
    .option("--heartbeat <ms>", "heartbeat period", int("heartbeat", 50, 600000), 1000)
    .option("--engine <kind>", "simd or mvp", choice("engine", ["simd", "mvp"] as const), "simd")
    .option("--kv-int8", "int8 KV cache")
    .option("--adapters <dir>", "hold every DIR/*.ella made for the model; tasks name one by its file name without .ella")
    .option("--commands", "serve commands tasks (submit --task commands) with the home-command grammar; hold the home adapter with --adapters")
    .option("--train-data <file>", "take part in federated rounds (edgellm federate --broker) training on these SENTENCE<TAB>LABEL examples; they never leave this process")
    .option("--chunk <bytes>", "federated rounds: bytes per fetched chunk and uploaded part", int("chunk", MIN_FED_CHUNK_BYTES, MAX_FED_CHUNK_BYTES), MAX_FED_CHUNK_BYTES)
    .action(async (modelArg: string | undefined, o) => {
      const c = connectionOptions(o, `peer/${o.id}`);
      const model = loadModel(o.model ?? modelArg, o.tokenizer);
      const examples = o.trainData !== undefined ? labelledExamples(o.trainData, "--train-data", "federated training takes") : undefined;
      if (examples && examples.length === 0) throw new UsageError(`--train-data ${o.trainData}: no examples`);
      if (examples && model.source !== "edgellm") throw new UsageError(`${model.path}: federated training needs an edgellm model file (convert it first)`);
      const { Peer } = await import("../fleet/peer.js"); // fleet modules load only when used: `run` stays fast
      const { DEFAULT_SCHEDULER } = await import("../fleet/scheduler.js");
      const gatewayTimeout = DEFAULT_SCHEDULER.peerTimeoutMs;
      if (o.heartbeat > gatewayTimeout / 2) c.log.warn(`--heartbeat ${o.heartbeat} ms: a gateway with the default --peer-timeout (${gatewayTimeout} ms) will count this peer lost between beats`);
      const { readAdapterDir } = await import("../fleet/adapter-dir.js");
      const adapters = o.adapters !== undefined ? readAdapterDir(o.adapters, model.bytes, model.path, c.log) : [];
      const commandGrammar = o.commands ? (await import("../commands/compiled.js")).compiledCommandGrammar() : undefined;
      const peer = await Peer.start({ ...c, id: o.id, model, adapters, commandGrammar, engine: o.engine, kvInt8: !!o.kvInt8, maxQueue: o.maxQueue, heartbeatMs: o.heartbeat });
      let trainer: import("../federated/trainer.js").FedTrainer | undefined;
      if (examples) {
        const { FedTrainer } = await import("../federated/trainer.js");
        const { TrainThread } = await import("../federated/train-thread.js");
        trainer = await FedTrainer.start({ ...c, id: o.id, local: new TrainThread(model.bytes, examples), chunkBytes: o.chunk, log: c.log.child("train") });
      }
      const sig = await Promise.race([untilSignal(), peer.stopped.then((e) => { throw e; })]);
      c.log.info(`${sig}: going offline`);
      await trainer?.close();
      await peer.close();
    });
}
