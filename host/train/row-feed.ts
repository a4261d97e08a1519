// Rows into the training module, for the fine-tuning trainers (LoraTrainer, FullTrainer): a
// random batch a step from a seeded stream (a resumed run replays it), and the teacher-forced
// evaluation of a whole row set, batch by batch, through the net's forward.
import type { Rows } from "./finetune-data.js";
import { prng } from "./corpus.js";
import type { TrainExports } from "./module.js";
import type { TrainNet } from "./net.js";
import { TeacherForcedScore, type Evaluation } from "./teacher-forced.js";

// The learning rate at a step: cosine from lr down to 10 % of it over `total` steps.
export const cosineLr = (lr: number, done: number, total: number): number =>
  lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, done / Math.max(1, total)))));

export class RowFeed {
  readonly tokensPtr: number;   // i32 [batch][T]
  readonly targetsPtr: number;  // i32 [batch][T], −1: not trained on
  private random: () => number;

  constructor(private readonly x: TrainExports, readonly batch: number, readonly T: number, seed: number) {
    this.tokensPtr = x.alloc(4 * batch * T);
    this.targetsPtr = x.alloc(4 * batch * T);
    this.random = prng(seed);
  }

  // A fresh stream, `skipBatches` batches into it (a resumed run's).
  reseed(seed: number, skipBatches = 0): void {
    this.random = prng(seed);
    for (let i = 0; i < skipBatches * this.batch; i++) this.random();
  }

  fillRandom(rows: Rows): void {
    const T = this.T;
    // Views made anew: a module call may have grown (and so detached) its memory.
    const tk = new Int32Array(this.x.memory.buffer, this.tokensPtr, this.batch * T), tg = new Int32Array(this.x.memory.buffer, this.targetsPtr, this.batch * T);
    for (let b = 0; b < this.batch; b++) {
      const i = Math.floor(this.random() * rows.n);
      tk.set(rows.tokens.subarray(i * T, i * T + T), b * T);
      tg.set(rows.targets.subarray(i * T, i * T + T), b * T);
    }
  }

  evaluate(net: TrainNet, rows: Rows): Evaluation {
    const T = this.T, V = net.config.vocabSize, B = this.batch;
    const score = new TeacherForcedScore();
    for (let start = 0; start < rows.n; start += B) {
      const n = Math.min(B, rows.n - start);
      const tk = new Int32Array(this.x.memory.buffer, this.tokensPtr, B * T), tg = new Int32Array(this.x.memory.buffer, this.targetsPtr, B * T);
      tk.fill(1); tg.fill(-1);
      tk.set(rows.tokens.subarray(start * T, (start + n) * T));
      tg.set(rows.targets.subarray(start * T, (start + n) * T));
      this.x.forward(net.id, this.tokensPtr);
      const logits = net.logits, targets = new Int32Array(this.x.memory.buffer, this.targetsPtr, B * T);
      for (let b = 0; b < n; b++) {
        for (let p = 0; p < T; p++) {
          const y = targets[b * T + p];
          if (y >= 0) score.add(logits.subarray((b * T + p) * V, (b * T + p + 1) * V), y, p + 1 < rows.intentTo[start + b]);
        }
        score.endExample();
      }
    }
    return score.result();
  }
}
