// edgellm gateway: schedule tasks onto the fleet's peers (optionally hosting the broker too).
import { FleetError } from "../fleet/errors.js";
import { Command } from "commander";
import { int } from "./args.js";
import { connectionOptions, untilSignal, withFleetOptions } from "./fleet-options.js";
import { UsageError } from "./errors.js";

export function gatewayCommand(): Command {
  return withFleetOptions(new Command("gateway"), false)
    .description("run the fleet's gateway: task scheduling, leases, reassignment, deduplication")
    .option("--embedded-broker", "run an in-process MQTT 3.1.1 broker (aedes) and use it")
    .option("--port <int>", "embedded broker port", int("port", 0, 65535), 1883)
    .option("--host <addr>", "embedded broker address to listen on", "127.0.0.1")
    .option("--id <id>", "gateway id (default: random)")
    .option("--lease <ms>", "task lease; renewed by the peer's progress", int("lease", 50, 3600000), 5000)
    .option("--peer-timeout <ms>", "a peer silent this long is lost", int("peer-timeout", 50, 3600000), 5000)
    .option("--place-timeout <ms>", "a task no online peer could run (model, context) fails after this long", int("place-timeout", 50, 3600000), 10000)
    .option("--max-pending <int>", "tasks waiting for a peer; more are refused at once", int("max-pending", 1, 1000000), 1000)
    .option("--max-inflight <int>", "QoS 1 publishes awaiting acknowledgement (send quota)", int("max-inflight", 1, 65535), 16)
    .action(async (o) => {
      const c = connectionOptions(o, "gateway");
      if (!o.embeddedBroker && !o.broker) throw new UsageError("gateway needs --broker URL or --embedded-broker");
      const { startEmbeddedBroker } = await import("../fleet/broker.js"); // loaded only when used
      const { Gateway } = await import("../fleet/gateway.js");
      const embedded = o.embeddedBroker ? await startEmbeddedBroker(o.port, o.host, c.log) : null;
      if (embedded) c.log.info(`embedded broker listening on ${embedded.url} (MQTT 3.1.1)`);
      let stopped: (why: string) => void = () => undefined;
      const selfStop = new Promise<string>((resolve) => { stopped = resolve; });
      const gw = await Gateway.start({
        ...c, broker: embedded?.url ?? c.broker, protocolVersion: embedded ? 4 : c.protocolVersion, id: o.id, maxInflight: o.maxInflight,
        scheduler: { leaseMs: o.lease, peerTimeoutMs: o.peerTimeout, placeTimeoutMs: o.placeTimeout, maxPending: o.maxPending },
        onStop: (why) => stopped(why),
      });
      const end = await Promise.race([untilSignal().then((sig) => ({ sig, why: "" })), selfStop.then((why) => ({ sig: "", why }))]);
      if (end.sig) c.log.info(`${end.sig}: stopping`);
      await gw.close();
      await embedded?.close();
      if (end.why) throw new FleetError("E_FLEET_DUPLICATE", `gateway: ${end.why}`);
    });
}
