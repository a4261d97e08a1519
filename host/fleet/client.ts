// A fleet client: submits tasks to the gateway and streams their output; lists peers.
// A submit is re-sent (same task id, so the gateway deduplicates it) until the gateway
// acknowledges it, and again whenever nothing was heard for a while, which also recovers a
// reply lost while the broker was down. Output is assembled by byte offset, so duplicates,
// reassignments and lost stream messages never print a byte twice or out of order.
import { randomBytes, randomUUID } from "node:crypto";
import { realClock, type Clock, type TimerId } from "./clock.js";
import { FleetError } from "./errors.js";
import type { Logger } from "./log.js";
import { b64, draftProblem, type Draft, type Message, type Reply, type Status, type Submit } from "./messages.js";
import type { TaskType } from "./schemas.js";
import { checkName, topics, type Route } from "./topics.js";
import { Transport, type TransportOptions } from "./transport.js";

export interface ClientOptions {
  broker: string;
  fleet: string;
  id?: string;
  username?: string; password?: string; protocolVersion?: 4 | 5; connectTimeoutMs?: number;
  tls?: Pick<TransportOptions, "ca" | "cert" | "key" | "rejectUnauthorized">;
  resubmitMs?: number;     // re-send a submit when nothing was heard for this long
  log: Logger;
  clock?: Clock;
}

export interface SubmitRequest {
  prompt: string; steps: number; temperature: number; topp: number; seed: bigint;
  deadlineMs?: number; model?: string; timeoutMs?: number; taskId?: string;
  adapter?: string; scale?: number; // an adapter some peer holds, at a scale (default 1)
  task?: TaskType;                   // "commands": the prompt is a sentence, the output its label
}

interface Waiting {
  submit: Draft<Submit>;
  queued: boolean;          // the gateway has acknowledged it
  printed: number;
  streamed: Buffer[];
  stash: Map<number, Buffer>;
  onBytes: (b: Uint8Array) => void;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  timer: TimerId;
  timeout: TimerId | null;
}

export class FleetClient {
  private readonly waiting = new Map<string, Waiting>();
  private readonly statuses = new Map<string, Status>();
  private readonly gateways = new Map<string, boolean>();

  private constructor(readonly id: string, private readonly o: ClientOptions, private readonly t: Transport, private readonly clock: Clock) {}

  static async connect(o: ClientOptions): Promise<FleetClient> {
    checkName("fleet name", o.fleet);
    const id = checkName("client id", o.id ?? `c-${randomBytes(6).toString("hex")}`);
    const t = await Transport.connect({ broker: o.broker, clientId: `edgellm-${id}`, username: o.username, password: o.password, protocolVersion: o.protocolVersion, connectTimeoutMs: o.connectTimeoutMs, log: o.log, ...o.tls });
    const c = new FleetClient(id, o, t, o.clock ?? realClock);
    t.on("message", (route, msg) => c.onMessage(route, msg));
    await t.subscribe([topics.clientInbox(o.fleet, id), topics.peerStatuses(o.fleet), topics.gateway(o.fleet, "gateway")]);
    return c;
  }

  private get resubmitMs(): number { return this.o.resubmitMs ?? 3000; }

  submit(r: SubmitRequest, onBytes: (b: Uint8Array) => void = () => undefined): Promise<Reply> {
    const taskId = r.taskId ?? randomUUID();
    const submit: Draft<Submit> = {
      kind: "submit", taskId, client: this.id, prompt: r.prompt, steps: r.steps, temperature: r.temperature, topp: r.topp, seed: r.seed.toString(),
      ...(r.deadlineMs ? { deadlineMs: r.deadlineMs } : {}), ...(r.model ? { model: r.model } : {}),
      ...(r.adapter ? { adapter: r.adapter } : {}), ...(r.scale !== undefined ? { scale: r.scale } : {}),
      ...(r.task ? { task: r.task } : {}),
    };
    if (Buffer.byteLength(r.prompt) > 8192) return Promise.reject(new FleetError("E_FLEET_CONFIG", "prompt is longer than 8192 bytes"));
    const problem = draftProblem(submit);
    if (problem) return Promise.reject(new FleetError("E_FLEET_CONFIG", `task not sent: ${problem}`));
    return new Promise<Reply>((resolve, reject) => {
      const w: Waiting = {
        submit, queued: false, printed: 0, streamed: [], stash: new Map(), onBytes, resolve, reject,
        timer: this.clock.setTimeout(() => this.resend(taskId), this.resubmitMs),
        timeout: r.timeoutMs ? this.clock.setTimeout(() => this.giveUp(taskId, r.timeoutMs!), r.timeoutMs) : null,
      };
      this.waiting.set(taskId, w);
      this.send(submit);
    });
  }

  cancel(taskId: string, reason = "cancelled by client"): Promise<void> {
    return this.t.publish(topics.gateway(this.o.fleet, "cancel"), { kind: "cancel", taskId, reason }, 1);
  }

  private send(s: Draft<Submit>): void {
    this.t.publish(topics.gateway(this.o.fleet, "submit"), s, 1).catch((e) => this.o.log.warn(`submit: ${(e as Error).message}`));
  }

  // The wait is over: the gateway is told to drop the task, so that it does not run for nobody.
  private giveUp(taskId: string, ms: number): void {
    const w = this.waiting.get(taskId);
    if (!w) return;
    this.cancel(taskId, `the client gave up after ${ms} ms`).catch(() => undefined);
    const why = w.queued ? `queued by the gateway, but no peer finished it within ${ms} ms` : `no reply within ${ms} ms (is a gateway running?)`;
    this.fail(taskId, new FleetError("E_FLEET_TIMEOUT", `task ${taskId}: ${why}`));
  }

  private resend(taskId: string): void {
    const w = this.waiting.get(taskId);
    if (!w) return;
    this.o.log.debug(`task ${taskId}: nothing heard for ${this.resubmitMs} ms; re-sending the submit`);
    this.send(w.submit);
    w.timer = this.clock.setTimeout(() => this.resend(taskId), this.resubmitMs);
  }

  private heard(w: Waiting, taskId: string): void {
    w.queued = true;
    this.clock.clearTimeout(w.timer);
    w.timer = this.clock.setTimeout(() => this.resend(taskId), this.resubmitMs);
  }

  private onMessage(route: Route, m: Message): void {
    if (route.dir === "peer" && m.kind === "status") { this.statuses.set(m.id, m); return; }
    if (route.dir === "gw" && m.kind === "gateway") { this.gateways.set(m.id, m.online); return; }
    if (route.dir !== "client" || route.id !== this.id) return;
    switch (m.kind) {
      case "queued": { const w = this.waiting.get(m.taskId); if (w) this.heard(w, m.taskId); return; }
      case "tokens": {
        const w = this.waiting.get(m.taskId);
        if (!w) return;
        this.heard(w, m.taskId);
        w.stash.set(m.offset, Buffer.from(b64.to(m.data)));
        this.drain(w);
        return;
      }
      case "reply": this.onReply(m); return;
      default: this.o.log.warn(`ignored ${m.kind} on a client's inbox`);
    }
  }

  // Emits stashed chunks that continue (or overlap) what was already printed.
  private drain(w: Waiting): void {
    for (let progress = true; progress;) {
      progress = false;
      for (const [off, buf] of w.stash) {
        if (off > w.printed) continue;
        w.stash.delete(off);
        const end = off + buf.length;
        if (end > w.printed) {
          const fresh = buf.subarray(w.printed - off);
          w.streamed.push(fresh);
          w.printed = end;
          w.onBytes(fresh);
          progress = true;
        }
      }
    }
  }

  private onReply(r: Reply): void {
    const w = this.waiting.get(r.taskId);
    if (!w) return; // a duplicate of a reply already handled
    if (r.status === "done") {
      const full = Buffer.from(b64.to(r.data));
      const shown = Buffer.concat(w.streamed);
      if (!full.subarray(0, shown.length).equals(shown)) this.o.log.warn(`task ${r.taskId}: streamed text differs from the result`);
      if (full.length > w.printed) w.onBytes(full.subarray(w.printed));
    }
    this.settle(r.taskId);
    w.resolve(r);
  }

  private fail(taskId: string, e: Error): void {
    const w = this.waiting.get(taskId);
    if (!w) return;
    this.settle(taskId);
    w.reject(e);
  }

  private settle(taskId: string): void {
    const w = this.waiting.get(taskId)!;
    this.clock.clearTimeout(w.timer);
    if (w.timeout !== null) this.clock.clearTimeout(w.timeout);
    this.waiting.delete(taskId);
  }

  // Peers as announced by their retained status messages, after waiting `waitMs` for them.
  async peers(waitMs = 500): Promise<Status[]> {
    await new Promise((r) => setTimeout(r, waitMs));
    return [...this.statuses.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  // True once some gateway of the fleet has announced itself online (retained presence).
  get gatewayOnline(): boolean { return [...this.gateways.values()].some((x) => x); }

  async waitForGateway(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.gatewayOnline) {
      if (Date.now() > end) throw new FleetError("E_FLEET_TIMEOUT", `no gateway of fleet '${this.o.fleet}' online within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    for (const id of [...this.waiting.keys()]) this.fail(id, new FleetError("E_FLEET_CLOSED", "client closed"));
    await this.t.close();
  }
}
