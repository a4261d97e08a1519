// Shared by the host tests: paths to the project and ../shared, a CLI runner, re-sealing an
// edited model file, and seeded random parameters for training-module tests.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../host/engine/module.js";
import { SHARED as SHARED_DIR } from "../requirements.js";
import type { TrainNet } from "../../host/train/net.js";
import { crc32Skipping } from "../../host/format/crc32.js";
import { CHECKSUM_OFFSET } from "../../host/format/spec.js";

export const ROOT = PROJECT_ROOT;
export const SHARED = SHARED_DIR;
export const TEACHER = join(SHARED, "models", "stories260K.bin");
export const TOKENIZER = join(SHARED, "models", "tok512.bin");
export const REFERENCE = join(SHARED, "reference", "stories260K-greedy.json");
export const SAMPLE_TEXT = join(SHARED, "data", "tinystories-valid-sample.txt");
export const CLI = join(ROOT, "bin", "edgellm.js");

export const haveShared = existsSync(TEACHER) && existsSync(TOKENIZER);

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runCli(args: string[], timeoutMs = 60_000): CliResult {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

// A model file edited in place gets a checksum that matches again, so a reader gets past the
// CRC to the check the test is after.
export function reseal(bytes: Uint8Array): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(CHECKSUM_OFFSET, crc32Skipping(bytes, CHECKSUM_OFFSET), true);
  return bytes;
}

// A seeded uniform generator in [0, 1) (32-bit LCG), so every run sees the same numbers.
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

// Every tensor of a training net, in layout order: norm vectors uniform in
// [normLo, normLo + normSpan), matrices uniform in (−matrixSpan/2, matrixSpan/2).
export function randomizeParams(net: TrainNet, r: () => number, normLo: number, normSpan: number, matrixSpan: number): void {
  const p = net.params;
  for (const sp of net.layout) {
    for (let i = 0; i < sp.rows * sp.cols; i++) p[sp.offset + i] = sp.rows === 1 ? normLo + normSpan * r() : (r() - 0.5) * matrixSpan;
  }
}
