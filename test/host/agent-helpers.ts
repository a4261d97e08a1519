// Drives the module's fleet agent (assembly/agent/) directly, as a host would: an Engine whose
// env.mqttPublish is captured, a fake clock passed into every call, and every publish checked
// with the TS decoder (host/fleet/messages.ts, ajv over host/fleet/schemas.ts).
import { readFileSync } from "node:fs";
import { Engine } from "../../host/engine/engine.js";
import type { EngineKind } from "../../host/engine/exports.js";
import { loadModelFile, type LoadedModel } from "../../host/format/load.js";
import { decode, type Message } from "../../host/fleet/messages.js";
import { haveShared, TEACHER, TOKENIZER } from "./helpers.js";

export { haveShared };

let cached: LoadedModel | null = null;
export function model(): LoadedModel {
  cached ??= loadModelFile(TEACHER, { bytes: new Uint8Array(readFileSync(TOKENIZER)), path: TOKENIZER });
  return cached;
}

export interface Pub { topic: string; payload: Buffer; qos: number; retain: boolean; msg: Message; at: number }

export interface AgentOptions {
  fleet?: string; id?: string; maxQueue?: number; heartbeatMs?: number; flushMs?: number;
  engine?: EngineKind; ctx?: number; start?: number;
  modelBytes?: Uint8Array; // an edgellm file with its tokenizer; default: stories260K
}

export const E_REJECTED = -17;

export class TestAgent {
  readonly pubs: Pub[] = [];
  readonly invalid: string[] = [];  // publishes the TS decoder refused: always a bug
  readonly logs: string[] = [];
  now: number;
  readonly e: Engine;
  private readonly topicBuf: number;
  private readonly payloadBuf: number;
  private readonly textBuf: number;

  constructor(o: AgentOptions = {}) {
    this.now = o.start ?? 1_700_000_000_000;
    this.e = Engine.load(o.modelBytes ?? model().bytes, undefined, {
      engine: o.engine ?? "simd", ctx: o.ctx ?? 0,
      agentHost: {
        publish: (topic, payload, flags) => {
          const t = Buffer.from(topic).toString("utf8"), p = Buffer.from(payload);
          const d = decode(t, p);
          // Fails the call (and so the test) at once; kept in `invalid` for the report too.
          if (!d.ok) { this.invalid.push(d.reason); throw new Error(`the agent published an invalid message: ${d.reason}`); }
          this.pubs.push({ topic: t, payload: p, qos: flags & 3, retain: (flags & 4) !== 0, msg: d.msg, at: this.now });
          return 0;
        },
        log: (line) => { this.logs.push(line); },
      },
    });
    this.topicBuf = this.e.x.alloc(300);
    this.payloadBuf = this.e.x.alloc(65536);
    this.textBuf = this.e.x.alloc(1024);
    const fleet = Buffer.from(o.fleet ?? "f1"), id = Buffer.from(o.id ?? "p1");
    const rc = this.e.x.agentInit(this.e.copyIn(fleet), fleet.length, this.e.copyIn(id), id.length, o.maxQueue ?? 4, o.heartbeatMs ?? 1000, o.flushMs ?? 20);
    if (rc !== 0) throw new Error(`agentInit: ${rc}`);
    const m = Buffer.from("stories260K-test"), impl = Buffer.from("node");
    const caps = this.e.x.agentSetCapabilities(this.e.copyIn(m), m.length, this.e.copyIn(impl), impl.length, 1234.5, 1 << 20);
    if (caps !== 0) throw new Error(`agentSetCapabilities: ${caps}`);
  }

  get x() { return this.e.x; }
  get ctx(): number { return this.e.info.ctx; }

  // One received message; rc 0 handled, E_REJECTED with the agent's reason.
  send(topic: string, payload: Buffer | string | object): { rc: number; reason: string } {
    const t = Buffer.from(topic, "utf8");
    const p = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === "string" ? payload : JSON.stringify(payload), "utf8");
    const mem = () => new Uint8Array(this.x.memory.buffer);
    if (t.length <= 300) mem().set(t, this.topicBuf);
    if (p.length <= 65536) mem().set(p, this.payloadBuf);
    const rc = this.x.agentMessage(this.topicBuf, t.length, this.payloadBuf, p.length, this.now);
    const n = this.x.agentReason(this.textBuf, 1024);
    return { rc, reason: Buffer.from(mem().subarray(this.textBuf, this.textBuf + n)).toString("utf8") };
  }

  task(fields: Record<string, unknown>, to = "edgellm/v1/f1/to/p1/task"): { rc: number; reason: string } {
    return this.send(to, { v: 1, kind: "task", taskId: "t-1", attempt: 1, leaseMs: 5000, deadlineMs: 0, prompt: "Once upon a time", steps: 32, temperature: 0, topp: 0.9, seed: "7", ...fields });
  }

  cancel(taskId: string, reason = "test"): { rc: number; reason: string } {
    return this.send("edgellm/v1/f1/to/p1/cancel", { v: 1, kind: "cancel", taskId, reason });
  }

  connected(): void { if (this.x.agentConnected(this.now) !== 0) throw new Error("agentConnected"); }

  // An adapter held by the engine and served under `id`, as a peer host adds it before
  // agentConnected: agentAddAdapter's result (its entry, or an error code).
  addAdapter(id: string, bytes: Uint8Array): number {
    const held = this.x.adapterHold(this.e.copyIn(bytes), bytes.length);
    if (held < 0) return held;
    const b = Buffer.from(id);
    return this.x.agentAddAdapter(this.e.copyIn(b), b.length, held);
  }
  tick(maxPositions = 4): number { return this.x.agentTick(this.now, maxPositions); }

  // Ticks until the agent has nothing to do right now (time advancing stepMs per tick).
  runUntilIdle(stepMs = 0, maxPositions = 4, limit = 1_000_000): number {
    for (let i = 0; i < limit; i++) {
      const w = this.tick(maxPositions);
      if (w !== 0) return w;
      this.now += stepMs;
    }
    throw new Error("the agent never went idle");
  }

  running(): string {
    const n = this.x.agentRunning(this.textBuf, 64);
    return Buffer.from(new Uint8Array(this.x.memory.buffer, this.textBuf, n)).toString("utf8");
  }

  of<K extends Message["kind"]>(kind: K): Extract<Message, { kind: K }>[] {
    return this.pubs.filter((p) => p.msg.kind === kind).map((p) => p.msg as Extract<Message, { kind: K }>);
  }

  // The bump allocator's next address (two probes apart): it moves only if something allocated.
  heapTop(): number { return this.x.alloc(16); }
}
