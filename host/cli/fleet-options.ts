// Options every fleet command shares (broker, fleet, credentials, TLS, logging) → fleet options.
import { Command, Option } from "commander";
import { readFileSync } from "node:fs";
import { choice, int } from "./args.js";
import { UsageError } from "./errors.js";
import { FleetError } from "../fleet/errors.js";
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

// A TLS file from the command line, as the firmware checks it: readable and PEM with the
// expected block, else one line (exit 1) instead of a stack trace or a vague handshake error.
function pemFile(flag: string, path: string, begin: string, end: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FleetError("E_FLEET_CONFIG", `${flag} '${path}': ${err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "is a directory" : err.message}`);
  }
  const text = bytes.toString("latin1");
  const at = text.indexOf(begin);
  if (at < 0 || text.indexOf(end, at) < 0) throw new FleetError("E_FLEET_CONFIG", `${flag} '${path}' is not PEM: no "${begin}…${end}" in it`);
  return bytes;
}

export function connectionOptions(o: FleetCliOptions, component: string): {
  broker: string; fleet: string; username?: string; password?: string; protocolVersion?: 4 | 5; connectTimeoutMs: number;
  tls: Pick<TransportOptions, "ca" | "cert" | "key">; log: Logger;
} {
  if (o.broker !== undefined && o.broker.trim() === "") throw new UsageError("--broker is empty: give a URL such as mqtt://127.0.0.1:1883");
  // The URL decides TLS (mqtts://, wss://); TLS files with a plain URL would be silently unused.
  if (!o.cert !== !o.key) throw new UsageError("--cert and --key go together (the client certificate and its private key)");
  if ((o.cafile || o.cert) && o.broker && !/^(mqtts|wss):\/\//.test(o.broker)) throw new UsageError(`--cafile, --cert and --key need an mqtts:// (or wss://) broker, got '${o.broker}'`);
  const CERT: [string, string] = ["-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"];
  return {
    broker: o.broker ?? "", fleet: o.fleet, username: o.username, password: o.password ?? process.env.EDGELLM_MQTT_PASSWORD,
    protocolVersion: o.mqtt === "5" ? 5 : o.mqtt === "3.1.1" ? 4 : undefined, connectTimeoutMs: o.connectTimeout,
    tls: {
      ca: o.cafile ? pemFile("--cafile", o.cafile, ...CERT) : undefined,
      cert: o.cert ? pemFile("--cert", o.cert, ...CERT) : undefined,
      key: o.key ? pemFile("--key", o.key, "-----BEGIN", "PRIVATE KEY-----") : undefined,
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
