// A trainer's compute in a worker thread: `serve --train-data` trains here, so that a local
// round of seconds (or minutes on a loaded machine) never stops the process's event loop, where
// its MQTT connections keep alive (a blocked one misses its keepalive, the broker publishes its
// last will, and the coordinator and gateway count the peer gone mid-round).
import { Worker } from "node:worker_threads";
import type { Example } from "../commands/examples.js";
import type { Recipe } from "../fleet/messages.js";
import { LocalTrainerError, modelChecksum, type LocalResult, type LocalWork } from "./local-trainer.js";

export interface TrainInit { modelBytes: Uint8Array; examples: Example[] }
export interface TrainIn { seq: number; id: string; round: number; recipe: Recipe; global: Uint8Array }
export type TrainOut = { seq: number; ok: true; result: LocalResult } | { seq: number; ok: false; error: string };

export class TrainThread implements LocalWork {
  readonly base: number;
  readonly methods: LocalWork["methods"] = ["backprop", "mezo"];
  readonly examples: number;
  private readonly worker: Worker;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (r: LocalResult) => void; reject: (e: Error) => void }>();
  private dead: string | null = null;

  constructor(modelBytes: Uint8Array, examples: Example[]) {
    if (examples.length === 0) throw new LocalTrainerError("no training examples");
    this.base = modelChecksum({ bytes: modelBytes });
    this.examples = examples.length;
    this.worker = new Worker(new URL("./train-worker.js", import.meta.url), { workerData: { modelBytes, examples } satisfies TrainInit });
    this.worker.unref();
    this.worker.on("message", (m: TrainOut) => {
      const w = this.waiting.get(m.seq);
      if (!w) return;
      this.waiting.delete(m.seq);
      if (m.ok) w.resolve(m.result); else w.reject(new LocalTrainerError(m.error));
    });
    const fail = (why: string) => {
      this.dead = why;
      for (const w of this.waiting.values()) w.reject(new LocalTrainerError(why));
      this.waiting.clear();
    };
    this.worker.on("error", (e) => fail(`the training thread failed: ${e.message}`));
    this.worker.on("exit", (code) => fail(`the training thread exited (${code})`));
  }

  train(id: string, round: number, recipe: Recipe, global: Uint8Array): Promise<LocalResult> {
    if (this.dead) return Promise.reject(new LocalTrainerError(this.dead));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      this.worker.postMessage({ seq, id, round, recipe, global } satisfies TrainIn);
    });
  }

  async close(): Promise<void> { await this.worker.terminate(); }
}
