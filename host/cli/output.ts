// Files the CLI writes: checked before the long work starts (a bad -o should not cost a
// 20-minute distillation), and replaced atomically (a crash mid-write leaves the old file).
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UsageError } from "./errors.js";

// Throws a UsageError unless `path` could be written: not a directory, and its nearest
// existing ancestor a writable directory (missing folders are created on write).
export function checkWritable(path: string, what: string): void {
  const fail = (why: string): never => { throw new UsageError(`${what} ${path}: cannot be written (${why})`); };
  const full = resolve(path);
  if (existsSync(full) && statSync(full).isDirectory()) fail("it is a directory");
  let dir = dirname(full);
  while (!existsSync(dir)) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) fail(`${dir} is not a directory`);
  try { accessSync(dir, constants.W_OK); } catch { fail(`${dir} is not writable`); }
}

// Writes through a temporary file beside `path`, then renames it over `path`.
export function writeOutput(path: string, data: Uint8Array | string, what: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`${what} ${path}: cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
