// A fine-tuning run's checkpoint: DIR/finetune.json (what the run was and how far it got) and
// DIR/state.bin (adapter parameters and Adam moments, f32), each written atomically, so a
// stopped run resumes where it was and ends bit for bit where an uninterrupted one would.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeDirs } from "../make-dirs.js";
import type { Series } from "./curve.js";

export interface FinetuneMeta {
  version: 1;
  step: number;
  run: Record<string, unknown>;  // the options that must match to resume (base, data, rank, …)
  history: Array<{ step: number; loss: number; valLoss?: number; valExact?: number; valIntent?: number }>;
}

export class CheckpointError extends Error {}

const META = "finetune.json", STATE = "state.bin";

function writeAtomic(path: string, data: Uint8Array | string): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

export function saveFinetune(dir: string, meta: FinetuneMeta, state: Float32Array): void {
  makeDirs(dir);
  writeAtomic(join(dir, STATE), new Uint8Array(state.buffer, state.byteOffset, state.byteLength));
  writeAtomic(join(dir, META), JSON.stringify(meta));
}

export const hasFinetune = (dir: string): boolean => existsSync(join(dir, META));

// What a run record trains, to name it when a checkpoint of another kind is resumed (their keys
// differ, so "made with rank undefined" would be the message otherwise).
const kindOf = (run: Record<string, unknown>): string =>
  run.full === true ? "a --full run (every weight)" : run.method === "mezo" ? "a --method mezo adapter run" : "a backprop adapter run";

// The checkpoint, checked against this run's options; undefined when there is none.
// finite: false for a state that is not all numbers (MeZO's is the adapter file image, checked by its reader).
export function loadFinetune(dir: string, run: Record<string, unknown>, o: { finite?: boolean } = {}): { meta: FinetuneMeta; state: Float32Array } | undefined {
  if (!hasFinetune(dir)) return undefined;
  let meta: FinetuneMeta;
  try { meta = JSON.parse(readFileSync(join(dir, META), "utf8")) as FinetuneMeta; } catch (e) { throw new CheckpointError(`checkpoint ${dir}: ${META} is not JSON (${(e as Error).message.split("\n")[0]})`); }
  if (meta?.version !== 1 || !Number.isInteger(meta.step) || meta.step < 0 || !Array.isArray(meta.history)) throw new CheckpointError(`checkpoint ${dir}: ${META} is damaged`);
  if (kindOf(meta.run ?? {}) !== kindOf(run)) throw new CheckpointError(`checkpoint ${dir} holds ${kindOf(meta.run ?? {})}, this is ${kindOf(run)}: start over with another --checkpoint`);
  for (const [k, v] of Object.entries(run)) {
    if (JSON.stringify(meta.run?.[k]) !== JSON.stringify(v)) throw new CheckpointError(`checkpoint ${dir} was made with ${k} ${JSON.stringify(meta.run?.[k])}, this run has ${JSON.stringify(v)}: start over with another --checkpoint`);
  }
  const bytes = readFileSync(join(dir, STATE));
  if (bytes.length % 4 !== 0) throw new CheckpointError(`checkpoint ${dir}: ${STATE} is damaged (${bytes.length} bytes)`);
  const state = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  if (o.finite !== false && state.some((x) => !Number.isFinite(x))) throw new CheckpointError(`checkpoint ${dir}: ${STATE} holds non-finite numbers`);
  return { meta, state };
}

// The curve of a run's history: training loss, and validation loss when there is one.
export function finetuneSeries(history: FinetuneMeta["history"]): Series[] {
  const s: Series[] = [{ name: "training loss on the labels (nats/token, smoothed)", color: "#1f77b4", points: history.filter((h) => Number.isFinite(h.loss)).map((h) => [h.step, h.loss]) }];
  const val = history.filter((h) => h.valLoss !== undefined);
  if (val.length) s.push({ name: "validation loss", color: "#d62728", points: val.map((h) => [h.step, h.valLoss!]) });
  return s;
}
