// Shared fixtures for the firmware tests: the edgellm-fw binary, models converted at run time
// from ../shared (never committed), and the V8 engine's output to compare against.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../host/engine/engine.js";
import type { EngineKind } from "../../host/engine/exports.js";
import { generate } from "../../host/engine/generate.js";
import { PROJECT_ROOT } from "../../host/engine/module.js";
import { SHARED as SHARED_DIR } from "../requirements.js";
import { convertModel, type EmbeddingName, type QuantName, type TernaryFormat } from "../../host/format/convert.js";
import { readLlama2cV0 } from "../../host/format/llama2c.js";
import { writeModel } from "../../host/format/writer.js";

export const ROOT = PROJECT_ROOT;
export const FW = join(ROOT, "firmware", "build", "edgellm-fw");
// wasm3 built with the ESP32 settings (firmware/wasm3-device.defs).
export const FW_DEVICE = join(ROOT, "firmware", "build", "edgellm-fw-device");
export const SHARED = SHARED_DIR;
export const CHECKPOINT = join(SHARED, "models", "stories260K.bin");
export const TOKENIZER = join(SHARED, "models", "tok512.bin");
export const REFERENCE = join(SHARED, "reference", "stories260K-greedy.json");

// The firmware is part of the build (npm run build): a test that needs it fails without it.
export function requireFirmware(): void {
  if (!existsSync(FW)) throw new Error(`${FW} is missing: run npm run build`);
}

export const workDir = mkdtempSync(join(tmpdir(), "edgellm-fw-test-"));
process.on("exit", () => rmSync(workDir, { recursive: true, force: true }));

const converted = new Map<string, string>();

// stories260K converted to an edgellm file (tokenizer embedded unless withTokenizer is false).
export function model(quant: QuantName, withTokenizer = true, embedding: EmbeddingName = "default", ternaryFormat: TernaryFormat = "t2"): string {
  const key = `${quant}-${withTokenizer}${embedding === "default" ? "" : `-emb-${embedding}`}${ternaryFormat === "t2" ? "" : `-${ternaryFormat}`}`;
  const have = converted.get(key);
  if (have) return have;
  const m = readLlama2cV0(new Uint8Array(readFileSync(CHECKPOINT)), "stories260K");
  const tok = withTokenizer ? new Uint8Array(readFileSync(TOKENIZER)) : undefined;
  const path = join(workDir, `stories260K-${key}.ellm`);
  writeFileSync(path, writeModel(convertModel(m, { quant, embedding, ternaryFormat, tokenizer: tok })));
  converted.set(key, path);
  return path;
}

export interface FwResult { status: number | null; signal: string | null; stdout: Buffer; stderr: string }

export function fw(args: string[], bin = FW): FwResult {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build:firmware`);
  const r = spawnSync(bin, args, { maxBuffer: 16 << 20, timeout: 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.toString() };
}

export interface V8Run { prompt?: string; steps: number; temperature?: number; topp?: number; seed?: bigint; ctx?: number; kvInt8?: boolean; engine?: EngineKind }

// What `edgellm run` prints for the same flags, produced in-process by the V8 engine.
export function v8Output(path: string, o: V8Run): Buffer {
  const e = Engine.load(new Uint8Array(readFileSync(path)), undefined, {
    engine: o.engine ?? "simd", ctx: o.ctx ?? o.steps, kvInt8: !!o.kvInt8,
  });
  const parts: Buffer[] = [];
  generate(e, {
    prompt: o.prompt ?? "", steps: o.steps, temperature: o.temperature ?? 0, topp: o.topp ?? 0.9, seed: o.seed ?? 0n,
  }, (b) => parts.push(Buffer.from(b)));
  parts.push(Buffer.from("\n"));
  return Buffer.concat(parts);
}

// A failure the way the firmware must report it: one line, exit 1, no signal.
export function expectCleanError(r: FwResult, pattern: RegExp): string | null {
  if (r.signal !== null) return `killed by ${r.signal}`;
  if (r.status !== 1) return `exit status ${r.status}, stderr: ${r.stderr}`;
  const lines = r.stderr.trimEnd().split("\n");
  if (lines.length !== 1) return `expected one stderr line, got: ${r.stderr}`;
  if (!lines[0].startsWith("edgellm-fw: error: ")) return `unexpected stderr: ${r.stderr}`;
  if (!pattern.test(lines[0])) return `stderr ${lines[0]} does not match ${pattern}`;
  return null;
}
