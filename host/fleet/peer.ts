// A Node peer: a thin host over the module's fleet agent (assembly/agent/, the same protocol
// code the firmware peer runs). The agent lives in the engine's worker thread; this side owns
// the MQTT connection: it sets the agent's last will, subscribes its inbox, forwards every
// received payload unread, publishes what the agent publishes (its QoS and retain), and tells it
// about every (re)connection. Task events and counters are derived from what the agent publishes.
import { randomBytes } from "node:crypto";
import { basename, extname } from "node:path";
import type { LoadedModel } from "../format/load.js";
import type { AdapterFile } from "./adapter-dir.js";
import { CHECKSUM_OFFSET } from "../format/spec.js";
import { FleetError } from "./errors.js";
import { TypedEmitter } from "./events.js";
import type { Logger } from "./log.js";
import { decode, type StatusOnline, type Draft, type TaskStatus } from "./messages.js";
import { Runner, type RunnerInfo } from "./runner.js";
import { checkName } from "./topics.js";
import { Transport, type TransportOptions } from "./transport.js";

export interface PeerOptions {
  broker: string;
  fleet: string;
  id: string;
  model: LoadedModel;
  adapters?: AdapterFile[];   // held and announced (adapter-dir.ts); a task may name one
  commandGrammar?: Uint8Array; // compiled home-command grammar (commands/compiled.ts): serve commands tasks
  engine?: "simd" | "mvp";
  kvInt8?: boolean;
  maxQueue?: number;          // tasks held at once (running + queued), 1..MAX_PEER_QUEUE
  heartbeatMs?: number;
  flushMs?: number;           // token batching window
  username?: string; password?: string; protocolVersion?: 4 | 5; connectTimeoutMs?: number;
  tls?: Pick<TransportOptions, "ca" | "cert" | "key" | "rejectUnauthorized">;
  log: Logger;
}

export interface PeerEvents {
  taskStart: (taskId: string, attempt: number) => void;
  taskEnd: (taskId: string, attempt: number, status: TaskStatus) => void;
}

const FAREWELL_MS = 1000;
const ANNOUNCE_TIMEOUT_MS = 10_000;

export function modelId(m: LoadedModel): string {
  const sum = new DataView(m.bytes.buffer, m.bytes.byteOffset, m.bytes.length).getUint32(CHECKSUM_OFFSET, true);
  const stem = basename(m.path, extname(m.path)).replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 100);
  return `${stem}-${sum.toString(16).padStart(8, "0")}`;
}

export class Peer extends TypedEmitter<PeerEvents> {
  readonly served = { done: 0, cancelled: 0, expired: 0, failed: 0, rejected: 0 };
  private heldNow = 0;
  private closed = false;
  private lastStatus: Draft<StatusOnline> | null = null;
  private readonly attempts = new Map<string, number>(); // task id → attempt last accepted
  private offlineSent: Promise<void> | null = null;
  private announced: () => void = () => undefined;
  private stop: (e: FleetError) => void = () => undefined;
  // Settles when the peer stops by itself: its engine worker died.
  readonly stopped = new Promise<FleetError>((resolve) => { this.stop = resolve; });

  private constructor(
    private readonly o: PeerOptions,
    private readonly t: Transport,
    private readonly runner: Runner,
    readonly info: RunnerInfo,
  ) { super(); }

  static async start(opts: PeerOptions): Promise<Peer> {
    checkName("peer id", opts.id);
    checkName("fleet name", opts.fleet);
    const agent = {
      fleet: opts.fleet, id: opts.id, maxQueue: opts.maxQueue ?? 4, heartbeatMs: opts.heartbeatMs ?? 1000,
      flushMs: opts.flushMs ?? 20, modelId: modelId(opts.model), impl: "node", nonce: randomBytes(8).toString("hex"),
    };
    const adapters = (opts.adapters ?? []).map((a) => ({ id: a.id, bytes: a.bytes }));
    const { runner, info } = await Runner.start(opts.model.bytes, opts.engine ?? "simd", !!opts.kvInt8, agent, adapters, opts.commandGrammar);
    let t: Transport;
    try {
      t = await Transport.connect({
        // A client id of its own: two processes given one --id must not take the connection from
        // each other, but see each other's presence (the agent stops the later one).
        broker: opts.broker, clientId: `edgellm-peer-${opts.id}-${agent.nonce.slice(0, 8)}`, username: opts.username, password: opts.password,
        protocolVersion: opts.protocolVersion, connectTimeoutMs: opts.connectTimeoutMs, log: opts.log, ...opts.tls,
        raw: true, will: { topic: info.willTopic, payload: info.willPayload, retain: true },
      });
    } catch (e) {
      await runner.close();
      throw e;
    }
    const p = new Peer(opts, t, runner, info);
    runner.on("publish", (topic, payload, flags) => p.onPublish(topic, payload, flags));
    // The agent's lines: refused input and its own bugs are warnings, the rest (rejects, cancels) info.
    runner.on("log", (line) => (/^(ignored message|bug):/.test(line) ? opts.log.warn(line) : opts.log.info(line)));
    runner.on("started", (taskId) => p.emit("taskStart", taskId, p.attempts.get(taskId) ?? 0));
    runner.on("held", (n) => { p.heldNow = n; });
    // The engine worker died: drop the connection at once, so that the broker publishes the
    // last will and the gateway moves this peer's tasks now rather than after its timeout.
    runner.on("exit", (why) => {
      if (p.closed) return;
      opts.log.error(`${why}; disconnecting`);
      void p.close(true);
      p.stop(new FleetError("E_FLEET_ENGINE", `peer ${opts.id}: ${why}`));
    });
    // Received payloads go to the agent unread: it validates them itself (the same code as the firmware's).
    t.on("raw", (topic, payload) => runner.message(topic, payload));
    t.on("connect", () => runner.connected());
    t.on("offline", () => runner.offline());
    await t.subscribe([info.subscription, info.willTopic]); // the inbox, and our own presence (the agent guards it)
    let timer: NodeJS.Timeout | undefined;
    const online = new Promise<void>((resolve, reject) => {
      p.announced = resolve;
      timer = setTimeout(() => reject(new FleetError("E_FLEET_CONFIG", "the engine worker's agent did not announce the peer")), ANNOUNCE_TIMEOUT_MS);
    });
    runner.connected();
    try {
      await online; // the agent's online status is on its way to the broker
    } catch (e) {
      await p.close(true);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    const held = (adapters.length ? `, adapters ${adapters.map((a) => a.id).join(" ")}` : "") + (opts.commandGrammar ? ", commands" : "");
    opts.log.info(`peer ${opts.id} serving ${agent.modelId} (${info.tokPerSec.toFixed(0)} tok/s, ctx ${info.ctx}${held}) on ${opts.broker}`);
    return p;
  }

  get id(): string { return this.o.id; }
  get held(): number { return this.heldNow; }

  // The online status the agent last announced.
  status(): Draft<StatusOnline> {
    if (!this.lastStatus) throw new Error("the peer has not announced itself yet");
    return this.lastStatus;
  }

  // One publish of the agent: sent as is (QoS, retain from its flags); its meaning feeds the
  // events and counters. The TS decoder checks it first: a message the gateway would refuse is
  // a bug in the agent, logged instead of sent.
  private onPublish(topic: string, payload: Uint8Array, flags: number): void {
    const d = decode(topic, payload);
    if (!d.ok) { this.o.log.error(`agent wrote an invalid message (not sent): ${d.reason}`); return; }
    const qos = (flags & 3) === 0 ? 0 : 1, retain = (flags & 4) !== 0;
    const sent = this.t.publishBytes(topic, payload, qos, retain).catch((e) => { if (!this.closed) this.o.log.warn(`${d.msg.kind}: ${(e as Error).message}`); });
    const m = d.msg;
    switch (m.kind) {
      case "status":
        if (m.online) { const { v: _v, ...draft } = m; this.lastStatus = draft; this.announced(); }
        else this.offlineSent = sent;
        break;
      case "accept": this.attempts.set(m.taskId, m.attempt); break;
      case "reject": if (m.reason.startsWith("queue full")) this.served.rejected++; break;
      case "result":
        this.attempts.delete(m.taskId);
        this.served[m.status]++;
        this.emit("taskEnd", m.taskId, m.attempt, m.status);
        break;
      case "heartbeat": case "tokens": break;
      default: this.o.log.warn(`agent published an unexpected ${m.kind}`);
    }
  }

  // Graceful stop: the agent announces offline (retained), then disconnect. `crash` skips both,
  // so the broker publishes the last will: what a pulled plug looks like (used by tests).
  async close(crash = false): Promise<void> {
    if (this.closed) return;
    if (crash) {
      this.closed = true;
      this.t.client.stream.destroy();
      this.t.client.end(true);
    } else {
      await this.runner.shutdown();
      this.closed = true;
      if (this.offlineSent && this.t.connected) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.offlineSent, new Promise<void>((r) => { timer = setTimeout(r, FAREWELL_MS); })]);
        clearTimeout(timer);
      }
      await this.t.close();
    }
    await this.runner.close();
  }
}
