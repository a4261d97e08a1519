// The peer's handle on its engine worker: one run at a time, pieces streamed back, cancellable.
import { Worker } from "node:worker_threads";
import { FleetError } from "./errors.js";
import type { TaskStatus } from "./messages.js";
import type { RunnerInit, RunnerOut, RunRequest } from "./runner-protocol.js";

export interface RunnerInfo { tokPerSec: number; ctx: number; vocab: number; memoryBytes: number }
export interface RunOutcome { status: TaskStatus; tokens: number; elapsedMs: number; error?: string }
export type RunParams = Omit<RunRequest, "type" | "run">;

interface Active { run: number; onPiece: (b: Uint8Array) => void; resolve: (o: RunOutcome) => void }

export class Runner {
  private readonly worker: Worker;
  private readonly cancelFlag: Int32Array;
  private active: Active | null = null;
  private seq = 0;
  private dead: string | null = null;

  private constructor(worker: Worker, cancel: SharedArrayBuffer) {
    this.worker = worker;
    this.cancelFlag = new Int32Array(cancel);
  }

  static start(modelBytes: Uint8Array, engine: "simd" | "mvp", kvInt8: boolean): Promise<{ runner: Runner; info: RunnerInfo }> {
    const cancel = new SharedArrayBuffer(4);
    const init: RunnerInit = { modelBytes, engine, kvInt8, cancel };
    const worker = new Worker(new URL("./runner-worker.js", import.meta.url), { workerData: init });
    const runner = new Runner(worker, cancel);
    return new Promise((resolve, reject) => {
      worker.on("message", (m: RunnerOut) => {
        if (m.type === "ready") resolve({ runner, info: m });
        else if (m.type === "fatal") reject(new FleetError("E_FLEET_CONFIG", `engine: ${m.error}`));
        else runner.onOut(m);
      });
      worker.on("error", (e) => { runner.fail(e.message); reject(e); });
      worker.on("exit", (code) => runner.fail(`engine worker exited (${code})`));
    });
  }

  get busy(): boolean { return this.active !== null; }

  run(p: RunParams, onPiece: (b: Uint8Array) => void): { run: number; done: Promise<RunOutcome> } {
    if (this.active) throw new Error("runner is busy");
    const run = ++this.seq;
    const done = new Promise<RunOutcome>((resolve) => {
      if (this.dead) { resolve({ status: "failed", tokens: 0, elapsedMs: 0, error: this.dead }); return; }
      this.active = { run, onPiece, resolve };
      this.worker.postMessage({ type: "run", run, ...p } satisfies RunRequest);
    });
    return { run, done };
  }

  cancel(run: number): void { Atomics.store(this.cancelFlag, 0, run); }

  async close(): Promise<void> { await this.worker.terminate(); }

  private onOut(m: RunnerOut): void {
    const a = this.active;
    if (!a || m.type === "ready" || m.type === "fatal" || m.run !== a.run) return;
    if (m.type === "piece") { a.onPiece(m.bytes); return; }
    this.active = null;
    a.resolve({ status: m.status, tokens: m.tokens, elapsedMs: m.elapsedMs, error: m.error });
  }

  private fail(why: string): void {
    this.dead = why;
    const a = this.active;
    this.active = null;
    a?.resolve({ status: "failed", tokens: 0, elapsedMs: 0, error: why });
  }
}
