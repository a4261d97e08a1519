// The peer's handle on its worker thread (runner-worker.ts), which owns the Engine and the
// module's fleet agent: received payloads go in, the agent's publishes and log lines come out.
import { Worker } from "node:worker_threads";
import { FleetError } from "./errors.js";
import { TypedEmitter } from "./events.js";
import type { AgentConfig, RunnerIn, RunnerInit, RunnerOut } from "./runner-protocol.js";

export interface RunnerInfo {
  tokPerSec: number; ctx: number; vocab: number; memoryBytes: number;
  subscription: string; willTopic: string; willPayload: Uint8Array;
}

export interface RunnerEvents {
  publish: (topic: string, payload: Uint8Array, flags: number) => void;
  log: (line: string) => void;
  started: (taskId: string) => void;
  held: (held: number) => void;
  exit: (why: string) => void;
}

export class Runner extends TypedEmitter<RunnerEvents> {
  private readonly worker: Worker;
  private dead: string | null = null;
  private shutdownDone: (() => void) | null = null;

  private constructor(worker: Worker) {
    super();
    this.worker = worker;
  }

  static start(modelBytes: Uint8Array, engine: "simd" | "mvp", kvInt8: boolean, agent: AgentConfig, adapters: RunnerInit["adapters"] = [],
    commandGrammar?: Uint8Array): Promise<{ runner: Runner; info: RunnerInfo }> {
    const init: RunnerInit = { modelBytes, engine, kvInt8, agent, adapters, commandGrammar };
    const worker = new Worker(new URL("./runner-worker.js", import.meta.url), { workerData: init });
    const runner = new Runner(worker);
    return new Promise((resolve, reject) => {
      worker.on("message", (m: RunnerOut) => {
        if (m.type === "ready") resolve({ runner, info: m });
        else if (m.type === "fatal") { reject(new FleetError("E_FLEET_CONFIG", `engine: ${m.error}`)); runner.fail(m.error); }
        else runner.onOut(m);
      });
      worker.on("error", (e) => { runner.fail(e.message); reject(e); });
      worker.on("exit", (code) => runner.fail(`engine worker exited (${code})`));
    });
  }

  private post(m: RunnerIn, transfer: ArrayBuffer[] = []): void { if (!this.dead) this.worker.postMessage(m, transfer); }

  // mqtt.js hands out payloads as views into larger buffers, and posting a view copies the whole
  // buffer behind it: a copy of just the payload's bytes is moved to the worker instead.
  message(topic: string, payload: Uint8Array): void {
    const own = new Uint8Array(payload);
    this.post({ type: "message", topic, payload: own }, [own.buffer]);
  }
  connected(): void { this.post({ type: "connected" }); }
  offline(): void { this.post({ type: "offline" }); }

  // agentShutdown: resolves once the worker has made the call (its publish comes before).
  shutdown(): Promise<void> {
    if (this.dead) return Promise.resolve();
    return new Promise((resolve) => { this.shutdownDone = resolve; this.post({ type: "shutdown" }); });
  }

  async close(): Promise<void> { await this.worker.terminate(); }

  private onOut(m: Exclude<RunnerOut, { type: "ready" } | { type: "fatal" }>): void {
    switch (m.type) {
      case "publish": this.emit("publish", m.topic, m.payload, m.flags); break;
      case "log": this.emit("log", m.line); break;
      case "started": this.emit("started", m.taskId); break;
      case "held": this.emit("held", m.held); break;
      case "shutdown": this.shutdownDone?.(); this.shutdownDone = null; break;
      default: { const never: never = m; throw new Error(`unknown worker message ${JSON.stringify(never)}`); }
    }
  }

  private fail(why: string): void {
    if (this.dead) return;
    this.dead = why;
    this.shutdownDone?.();
    this.shutdownDone = null;
    this.emit("exit", why);
  }
}
