// Resumable checkpoints: dir/checkpoint.json (step, shape, loss history) and dir/state.bin
// (parameters, then Adam's two moments, f32). Written to temporary names, then renamed, so an
// interrupted write never replaces a good checkpoint.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { makeDirs } from "../make-dirs.js";
import { join } from "node:path";
import type { TrainNet } from "./net.js";
import type { LogEntry } from "./log-entry.js";

// embedding: absent in checkpoints written before q4 tables existed, which were all "int8".
// attention: absent in checkpoints written before mixed precision, whose attention was "quant".
interface CheckpointMeta { version: 1; step: number; nParams: number; shape: unknown; quant: string; embedding?: string; attention?: string; history: LogEntry[] }

const checkpointError = (message: string) => Object.assign(new Error(message), { code: "E_CHECKPOINT" });

export function saveCheckpoint(dir: string, net: TrainNet, step: number, history: LogEntry[]): void {
  try {
    writeCheckpoint(dir, net, step, history);
  } catch (e) {
    throw checkpointError(`checkpoint ${dir}: cannot be written at step ${step} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function writeCheckpoint(dir: string, net: TrainNet, step: number, history: LogEntry[]): void {
  makeDirs(dir);
  const state = new Float32Array(3 * net.n);
  state.set(net.params, 0); state.set(net.moment1, net.n); state.set(net.moment2, 2 * net.n);
  writeFileSync(join(dir, "state.bin.tmp"), new Uint8Array(state.buffer));
  const meta: CheckpointMeta = { version: 1, step, nParams: net.n, shape: net.config, quant: net.quant, embedding: net.table, attention: net.attention, history };
  writeFileSync(join(dir, "checkpoint.json.tmp"), JSON.stringify(meta));
  renameSync(join(dir, "state.bin.tmp"), join(dir, "state.bin"));
  renameSync(join(dir, "checkpoint.json.tmp"), join(dir, "checkpoint.json"));
}

// The step a checkpoint directory holds, or undefined when it holds none; a damaged
// checkpoint.json counts as a checkpoint (NaN), so that nothing overwrites it unasked.
export function checkpointStep(dir: string): number | undefined {
  try {
    const meta = readMeta(dir);
    return meta === undefined ? undefined : Number(meta.step);
  } catch { return NaN; }
}

// Throws what is wrong with a checkpoint that exists but cannot be loaded (E_CHECKPOINT).
export function checkCheckpointMeta(dir: string): void {
  readMeta(dir);
}

// dir/checkpoint.json, or undefined when there is none; invalid JSON is an E_CHECKPOINT error.
function readMeta(dir: string): CheckpointMeta | undefined {
  const metaPath = join(dir, "checkpoint.json");
  if (!existsSync(metaPath)) return undefined;
  let meta: unknown;
  try { meta = JSON.parse(readFileSync(metaPath, "utf8")); } catch (e) {
    throw checkpointError(`checkpoint ${metaPath} is not valid JSON (${(e as Error).message}); use another --checkpoint directory`);
  }
  const m = meta as Partial<CheckpointMeta> | null;
  const problem = typeof m !== "object" || m === null || Array.isArray(m) ? "not a JSON object"
    : !Number.isSafeInteger(m.step) || (m.step as number) < 0 ? `"step" ${JSON.stringify(m.step)} is not a whole number of steps`
    : !Array.isArray(m.history) ? `"history" is not a list`
    : null;
  if (problem) throw checkpointError(`checkpoint ${metaPath}: ${problem}; use another --checkpoint directory`);
  return m as CheckpointMeta;
}

// Restores parameters and moments; undefined when there is no checkpoint. A checkpoint of a
// different shape is an error, not silently ignored.
export function loadCheckpoint(dir: string, net: TrainNet): { step: number; history: LogEntry[] } | undefined {
  const meta = readMeta(dir);
  if (meta === undefined) return undefined;
  const embedding = meta.embedding ?? "int8", attention = meta.attention ?? meta.quant;
  if (meta.version !== 1 || meta.nParams !== net.n || JSON.stringify(meta.shape) !== JSON.stringify(net.config) || meta.quant !== net.quant || embedding !== net.table || attention !== net.attention) {
    throw checkpointError(`checkpoint ${dir} is for a different student (${JSON.stringify(meta.shape)}, ${meta.quant}, attention ${attention}, embedding ${embedding}); use another --checkpoint directory`);
  }
  const statePath = join(dir, "state.bin");
  if (!existsSync(statePath)) throw checkpointError(`checkpoint ${dir}: state.bin is missing`);
  const b = readFileSync(statePath);
  if (b.byteLength !== 12 * net.n) throw checkpointError(`checkpoint ${dir}: state.bin has ${b.byteLength} bytes, expected ${12 * net.n}`);
  const state = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const bad = state.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw checkpointError(`checkpoint ${dir}: state.bin holds a non-finite value (${state[bad]} at float ${bad}); use another --checkpoint directory`);
  net.params.set(state.subarray(0, net.n));
  net.moment1.set(state.subarray(net.n, 2 * net.n));
  net.moment2.set(state.subarray(2 * net.n));
  return { step: meta.step, history: meta.history };
}
