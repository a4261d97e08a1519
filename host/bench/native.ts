// The plain C baseline (bench/native/edgellm_native.c, gcc -O3) run as a child process.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../engine/module.js";
import type { CaseResult } from "./measure.js";

export const NATIVE_BINARY = join(PROJECT_ROOT, "build", "edgellm-native");

export function nativeAvailable(): boolean {
  return existsSync(NATIVE_BINARY);
}

// Runs `repeats` timed passes inside the binary (it reports its best) on an f32 model file.
export function runNative(f32Model: Uint8Array, steps: number, repeats: number): CaseResult {
  const dir = mkdtempSync(join(tmpdir(), "edgellm-bench-"));
  try {
    const path = join(dir, "model.ellm");
    writeFileSync(path, f32Model);
    const out = execFileSync(NATIVE_BINARY, [path, String(steps), String(repeats)], { encoding: "utf8" });
    const [tokenLine, statsLine] = out.trim().split("\n");
    const stats = JSON.parse(statsLine) as CaseResult;
    return { ...stats, tokens: tokenLine.split(" ").map(Number) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
