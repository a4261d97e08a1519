// Files the CLI writes: checked before the long work starts (a bad -o should not cost a
// 20-minute distillation), and replaced atomically (a crash mid-write leaves the old file).
import { accessSync, constants, existsSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { makeDirs } from "../make-dirs.js";
import { UsageError } from "./errors.js";

// Throws a UsageError unless `path` could be written: not a directory, not one of the files
// the command reads or writes besides (`others`: what each is), and its nearest existing
// ancestor a writable directory (missing folders are created on write).
export function checkWritable(path: string, what: string, others: Record<string, string | undefined> = {}): void {
  const fail = (why: string): never => { throw new UsageError(`${what} ${path}: cannot be written (${why})`); };
  if (path === "") throw new UsageError(`${what}: the path is empty`);
  const full = resolve(path);
  if (existsSync(full) && statSync(full).isDirectory()) fail("it is a directory");
  for (const [role, other] of Object.entries(others)) if (other && sameFile(full, other)) fail(`it is also the ${role}`);
  let dir = dirname(full);
  while (!existsSync(dir)) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) fail(`${dir} is not a directory`);
  try { accessSync(dir, constants.W_OK); } catch { fail(`${dir} is not writable`); }
}

// Writes through a temporary file beside `path`, then renames it over `path`.
export function writeOutput(path: string, data: Uint8Array | string, what: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    makeDirs(dirname(resolve(path)));
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`${what} ${path}: cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

// A checkpoint directory: created now and written to once, so that a bad --checkpoint fails
// before training rather than at the first save, with the steps since lost.
export function checkWritableDir(dir: string, what: string): void {
  const fail = (why: string): never => { throw new UsageError(`${what} ${dir}: cannot be written (${why})`); };
  if (dir === "") throw new UsageError(`${what}: the path is empty`);
  if (existsSync(dir) && !statSync(dir).isDirectory()) fail("it is not a directory");
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    makeDirs(dir);
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (e) {
    fail((e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
}

// Same file, also through symlinks or another spelling of the path.
function sameFile(a: string, b: string): boolean {
  const real = (p: string) => { try { return realpathSync(p); } catch { return resolve(p); } };
  return real(a) === real(b);
}
