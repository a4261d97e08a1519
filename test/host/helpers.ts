// Shared by the host tests: paths to the project and ../shared, and a CLI runner.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../host/engine/module.js";

export const ROOT = PROJECT_ROOT;
export const SHARED = join(ROOT, "..", "shared");
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
