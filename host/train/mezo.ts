// MeZO fine-tuning driven from Node: the inference module's forward-only trainer
// (assembly/mezo/mezo.ts) on an f32 adapter loaded into an Engine, the same calls the firmware
// makes (`edgellm-fw finetune`), so the same seed and data give the same adapter bytes on V8
// and under wasm3. No I/O, no clock.
//
//   new MezoTrainer(engine with the adapter loaded last, examples, options)
//   step() × steps   (each: pick the batch, two forward losses, one update in place)
//   evaluate(examples) at any point: loss, teacher-forced exact and intent (as LoraTrainer)
//   adapterBytes()   the trained file image, its checksum written anew
import type { Engine } from "../engine/engine.js";
import { check } from "../engine/errors.js";
import type { Example } from "../commands/examples.js";
import type { Evaluation } from "./finetune.js";
import { TeacherForcedScore } from "./teacher-forced.js";

export interface MezoOptions {
  eps: number;     // perturbation size ε
  lr: number;      // η
  batch: number;   // examples per step (one z for all)
  seed: bigint;    // u64: directions and example order
}

export interface MezoStep { lossPlus: number; lossMinus: number; gradient: number }

export class MezoError extends Error {}

export class MezoTrainer {
  readonly parameters: number;
  private readonly imageBytes: number;
  private readonly batchPtr: number;
  private readonly recordCap: number; // i32s per record: header + the context's tokens
  private readonly outPtr: number;
  private textPtr = 0;
  private textCap = 0;
  stepsDone = 0;

  private imagePtr = 0;

  constructor(private readonly e: Engine, adapterBytes: number, private examples: readonly Example[], readonly o: MezoOptions) {
    this.parameters = e.x.mezoParameters();
    if (this.parameters <= 0) throw new MezoError("no adapter is loaded to train");
    if (e.x.mezoInPlace() !== 1) throw new MezoError("MeZO trains an adapter stored as f32 (this one is f16): start from an f32 adapter");
    if (examples.length === 0) throw new MezoError("no examples");
    this.imageBytes = adapterBytes;
    this.seed = o.seed;
    this.recordCap = 3 + e.info.ctx;
    this.batchPtr = e.x.alloc(4 * this.recordCap * o.batch);
    this.outPtr = e.x.alloc(16);
  }

  private seed: bigint; // example order and, by default, directions
  private get seedLo(): number { return Number(this.seed & 0xffffffffn); }
  private get seedHi(): number { return Number((this.seed >> 32n) & 0xffffffffn); }

  // Records of the given examples one after another at batchPtr (at most o.batch of them).
  private fill(chosen: readonly Example[]): void {
    let at = this.batchPtr;
    const utf8 = new TextEncoder();
    for (const ex of chosen) {
      const s = utf8.encode(ex.sentence), l = utf8.encode(ex.label);
      const text = this.textScratch(s.length + l.length);
      const mem = new Uint8Array(this.e.x.memory.buffer);
      mem.set(s, text);
      mem.set(l, text + s.length);
      check(this.e.x.exampleEncode(text, s.length, text + s.length, l.length, at, this.recordCap), "example");
      at += 4 * (3 + new Int32Array(this.e.x.memory.buffer, at, 1)[0]); // cut at the context, as backprop cuts its rows
    }
  }

  // Grown, never freed (the module's heap is a bump allocator).
  private textScratch(bytes: number): number {
    if (bytes > this.textCap) { this.textCap = Math.max(bytes, 2 * this.textCap, 256); this.textPtr = this.e.x.alloc(this.textCap); }
    return this.textPtr;
  }

  // direction: the (seed, t) z is drawn from, instead of (o.seed, this step): a seed-and-scalar
  // federated client takes its directions from a pool every party shares.
  step(direction?: { seed: bigint; t: number }): MezoStep {
    const t = ++this.stepsDone, o = this.o, n = this.examples.length;
    const chosen: Example[] = [];
    for (let b = 0; b < o.batch; b++) chosen.push(this.examples[check(this.e.x.mezoPick(this.seedLo, this.seedHi, t, b, n), "mezo")]);
    this.fill(chosen);
    const [lo, hi, dt] = direction ? [Number(direction.seed & 0xffffffffn), Number((direction.seed >> 32n) & 0xffffffffn), direction.t] : [this.seedLo, this.seedHi, t];
    check(this.e.x.mezoStep(lo, hi, dt, o.eps, o.lr, this.batchPtr, o.batch, this.outPtr), "mezo step");
    const r = new Float32Array(this.e.x.memory.buffer, this.outPtr, 3);
    return { lossPlus: r[0], lossMinus: r[1], gradient: r[2] };
  }

  // θ += c·z(seed, t): a step replayed from its numbers (c = −lr·g).
  replay(seed: bigint, t: number, c: number): void {
    check(this.e.x.mezoPerturb(Number(seed & 0xffffffffn), Number((seed >> 32n) & 0xffffffffn), t, c), "mezo replay");
  }

  // Another client's data on the same engine (a simulation runs many clients on one module).
  useExamples(examples: readonly Example[], seed: bigint): void {
    if (examples.length === 0) throw new MezoError("no examples");
    this.examples = examples;
    this.seed = seed;
    this.stepsDone = 0;
  }

  // The adapter's file bytes in linear memory, live (its checksum is stale until adapterBytes()).
  image(): Uint8Array {
    if (!this.imagePtr) this.imagePtr = check(this.e.x.adapterReseal(), "adapter");
    return new Uint8Array(this.e.x.memory.buffer, this.imagePtr, this.imageBytes);
  }

  // Overwrites the adapter with another image of the same layout (the global one, a round's start).
  setImage(bytes: Uint8Array): void {
    if (bytes.length !== this.imageBytes) throw new MezoError(`the adapter image has ${bytes.length} bytes, this trainer's ${this.imageBytes}`);
    this.image().set(bytes);
  }

  // After a restart: the adapter is already the checkpoint's, the step counter moves on.
  resumeAt(step: number): void { this.stepsDone = step; }

  evaluate(examples: readonly Example[]): Evaluation {
    const score = new TeacherForcedScore();
    for (const ex of examples) {
      const r = this.e.example(ex.sentence, ex.label);
      const n = Math.min(r.tokens.length, this.e.info.ctx); // cut as training cuts
      for (let p = 0; p + 1 < n; p++) {
        const logits = this.e.forward(r.tokens[p], p);
        if (p + 1 >= r.from) score.add(logits, r.tokens[p + 1], p + 1 < r.intentTo);
      }
      score.endExample();
    }
    return score.result();
  }

  adapterBytes(): Uint8Array {
    const p = check(this.e.x.adapterReseal(), "adapter");
    return new Uint8Array(this.e.x.memory.buffer, p, this.imageBytes).slice();
  }
}
