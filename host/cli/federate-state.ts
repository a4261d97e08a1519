// A federated run's state file beside its adapter (-o + .federate.json), shared by the simulated
// and the fleet run: the options that must not change on --resume, the Coordinator's state
// (rounds closed, server optimizer, privacy ledger), the per-round history, and the global
// adapter itself. The state is written first and holds the adapter, so a stop between the two
// writes loses nothing: on resume the state's adapter is the one that counts.
import { existsSync, readFileSync } from "node:fs";
import type { CoordinatorState } from "../federated/coordinator.js";
import { readAdapter } from "../format/adapter-reader.js";
import { UsageError } from "./errors.js";
import { writeOutput } from "./output.js";
import type { Example } from "../commands/examples.js";
import type { Engine } from "../engine/engine.js";
import type { LoadedModel } from "../format/load.js";
import type { Rows } from "../train/finetune-data.js";
import type { LoraTrainer } from "../train/finetune.js";
import type { FleetCliOptions } from "./fleet-options.js";
import type { Kind } from "../format/spec.js";
import type { LoraArg } from "./lora-option.js";

// The parsed command line of `federate` (commander's option names).
export interface FederateOptions extends FleetCliOptions {
  simulate?: boolean; data?: string[]; output: string; base?: string; val?: string[]; split: number;
  rounds: number; clientsPerRound: number; localSteps: number; batch: number; lr: number; rank: number; alpha?: number; seq: number;
  targets: Kind[]; lora?: LoraArg[]; keepClientState?: boolean; proxMu: number;
  server: "fedavg" | "fedadam"; serverLr?: number; evalEvery: number;
  dpNoise?: number; dpClip: number; sampleRate?: number; delta: number; epsilon: number; localDp?: boolean;
  method: "backprop" | "mezo"; pool: number; eps: number; seed: number;
  id: string; roundTimeout: number; gather: number; resume?: boolean; json?: boolean;
}

// What both drivers of `federate` share (federate.ts setUp): the base, the trainer that shapes
// the adapter, DP, validation, and the options --resume must find unchanged.
export interface FederateCommon {
  base: LoadedModel;
  checksum: number;
  seq: number;
  alpha: number;
  lr: number;
  trainer: LoraTrainer;
  engine: Engine;
  dp?: { clip: number; noise: number; delta: number; epsilon: number; sampleRate: number };
  valRows?: Rows;
  valExamples?: Example[];
  run: Record<string, unknown>;  // the options --resume must find unchanged
  start?: Uint8Array;            // --lora: the global adapter to start from (f32)
}

export interface FederateState { version: 1; run: Record<string, unknown>; coordinator: CoordinatorState; history: unknown[]; adapter?: string }

export const statePathOf = (output: string): string => `${output}.federate.json`;

// The saved run (undefined: none, a fresh start), checked against this run's options.
export function loadRun(output: string, resume: boolean, run: Record<string, unknown>): { saved?: FederateState; start?: Uint8Array } {
  const statePath = statePathOf(output);
  if (!resume && existsSync(statePath)) throw new UsageError(`${statePath} holds an earlier run: add --resume to continue it, or remove it`);
  if (!resume || !existsSync(statePath)) return {};
  let saved: FederateState;
  try { saved = JSON.parse(readFileSync(statePath, "utf8")) as FederateState; } catch (e) { throw new UsageError(`${statePath}: not JSON (${(e as Error).message.split("\n")[0]})`); }
  if (saved?.version !== 1 || typeof saved.coordinator?.round !== "number") throw new UsageError(`${statePath}: damaged`);
  for (const [k, v] of Object.entries(run)) if (JSON.stringify(saved.run?.[k]) !== JSON.stringify(v)) throw new UsageError(`${statePath} was made with ${k} ${JSON.stringify(saved.run?.[k])}, this run has ${JSON.stringify(v)}`);
  const start = saved.adapter !== undefined ? new Uint8Array(Buffer.from(saved.adapter, "base64")) : new Uint8Array(readFileSync(output));
  readAdapter(start, saved.adapter !== undefined ? `${statePath} (its adapter)` : output);
  return { saved, start };
}

export function saveRound(output: string, adapter: Uint8Array, state: Omit<FederateState, "version" | "adapter">): void {
  writeOutput(statePathOf(output), JSON.stringify({ version: 1, ...state, adapter: Buffer.from(adapter).toString("base64") } satisfies FederateState), "state");
  writeOutput(output, adapter, "output");
}

// One progress line of a round (the terminal; --json prints the entry itself).
export function roundLine(rounds: number, e: { round: number; loss: number; clients: number; sampled: number; refused?: number; epsilon?: number; valExact?: number; valIntent?: number; bytes?: string }): string {
  return `round ${e.round}/${rounds} loss ${Number.isFinite(e.loss) ? e.loss.toFixed(4) : "-"} clients ${e.clients}/${e.sampled}${e.refused ? ` refused ${e.refused}` : ""}${e.bytes ? ` ${e.bytes}` : ""}${e.epsilon !== undefined ? ` ε ${e.epsilon.toFixed(3)}` : ""}${e.valExact !== undefined ? ` val exact ${(100 * e.valExact).toFixed(1)} % intent ${(100 * e.valIntent!).toFixed(1)} %` : ""}`;
}
