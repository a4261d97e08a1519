// Options every fleet command shares (broker, fleet, credentials, TLS, logging) → fleet options.
import { Command, Option } from "commander";
import { readFileSync } from "node:fs";
import { choice, int } from "./args.js";
import { makeLogger, type LogLevel, type Logger } from "../fleet/log.js";
import type { TransportOptions } from "../fleet/transport.js";

export function withFleetOptions(cmd: Command, brokerRequired = true): Command {
  const broker = new Option("--broker <url>", "MQTT broker URL (mqtt://host:1883, mqtts://host:8883)");
  if (brokerRequired) broker.makeOptionMandatory();
  return cmd
    .addOption(broker)
    .option("--fleet <name>", "fleet name (the topic tree edgellm/v1/<fleet>/…)", "default")
    .option("--username <user>", "MQTT username")
    .option("--password <pass>", "MQTT password (default: $EDGELLM_MQTT_PASSWORD)")
    .option("--mqtt <version>", "MQTT protocol: 5 or 3.1.1 (default: 5, falling back to 3.1.1)", choice("mqtt", ["5", "3.1.1"] as const))
    .option("--cafile <path>", "CA certificate for mqtts:// brokers")
    .option("--cert <path>", "client certificate (TLS client authentication)")
    .option("--key <path>", "client private key")
    .option("--connect-timeout <ms>", "give up when the broker cannot be reached for this long", int("connect-timeout", 100, 3600000), 10000)
    .option("--log-level <level>", "debug, info, warn, error or silent", choice("log level", ["debug", "info", "warn", "error", "silent"] as const), "info");
}

export interface FleetCliOptions {
  broker?: string; fleet: string; username?: string; password?: string; mqtt?: "5" | "3.1.1";
  cafile?: string; cert?: string; key?: string; logLevel: LogLevel; connectTimeout: number;
}

export function connectionOptions(o: FleetCliOptions, component: string): {
  broker: string; fleet: string; username?: string; password?: string; protocolVersion?: 4 | 5; connectTimeoutMs: number;
  tls: Pick<TransportOptions, "ca" | "cert" | "key">; log: Logger;
} {
  return {
    broker: o.broker ?? "", fleet: o.fleet, username: o.username, password: o.password ?? process.env.EDGELLM_MQTT_PASSWORD,
    protocolVersion: o.mqtt === "5" ? 5 : o.mqtt === "3.1.1" ? 4 : undefined, connectTimeoutMs: o.connectTimeout,
    tls: {
      ca: o.cafile ? readFileSync(o.cafile) : undefined,
      cert: o.cert ? readFileSync(o.cert) : undefined,
      key: o.key ? readFileSync(o.key) : undefined,
    },
    log: makeLogger(component, o.logLevel),
  };
}

// Resolves when the process is asked to stop (Ctrl-C, SIGTERM).
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
}
