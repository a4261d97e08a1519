// edgellm serve: run a fleet peer on this machine.
import { Command } from "commander";
import { choice, int } from "./args.js";
import { connectionOptions, untilSignal, withFleetOptions } from "./fleet-options.js";
import { loadModel } from "./model-source.js";
import { MAX_PEER_QUEUE } from "../fleet/schemas.js";

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
    .action(async (modelArg: string | undefined, o) => {
      const c = connectionOptions(o, `peer/${o.id}`);
      const model = loadModel(o.model ?? modelArg, o.tokenizer);
      const { Peer } = await import("../fleet/peer.js"); // fleet modules load only when used: `run` stays fast
      const { DEFAULT_SCHEDULER } = await import("../fleet/scheduler.js");
      const gatewayTimeout = DEFAULT_SCHEDULER.peerTimeoutMs;
      if (o.heartbeat > gatewayTimeout / 2) c.log.warn(`--heartbeat ${o.heartbeat} ms: a gateway with the default --peer-timeout (${gatewayTimeout} ms) will count this peer lost between beats`);
      const { readAdapterDir } = await import("../fleet/adapter-dir.js");
      const adapters = o.adapters !== undefined ? readAdapterDir(o.adapters, model.bytes, model.path, c.log) : [];
      const commandGrammar = o.commands ? (await import("../commands/compiled.js")).compiledCommandGrammar() : undefined;
      const peer = await Peer.start({ ...c, id: o.id, model, adapters, commandGrammar, engine: o.engine, kvInt8: !!o.kvInt8, maxQueue: o.maxQueue, heartbeatMs: o.heartbeat });
      const sig = await Promise.race([untilSignal(), peer.stopped.then((e) => { throw e; })]);
      c.log.info(`${sig}: going offline`);
      await peer.close();
    });
}
