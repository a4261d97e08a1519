// A Node peer: announces itself (retained status, last-will offline), heartbeats, takes the
// tasks addressed to it, runs them one at a time on its engine worker, streams the pieces and
// publishes the result. Honours cancel and deadlines; a full queue rejects.
import { freemem } from "node:os";
import { basename, extname } from "node:path";
import type { LoadedModel } from "../format/load.js";
import { quantOf } from "../format/load.js";
import { CHECKSUM_OFFSET } from "../format/spec.js";
import { realClock, type Clock, type TimerId } from "./clock.js";
import { TypedEmitter } from "./events.js";
import type { Logger } from "./log.js";
import { b64, type Cancel, type Draft, type Message, type StatusOnline, type Task, type TaskStatus } from "./messages.js";
import { Runner, type RunnerInfo } from "./runner.js";
import type { Route } from "./topics.js";
import { checkName, topics } from "./topics.js";
import { Transport, type TransportOptions } from "./transport.js";

export interface PeerOptions {
  broker: string;
  fleet: string;
  id: string;
  model: LoadedModel;
  engine?: "simd" | "mvp";
  kvInt8?: boolean;
  maxQueue?: number;          // tasks held at once (running + queued)
  heartbeatMs?: number;
  flushMs?: number;           // token batching window
  username?: string; password?: string; protocolVersion?: 4 | 5; connectTimeoutMs?: number;
  tls?: Pick<TransportOptions, "ca" | "cert" | "key" | "rejectUnauthorized">;
  log: Logger;
  clock?: Clock;
}

export interface PeerEvents {
  taskStart: (taskId: string, attempt: number) => void;
  taskEnd: (taskId: string, attempt: number, status: TaskStatus) => void;
}

interface Held { task: Task; deadlineAt: number; cancelled: boolean }
interface Running extends Held { run: number; out: Buffer[]; outBytes: number; sent: number; flush: TimerId | null }

export function modelId(m: LoadedModel): string {
  const sum = new DataView(m.bytes.buffer, m.bytes.byteOffset, m.bytes.length).getUint32(CHECKSUM_OFFSET, true);
  const stem = basename(m.path, extname(m.path)).replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 100);
  return `${stem}-${sum.toString(16).padStart(8, "0")}`;
}

export class Peer extends TypedEmitter<PeerEvents> {
  private readonly queue: Held[] = [];
  private running: Running | null = null;
  private heartbeat: TimerId | null = null;
  private closed = false;
  readonly served = { done: 0, cancelled: 0, expired: 0, failed: 0, rejected: 0 };

  private constructor(
    private readonly o: PeerOptions & { maxQueue: number; heartbeatMs: number; flushMs: number },
    private readonly t: Transport,
    private readonly runner: Runner,
    private readonly info: RunnerInfo,
    private readonly clock: Clock,
  ) { super(); }

  static async start(opts: PeerOptions): Promise<Peer> {
    checkName("peer id", opts.id);
    checkName("fleet name", opts.fleet);
    const o = { maxQueue: 4, heartbeatMs: 1000, flushMs: 20, ...opts };
    const { runner, info } = await Runner.start(o.model.bytes, o.engine ?? "simd", !!o.kvInt8);
    let t: Transport;
    try {
      t = await Transport.connect({
        broker: o.broker, clientId: `edgellm-peer-${o.id}`, username: o.username, password: o.password,
        protocolVersion: o.protocolVersion, connectTimeoutMs: o.connectTimeoutMs, log: o.log, ...o.tls,
        will: { topic: topics.peer(o.fleet, o.id, "status"), message: { kind: "status", id: o.id, online: false }, retain: true },
      });
    } catch (e) {
      await runner.close();
      throw e;
    }
    const p = new Peer(o, t, runner, info, o.clock ?? realClock);
    t.on("message", (route, msg) => p.onMessage(route, msg));
    t.on("connect", () => void p.announce());
    await t.subscribe([topics.peerInbox(o.fleet, o.id)]);
    await p.announce();
    p.heartbeat = p.clock.setInterval(() => p.beat(), o.heartbeatMs);
    o.log.info(`peer ${o.id} serving ${modelId(o.model)} (${info.tokPerSec.toFixed(0)} tok/s, ctx ${info.ctx}) on ${o.broker}`);
    return p;
  }

  get id(): string { return this.o.id; }
  get held(): number { return this.queue.length + (this.running ? 1 : 0); }

  status(): Draft<StatusOnline> {
    return {
      kind: "status", id: this.o.id, online: true, ts: this.clock.now(), impl: "node",
      model: { id: modelId(this.o.model), quant: quantOf(this.o.model.image), ctx: this.info.ctx, vocab: this.info.vocab },
      tokPerSec: Math.round(this.info.tokPerSec * 10) / 10, freeMem: freemem(), queue: this.held, maxQueue: this.o.maxQueue,
    };
  }

  private async announce(): Promise<void> {
    if (this.closed) return;
    await this.t.publish(topics.peer(this.o.fleet, this.o.id, "status"), this.status(), 1, true).catch((e) => this.o.log.warn(`status: ${(e as Error).message}`));
  }

  private beat(): void {
    const tasks = [...this.queue.map((h) => h.task.taskId), ...(this.running ? [this.running.task.taskId] : [])];
    this.t.publish(topics.peer(this.o.fleet, this.o.id, "heartbeat"), { kind: "heartbeat", id: this.o.id, ts: this.clock.now(), queue: tasks.length, tasks }, 0).catch(() => undefined);
  }

  // One handler per kind; the transport has validated the payload already.
  private onMessage(route: Route, m: Message): void {
    if (route.dir !== "to" || route.id !== this.o.id) return;
    switch (m.kind) {
      case "task": this.onTask(m); break;
      case "cancel": this.onCancel(m); break;
      default: this.o.log.warn(`ignored ${m.kind} on a peer's inbox`);
    }
  }

  private send(kind: "accept" | "reject" | "tokens" | "result", m: Draft<Message>, qos: 0 | 1): void {
    this.t.publish(topics.peer(this.o.fleet, this.o.id, kind), m, qos).catch((e) => this.o.log.warn(`${kind}: ${(e as Error).message}`));
  }

  private onTask(task: Task): void {
    const same = this.running?.task.taskId === task.taskId ? this.running : this.queue.find((h) => h.task.taskId === task.taskId);
    if (same) { // the gateway gave it to us again: keep the work, answer under the new attempt
      same.task = task;
      this.send("accept", { kind: "accept", taskId: task.taskId, attempt: task.attempt }, 1);
      return;
    }
    if (this.held >= this.o.maxQueue) {
      this.served.rejected++;
      this.send("reject", { kind: "reject", taskId: task.taskId, attempt: task.attempt, reason: `queue full (${this.o.maxQueue})` }, 1);
      return;
    }
    if (task.steps > this.info.ctx) {
      this.send("reject", { kind: "reject", taskId: task.taskId, attempt: task.attempt, reason: `steps ${task.steps} exceed context ${this.info.ctx}` }, 1);
      return;
    }
    this.queue.push({ task, deadlineAt: task.deadlineMs ? Date.now() + task.deadlineMs : 0, cancelled: false });
    this.send("accept", { kind: "accept", taskId: task.taskId, attempt: task.attempt }, 1);
    this.pump();
  }

  private onCancel(c: Cancel): void {
    const i = this.queue.findIndex((h) => h.task.taskId === c.taskId);
    if (i >= 0) {
      const [h] = this.queue.splice(i, 1);
      this.o.log.info(`task ${c.taskId} cancelled while queued: ${c.reason}`);
      this.publishResult(h.task, "cancelled", Buffer.alloc(0), 0, 0);
      return;
    }
    if (this.running?.task.taskId === c.taskId && !this.running.cancelled) {
      this.running.cancelled = true;
      this.o.log.info(`task ${c.taskId} cancelled while running: ${c.reason}`);
      this.runner.cancel(this.running.run);
    }
  }

  private pump(): void {
    if (this.running || this.closed || this.queue.length === 0) return;
    const h = this.queue.shift()!;
    const { task } = h;
    const { run, done } = this.runner.run({
      prompt: task.prompt, steps: task.steps, temperature: task.temperature, topp: task.topp, seed: task.seed, deadlineAt: h.deadlineAt,
    }, (bytes) => this.onPiece(bytes));
    const r: Running = { ...h, run, out: [], outBytes: 0, sent: 0, flush: null };
    this.running = r;
    this.emit("taskStart", task.taskId, task.attempt);
    void done.then((o) => {
      this.flush();
      this.running = null;
      const data = Buffer.concat(r.out);
      this.publishResult(r.task, o.status, data, o.tokens, o.elapsedMs, o.error);
      this.pump();
    });
  }

  private onPiece(bytes: Uint8Array): void {
    const r = this.running;
    if (!r) return;
    r.out.push(Buffer.from(bytes));
    r.outBytes += bytes.length;
    if (r.outBytes - r.sent >= 1024) this.flush();
    else if (r.flush === null) r.flush = this.clock.setTimeout(() => this.flush(), this.o.flushMs);
  }

  // Streams the bytes not yet sent as one tokens message (QoS 0: the result carries them all).
  private flush(): void {
    const r = this.running;
    if (!r) return;
    if (r.flush !== null) { this.clock.clearTimeout(r.flush); r.flush = null; }
    if (r.outBytes === r.sent) return;
    const all = Buffer.concat(r.out);
    r.out = [all];
    const data = all.subarray(r.sent);
    this.send("tokens", { kind: "tokens", taskId: r.task.taskId, attempt: r.task.attempt, offset: r.sent, data: b64.from(data) }, 0);
    r.sent = r.outBytes;
  }

  private publishResult(task: Task, status: TaskStatus, data: Buffer, tokens: number, elapsedMs: number, error?: string): void {
    let payload = b64.from(data);
    if (payload.length > 60000) { status = "failed"; error = `output of ${data.length} bytes is over the message limit`; payload = ""; }
    this.served[status]++;
    this.send("result", { kind: "result", taskId: task.taskId, attempt: task.attempt, status, data: payload, tokens, elapsedMs: Math.round(elapsedMs * 1000) / 1000, ...(error ? { error } : {}) }, 1);
    this.emit("taskEnd", task.taskId, task.attempt, status);
  }

  // Graceful stop: announce offline (retained), then disconnect. `crash` skips both, so the
  // broker publishes the last will: what a pulled plug looks like (used by tests).
  async close(crash = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== null) this.clock.clearInterval(this.heartbeat);
    if (this.running) this.runner.cancel(this.running.run);
    if (crash) {
      this.t.client.stream.destroy();
      this.t.client.end(true);
    } else {
      await this.t.farewell(topics.peer(this.o.fleet, this.o.id, "status"), { kind: "status", id: this.o.id, online: false });
      await this.t.close();
    }
    await this.runner.close();
  }
}
