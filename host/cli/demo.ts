// edgellm demo: one command, one machine: an embedded broker, a gateway, a few peers and some
// tasks whose output streams live, each line prefixed by its task.
import { Command } from "commander";
import { int } from "./args.js";
import { FleetError } from "../fleet/errors.js";
import { loadModel } from "./model-source.js";
import { makeLogger, type LogLevel } from "../fleet/log.js";
import type { Peer as FleetPeer } from "../fleet/peer.js";
import { choice } from "./args.js";

const PROMPTS = ["Once upon a time", "The little dog", "One day, a girl named Lily", "The sun was", "Tom and his friend", "In the park"];

export function demoCommand(): Command {
  return new Command("demo")
    .description("bring up a whole fleet on this machine (embedded broker, gateway, peers) and run some tasks")
    .argument("[model]", "model file (default: the embedded default model)")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin (default: the one carried in the model file)")
    .option("--peers <int>", "local peers", int("peers", 1, 16), 3)
    .option("--tasks <int>", "tasks to run", int("tasks", 1, 1000), 6)
    .option("-n, --steps <int>", "positions per task", int("steps", 1, 65536), 64)
    .option("--port <int>", "embedded broker port (0: any free port)", int("port", 0, 65535), 0)
    .option("--log-level <level>", "fleet log level", choice("log level", ["debug", "info", "warn", "error", "silent"] as const), "warn")
    .option("--federated", "instead: federated fine-tuning (a coordinator and one trainer per train-home*.tsv) over the embedded broker")
    .option("--homes <dir>", "--federated: the home-command data (default ../shared/data/home-commands)")
    .option("--rounds <int>", "--federated: rounds", int("rounds", 1, 1000), 3)
    .option("--clients-per-round <int>", "--federated: homes sampled per round", int("clients-per-round", 1, 1000), 6)
    .option("--local-steps <int>", "--federated: optimizer steps per home per round", int("local-steps", 1, 10000), 10)
    .action(async (modelArg: string | undefined, o) => {
      const level: LogLevel = o.logLevel;
      const log = makeLogger("demo", level);
      const model = loadModel(modelArg, o.tokenizer);
      if (o.federated) {
        const { federatedDemo } = await import("./demo-federated.js");
        await federatedDemo({ model, homes: o.homes, rounds: o.rounds, clientsPerRound: o.clientsPerRound, localSteps: o.localSteps, port: o.port, log });
        return;
      }
      const { startEmbeddedBroker } = await import("../fleet/broker.js"); // fleet modules load only when used
      const { FleetClient } = await import("../fleet/client.js");
      const { Gateway } = await import("../fleet/gateway.js");
      const { Peer } = await import("../fleet/peer.js");
      const broker = await startEmbeddedBroker(o.port, "127.0.0.1", log.child("broker"));
      process.stdout.write(`broker   ${broker.url} (embedded aedes, MQTT 3.1.1)\n`);
      const fleet = "demo";
      const conn = { broker: broker.url, fleet, protocolVersion: 4 as const };
      const gw = await Gateway.start({ ...conn, id: "gateway", log: log.child("gateway") });
      const peers: FleetPeer[] = [];
      for (let i = 0; i < o.peers; i++) peers.push(await Peer.start({ ...conn, id: `peer-${i + 1}`, model, log: log.child(`peer-${i + 1}`), maxQueue: 2 }));
      for (const p of peers) { const s = p.status(); process.stdout.write(`peer     ${s.id}: ${s.model.id} ${s.model.quant}, ctx ${s.model.ctx}, ${s.tokPerSec.toFixed(0)} tok/s\n`); }
      gw.scheduler.on("assigned", (task, peer, attempt) => process.stdout.write(`assign   ${task} → ${peer}${attempt > 1 ? ` (attempt ${attempt})` : ""}\n`));
      const client = await FleetClient.connect({ ...conn, id: "demo-client", log: log.child("client") });
      const started = performance.now();
      const jobs = Array.from({ length: o.tasks }, (_, i) => {
        const taskId = `task-${i + 1}`;
        let line = "";
        return client.submit({ taskId, prompt: PROMPTS[i % PROMPTS.length], steps: o.steps, temperature: 0.8, topp: 0.9, seed: BigInt(42 + i), timeoutMs: 60000 }, (b) => {
          line += Buffer.from(b).toString("utf8");
          const nl = line.lastIndexOf("\n");
          if (nl >= 0) { for (const l of line.slice(0, nl).split("\n")) if (l) process.stdout.write(`${taskId.padEnd(8)} ${l}\n`); line = line.slice(nl + 1); }
        }).then((r) => {
          if (line) process.stdout.write(`${taskId.padEnd(8)} ${line}\n`);
          process.stdout.write(`done     ${taskId} on ${r.peer ?? "?"}: ${r.status}${r.error ? ` (${r.error})` : ""}, ${r.tokens} positions, ${r.elapsedMs.toFixed(1)} ms\n`);
          return r.status;
        });
      });
      const failed = (await Promise.all(jobs)).filter((status) => status !== "done").length;
      process.stdout.write(`all ${o.tasks} tasks ended in ${(performance.now() - started).toFixed(0)} ms; peers served ${peers.map((p) => `${p.id}=${p.served.done}`).join(", ")}\n`);
      await client.close();
      for (const p of peers) await p.close();
      await gw.close();
      await broker.close();
      if (failed > 0) throw new FleetError("E_FLEET_TASK", `${failed} of ${o.tasks} tasks did not complete`);
    });
}
