// --lora FILE[:SCALE] (repeatable, as llama.cpp's): adapters read and checked against their base
// by the TypeScript reader, so an adapter for another model is one line naming both files.
import { modelBase, readAdapter } from "../format/adapter-reader.js";
import { FormatError } from "../format/errors.js";
import { readFileChecked } from "../format/load.js";
import { Kind, KIND_NAMES } from "../format/spec.js";
import type { Command } from "commander";
import type { Adapter } from "../format/adapter.js";
import { adapterTargets, LORA_TARGET_KINDS } from "../train/finetune.js";
import { UsageError } from "./errors.js";

export interface LoraArg { path: string; scale: number }

// commander's collector: "FILE" or "FILE:SCALE" (a path may itself hold colons).
export function loraArg(v: string, prev: LoraArg[] = []): LoraArg[] {
  const colon = v.lastIndexOf(":");
  const tail = colon > 0 ? v.slice(colon + 1) : "";
  const scale = tail !== "" && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(tail) ? Number(tail) : NaN;
  const path = Number.isFinite(scale) ? v.slice(0, colon) : v;
  if (path === "") throw new UsageError(`--lora: the adapter path is empty in '${v}'`);
  return [...prev, { path, scale: Number.isFinite(scale) ? scale : 1 }];
}

// Each adapter's bytes, refused with one line when damaged or made for another base.
export function readAdapters(args: LoraArg[], modelBytes: Uint8Array, modelPath: string): { bytes: Uint8Array; scale: number }[] {
  const base = modelBase(modelBytes, modelPath);
  return args.map((a) => {
    const bytes = readFileChecked(a.path, "adapter");
    try { readAdapter(bytes, a.path, base); } catch (e) { if (e instanceof FormatError) throw new UsageError(e.message); throw e; }
    return { bytes, scale: a.scale };
  });
}

// --lora as the adapter a training run starts from: at most one (`tooMany` says so), read once
// and checked against the base.
export function startingAdapter(args: LoraArg[] | undefined, modelBytes: Uint8Array, modelPath: string, tooMany: string): { path: string; bytes: Uint8Array; adapter: Adapter } | undefined {
  if (!args?.length) return undefined;
  if (args.length > 1) throw new UsageError(tooMany);
  const { path } = args[0];
  const bytes = readFileChecked(path, "adapter");
  try { return { path, bytes, adapter: readAdapter(bytes, path, modelBase(modelBytes, modelPath)) }; } catch (e) { if (e instanceof FormatError) throw new UsageError(e.message); throw e; }
}

// A started run's shape (--rank, --alpha, --targets) is the starting adapter's; giving one too is refused.
export function takeAdapterShape(start: { path: string; adapter: Adapter }, cmd: Command, o: { rank: number; alpha?: number; targets: Kind[] }): void {
  for (const opt of ["rank", "alpha", "targets"]) if (cmd.getOptionValueSource(opt) === "cli") throw new UsageError(`--${opt} comes from the --lora adapter (${start.path}); drop it`);
  o.rank = start.adapter.rank; o.alpha = start.adapter.alpha; o.targets = adapterTargets(start.adapter);
}

// --targets wq,wv,…: the matrices that carry adapters, by the names `info` prints.
export const TARGET_NAMES = LORA_TARGET_KINDS.map((k) => KIND_NAMES[k]);

export function targetList(v: string): Kind[] {
  const names = v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) throw new UsageError("--targets needs at least one of " + TARGET_NAMES.join(","));
  return names.map((n) => {
    const i = TARGET_NAMES.indexOf(n);
    if (i < 0) throw new UsageError(`--targets: '${n}' is not one of ${TARGET_NAMES.join(",")}`);
    return LORA_TARGET_KINDS[i];
  });
}
