// What the coordinator holds between rounds, per client training method: the global adapter as
// a file (what trainers fetch), how an uploaded update's bytes become what the pure Coordinator
// checks (dense: Δ as f32; mezo: (seed index, g) pairs), and, for mezo, the replay of the
// round's aggregate after it closes. No I/O: the CLI builds one and hands it to the RoundDriver.
import { readAdapter } from "../format/adapter-reader.js";
import type { Example } from "../commands/examples.js";
import type { FedRefusal, TrainMethod } from "../fleet/messages.js";
import type { Rows } from "../train/finetune-data.js";
import { f32AdapterImage, type Evaluation, type LoraTrainer } from "../train/finetune.js";
import type { MezoTrainer } from "../train/mezo.js";
import { bytesToF32, bytesToPairs } from "./chunks.js";
import type { Coordinator } from "./coordinator.js";
import { aggregateScalars, replayAggregate, scalarProblem, type ScalarUpdate, type SeedPool } from "./seed-scalar.js";

export type Decoded =
  | { ok: true; delta: Float32Array; scalar?: Omit<ScalarUpdate, "client" | "examples" | "loss"> }
  | { ok: false; reason: FedRefusal; detail: string };

export interface GlobalModel {
  readonly method: TrainMethod;
  readonly describe: string;
  readonly initial: Float32Array;                 // the Coordinator's parameters (mezo: none, the adapter moves by replay)
  expectedBytes(bytes: number): string | null;    // an upload of this size cannot be right: why
  bytes(c: Coordinator): Uint8Array;              // the global adapter file
  decode(update: Uint8Array): Decoded;
  afterClose(accepted: ScalarUpdate[]): void;     // mezo: replay the round's aggregate
  evaluate(c: Coordinator): Evaluation | undefined;
}

// Backprop clients: Δ_k = θ_k − θ_global over the trainer's f32 adapter layout.
export function denseGlobal(trainer: LoraTrainer, val: Rows | undefined, start?: Uint8Array): GlobalModel {
  if (start) trainer.setAdapter(readAdapter(start));
  const initial = trainer.lora.slice();
  const file = (c: Coordinator) => { trainer.beginLocal(c.global, 0, 1); return f32AdapterImage(trainer); };
  return {
    method: "backprop",
    describe: `backprop clients, ${trainer.nLora} adapter parameters`,
    initial,
    expectedBytes: (n) => (n === 4 * initial.length ? null : `${n} bytes, the global adapter's update is ${4 * initial.length} (${initial.length} f32)`),
    bytes: file,
    decode: (b) => ({ ok: true, delta: bytesToF32(b) }),
    afterClose: () => undefined,
    evaluate: (c) => { if (!val) return undefined; trainer.beginLocal(c.global, 0, 1); return trainer.evaluate(val); },
  };
}

// MeZO clients (seed-and-scalar): the holder's adapter is the global; updates are pairs.
export function scalarGlobal(holder: MezoTrainer, pool: SeedPool, steps: number, lr: number, val: readonly Example[] | undefined): GlobalModel {
  return {
    method: "mezo",
    describe: `MeZO clients (seed-and-scalar, pool of ${pool.size}), ${holder.parameters} adapter parameters`,
    initial: new Float32Array(0),
    expectedBytes: (n) => (n % 8 === 0 && n / 8 <= steps ? null : `${n} bytes is not at most ${steps} (index, gradient) pairs of 8 bytes`),
    bytes: () => holder.adapterBytes(),
    decode: (b) => {
      const { index, grad } = bytesToPairs(b);
      const problem = scalarProblem({ client: "", examples: 1, index, grad, loss: 0 }, pool, steps);
      if (problem) return { ok: false, reason: /gradient \d+ is/.test(problem) ? "non-finite" : "shape", detail: problem };
      return { ok: true, delta: new Float32Array(0), scalar: { index, grad } };
    },
    afterClose: (accepted) => { if (accepted.length) replayAggregate(holder, pool, aggregateScalars(accepted), lr); },
    evaluate: () => (val ? holder.evaluate(val) : undefined),
  };
}
