// Messages between a peer and its engine worker thread (runner.ts ↔ runner-worker.ts).
import type { TaskStatus } from "./messages.js";

export interface RunnerInit {
  modelBytes: Uint8Array;
  engine: "simd" | "mvp";
  kvInt8: boolean;
  cancel: SharedArrayBuffer; // Int32Array[1]: the id of the run to stop
}

export interface RunRequest {
  type: "run"; run: number; prompt: string; steps: number; temperature: number; topp: number; seed: string;
  deadlineAt: number; // Date.now() milliseconds; 0: none
}

export type RunnerOut =
  | { type: "ready"; tokPerSec: number; ctx: number; vocab: number; memoryBytes: number }
  | { type: "piece"; run: number; bytes: Uint8Array }
  | { type: "done"; run: number; status: TaskStatus; tokens: number; elapsedMs: number; error?: string }
  | { type: "fatal"; error: string };
