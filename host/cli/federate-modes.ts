// What differs between federated runs with backprop clients (dense updates through the
// coordinator's FedAvg / DP-FedAvg) and with MeZO clients (seed-and-scalar pairs replayed by
// the server: host/federated/seed-scalar.ts): how a round runs, what the global adapter is,
// how it is scored. federate.ts runs the rounds the same way for both.
import { basename } from "node:path";
import type { Example } from "../commands/examples.js";
import { Engine } from "../engine/engine.js";
import { readAdapter } from "../format/adapter-reader.js";
import type { Coordinator } from "../federated/coordinator.js";
import { SeedPool } from "../federated/seed-scalar.js";
import { simulateRound, simulateSeedScalarRound, type LocalRecipe, type SimClient, type SimRound } from "../federated/simulate.js";
import type { Rows } from "../train/finetune-data.js";
import { f32AdapterImage, type Evaluation, type LoraTrainer } from "../train/finetune.js";
import { MezoTrainer } from "../train/mezo.js";
import { UsageError } from "./errors.js";
import { readExampleFile } from "./example-file.js";

export interface FederationMode {
  describe: string;
  initial: Float32Array;                        // the coordinator's global (empty when replayed)
  round(c: Coordinator, r: number): SimRound | null;
  evaluate(c: Coordinator): Evaluation | undefined;
  adapterBytes(c: Coordinator): Uint8Array;     // the global adapter file
}

export function denseMode(o: { trainer: LoraTrainer; start?: Uint8Array; clients: SimClient[]; val?: Rows; steps: number; localDp?: { clip: number; noise: number }; kept?: LocalRecipe["kept"]; proxMu?: number; seed: number }): FederationMode {
  const t = o.trainer;
  if (o.start) t.setAdapter(readAdapter(o.start));
  return {
    describe: `backprop clients, ${t.nLora} adapter parameters`,
    initial: t.lora.slice(),
    round: (c, r) => simulateRound(c, t, o.clients, { steps: o.steps, localDp: o.localDp, kept: o.kept, proxMu: o.proxMu }, o.seed, r),
    evaluate: (c) => { if (!o.val) return undefined; t.beginLocal(c.global, 0, 1); return t.evaluate(o.val); },
    adapterBytes: (c) => { t.beginLocal(c.global, 0, 1); return f32AdapterImage(t); },
  };
}

export function labelledExamples(path: string, what = "data file", needs = "--method mezo trains on"): Example[] {
  const f = readExampleFile(path, what);
  if (f.kind !== "labelled") throw new UsageError(`${path}: ${needs} SENTENCE<TAB>LABEL lines; this file is plain text`);
  return f.examples;
}

// One client per file, or each file's examples split into `parts` clients (as splitClients).
export function clientExamples(paths: readonly string[], parts: number): { id: string; examples: Example[] }[] {
  return paths.flatMap((path) => {
    const id = basename(path).replace(/\.[^.]*$/, ""), ex = labelledExamples(path);
    if (parts <= 1) return [{ id, examples: ex }];
    return Array.from({ length: parts }, (_, k) => ({ id: `${id}-${k}`, examples: ex.slice(Math.floor((k * ex.length) / parts), Math.floor(((k + 1) * ex.length) / parts)) }));
  }).filter((c) => c.examples.length > 0);
}

export function seedScalarMode(o: { base: Uint8Array; ctx: number; trainer: LoraTrainer; start?: Uint8Array; clients: { id: string; examples: Example[] }[]; val?: Example[];
  steps: number; batch: number; lr: number; eps: number; pool: number; seed: number }): FederationMode {
  const image = o.start ?? f32AdapterImage(o.trainer); // fresh: A random, B zero
  const holder = (): MezoTrainer => {
    const e = Engine.load(o.base, undefined, { engine: "simd", ctx: o.ctx });
    e.loadAdapter(image, 1);
    return new MezoTrainer(e, image.length, o.clients[0].examples, { eps: o.eps, lr: o.lr, batch: o.batch, seed: BigInt(o.seed) });
  };
  const sim = { clientTrainer: holder(), globalTrainer: holder(), pool: new SeedPool(o.pool, o.seed), clients: o.clients, steps: o.steps, lr: o.lr };
  return {
    describe: `MeZO clients (seed-and-scalar, pool of ${o.pool}), ${sim.globalTrainer.parameters} adapter parameters`,
    initial: new Float32Array(0),
    round: (c, r) => simulateSeedScalarRound(c, sim, o.seed, r),
    evaluate: () => (o.val ? sim.globalTrainer.evaluate(o.val) : undefined),
    adapterBytes: () => sim.globalTrainer.adapterBytes(),
  };
}
