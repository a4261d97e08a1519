// One MQTT connection (mqtt.js): TCP_NODELAY on every (re)connect, our own send quota for
// QoS 1 publishes (mqtt.js does not honour the broker's receive-maximum), and every received
// message decoded and validated in one place; bad ones are logged and dropped. A raw transport
// (the peer's: its module's agent validates what it receives) passes payloads on as bytes.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Socket } from "node:net";
import { FleetError } from "./errors.js";
import { TypedEmitter } from "./events.js";
import { decode, encode, type Draft, type Message } from "./messages.js";
import type { Route } from "./topics.js";
import type { Logger } from "./log.js";
import { MAX_PACKET_BYTES } from "./schemas.js";

export interface TransportOptions {
  broker: string;              // mqtt://host:port, mqtts://…, ws://…
  clientId: string;
  username?: string;
  password?: string;
  protocolVersion?: 4 | 5;     // MQTT 3.1.1 or 5 (default 5)
  will?: { topic: string; message: Draft<Message>; retain: boolean } | { topic: string; payload: Uint8Array; retain: boolean };
  raw?: boolean;               // emit "raw" (topic, payload) instead of decoding received messages
  keepaliveSec?: number;
  reconnectMs?: number;
  connectTimeoutMs?: number;   // first connection only
  maxInflight?: number;        // QoS 1 publishes awaiting PUBACK (default 16, below mosquitto's 20)
  ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean;
  log: Logger;
}

export interface TransportEvents {
  connect: () => void;        // first connection and every reconnection: re-announce here
  offline: () => void;
  message: (route: Route, msg: Message, retained: boolean) => void;
  raw: (topic: string, payload: Buffer) => void;
  invalid: (topic: string, reason: string) => void;
}

interface Pending { topic: string; payload: Buffer; retain: boolean; done: (err?: Error) => void }

const SLOT_TIMEOUT_MS = 30_000;
const REFUSALS_LOGGED_PER_SECOND = 10; // as the module's agent
// Connections the broker closed this soon after accepting them, this many times in a row: the
// mark of two clients with one client id taking the connection from each other.
const SHORT_CONNECTION_MS = 2000;
const SHORT_CONNECTIONS_TO_WARN = 5;

export class Transport extends TypedEmitter<TransportEvents> {
  readonly client: MqttClient;
  private readonly log: Logger;
  private quota: number;
  private inflight = 0;
  private readonly queue: Pending[] = [];
  private closed = false;
  private everConnected = false;
  invalidCount = 0;
  private refusalWindow = 0;    // start of the current second of refusal log lines
  private refusalsLogged = 0;   // lines logged in it
  private refusalsQuiet = 0;    // refusals left out since the last line
  private connectedAt = 0;      // of the current (or last) connection; 0: none since the last close
  private shortConnections = 0; // in a row

  private constructor(client: MqttClient, o: TransportOptions) {
    super();
    this.client = client;
    this.log = o.log;
    this.quota = o.maxInflight ?? 16;
    client.on("connect", (connack) => {
      const s = client.stream as Partial<Socket> | undefined;
      s?.setNoDelay?.(true);
      const rm = connack.properties?.receiveMaximum;
      if (rm && rm < this.quota) this.quota = rm;
      this.everConnected = true;
      this.connectedAt = Date.now();
      this.log.debug(`connected to ${o.broker}`);
      this.emit("connect");
    });
    client.on("close", () => this.noteClose(o.clientId));
    client.on("offline", () => { if (!this.closed && this.everConnected) { this.log.warn(`lost the broker ${o.broker}; reconnecting`); this.emit("offline"); } });
    // Before the first connection, connect() reports the failure once; afterwards every error is logged.
    client.on("error", (e) => { if (this.everConnected && !this.closed) this.log.warn(`mqtt: ${e.message}`); });
    client.on("message", (topic, payload, packet) => {
      if (o.raw) { this.emit("raw", topic, payload); return; }
      const d = decode(topic, payload);
      if (!d.ok) {
        this.invalidCount++;
        this.logRefusal(d.reason);
        this.emit("invalid", topic, d.reason);
        return;
      }
      this.emit("message", d.route, d.msg, packet.retain);
    });
  }

  // A second process with our client id (two peers given one --id) makes the broker close each
  // connection as soon as the other one reconnects; mqtt.js just reconnects, forever.
  private noteClose(clientId: string): void {
    if (this.closed || this.connectedAt === 0) return;
    const lasted = Date.now() - this.connectedAt;
    this.connectedAt = 0;
    this.shortConnections = lasted < SHORT_CONNECTION_MS ? this.shortConnections + 1 : 0;
    if (this.shortConnections % 20 === SHORT_CONNECTIONS_TO_WARN) {
      this.log.error(`the broker closed this connection ${this.shortConnections} times in a row within ${SHORT_CONNECTION_MS} ms of accepting it: is another process connected with the client id '${clientId}' (two peers or gateways started with the same --id)?`);
    }
  }

  // At most REFUSALS_LOGGED_PER_SECOND lines a second, the next one counting those left out:
  // a flood of bad messages (each with its own topic, so each reason new) cannot flood the log.
  private logRefusal(reason: string): void {
    const now = Date.now();
    if (now - this.refusalWindow >= 1000 || now < this.refusalWindow) { this.refusalWindow = now; this.refusalsLogged = 0; }
    if (this.refusalsLogged >= REFUSALS_LOGGED_PER_SECOND) { this.refusalsQuiet++; return; }
    this.refusalsLogged++;
    this.log.warn(`ignored message: ${reason}${this.refusalsQuiet ? ` (and ${this.refusalsQuiet} more not logged)` : ""}`);
    this.refusalsQuiet = 0;
  }

  // Without a protocol version: MQTT 5, and 3.1.1 when the broker refuses 5 (aedes does).
  static async connect(o: TransportOptions): Promise<Transport> {
    if (o.protocolVersion) return Transport.connectWith(o, o.protocolVersion);
    try {
      return await Transport.connectWith(o, 5);
    } catch (e) {
      if (!(e instanceof FleetError && /protocol version/i.test(e.message))) throw e;
      o.log.debug(`${o.broker} refused MQTT 5; using MQTT 3.1.1`);
      return Transport.connectWith(o, 4);
    }
  }

  private static async connectWith(o: TransportOptions, protocolVersion: 4 | 5): Promise<Transport> {
    const opts: IClientOptions = {
      clientId: o.clientId,
      protocolVersion,
      clean: true,
      keepalive: o.keepaliveSec ?? 10,
      reconnectPeriod: o.reconnectMs ?? 500,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      username: o.username, password: o.password,
      ca: o.ca, cert: o.cert, key: o.key, rejectUnauthorized: o.rejectUnauthorized,
      // MQTT 5: the broker drops messages for us that are larger than the protocol allows,
      // instead of delivering them for us to buffer and refuse.
      ...(protocolVersion === 5 ? { properties: { maximumPacketSize: MAX_PACKET_BYTES } } : {}),
      will: o.will ? { topic: o.will.topic, payload: Buffer.from("message" in o.will ? encode(o.will.message) : o.will.payload), qos: 1, retain: o.will.retain } : undefined,
    };
    let client: MqttClient;
    try {
      client = mqtt.connect(o.broker, opts);
    } catch (e) {
      throw new FleetError("E_FLEET_CONFIG", `broker URL '${o.broker}': ${(e as Error).message}`);
    }
    const t = new Transport(client, o);
    await new Promise<void>((resolve, reject) => {
      let lastError = "";
      const timer = setTimeout(() => fail(new FleetError("E_FLEET_CONNECT", `no connection to ${o.broker} within ${opts.connectTimeout} ms${lastError ? ` (last error: ${lastError})` : ""}`)), opts.connectTimeout);
      const fail = (e: Error) => { clearTimeout(timer); client.removeListener("connect", ok); client.end(true); reject(e); };
      const ok = () => { clearTimeout(timer); client.removeListener("error", onErr); resolve(); };
      // Refusals (bad credentials, not authorized) are final; network errors are retried until the timeout.
      const onErr = (e: Error & { code?: unknown }) => {
        if (typeof e.code === "number") fail(new FleetError("E_FLEET_CONNECT", `${o.broker} refused the connection: ${e.message}`));
        else lastError = e.message;
      };
      client.once("connect", ok);
      client.on("error", onErr);
    });
    return t;
  }

  get connected(): boolean { return this.client.connected; }

  // QoS 0: sent at once (dropped while offline). QoS 1: queued behind the send quota; resolves on PUBACK.
  publish(topic: string, m: Draft<Message>, qos: 0 | 1, retain = false): Promise<void> {
    return this.publishBytes(topic, encode(m), qos, retain);
  }

  // The same for a payload already encoded (the peer's module writes its own messages).
  publishBytes(topic: string, bytes: Uint8Array, qos: 0 | 1, retain = false): Promise<void> {
    const payload = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (this.closed) return Promise.reject(new FleetError("E_FLEET_CLOSED", "transport is closed"));
    if (qos === 0) {
      if (this.client.connected) this.client.publish(topic, payload, { qos: 0, retain });
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, payload, retain, done: (err) => (err ? reject(err) : resolve()) });
      this.pump();
    });
  }

  // A raw publish that bypasses encoding: only for tests and tools that send bad input on purpose.
  publishRaw(topic: string, payload: Buffer | string, qos: 0 | 1 = 0): void { this.client.publish(topic, payload, { qos }); }

  get backlog(): number { return this.queue.length + this.inflight; }
  get sendQuota(): number { return this.quota; }

  private pump(): void {
    while (this.inflight < this.quota && this.queue.length > 0) {
      const p = this.queue.shift()!;
      this.inflight++;
      let released = false;
      const release = (err?: Error) => {
        if (released) return;
        released = true;
        clearTimeout(timer);
        this.inflight--;
        p.done(err);
        this.pump();
      };
      const timer = setTimeout(() => release(), SLOT_TIMEOUT_MS); // never let a lost PUBACK hold a slot forever
      timer.unref();
      this.client.publish(p.topic, p.payload, { qos: 1, retain: p.retain }, (err) => release(err ?? undefined));
    }
  }

  async subscribe(filters: string[]): Promise<void> {
    await this.client.subscribeAsync(filters.map((f) => ({ topic: f, qos: 1 as const })).reduce((a, s) => ({ ...a, [s.topic]: { qos: s.qos } }), {}));
  }

  // Publishes a goodbye (offline status) if the broker is there, waiting at most `ms` for it.
  async farewell(topic: string, m: Draft<Message>, ms = 1000): Promise<void> {
    if (!this.client.connected || this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.publish(topic, m, 1, true).catch(() => undefined),
      new Promise<void>((r) => { timer = setTimeout(r, ms); }),
    ]);
    clearTimeout(timer);
  }

  // Never hangs: a clean disconnect when the broker answers within a second, else a forced one.
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.queue.splice(0)) p.done(new FleetError("E_FLEET_CLOSED", "transport closed"));
    if (!this.client.connected) { this.client.end(true); return; }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.client.endAsync(false).catch(() => undefined),
      new Promise<void>((r) => { timer = setTimeout(() => { this.client.end(true); r(); }, 1000); }),
    ]);
    clearTimeout(timer);
  }
}
