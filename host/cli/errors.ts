// Turns user mistakes into one line on stderr and a non-zero exit; bugs keep their stack.
import { FormatError } from "../format/errors.js";
import { EngineError } from "../engine/errors.js";

export class UsageError extends Error {
  readonly code = "E_USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function isUserError(e: unknown): e is Error & { code: string } {
  return e instanceof UsageError || e instanceof FormatError || e instanceof EngineError ||
    (e instanceof Error && typeof (e as { code?: unknown }).code === "string" && String((e as unknown as { code: string }).code).startsWith("E_"));
}

export function reportAndExit(e: unknown): never {
  if (isUserError(e)) {
    process.stderr.write(`edgellm: ${e.message}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
  throw e;
}
