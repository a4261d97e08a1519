// Turns user mistakes into one line on stderr and a non-zero exit; bugs keep their stack.
import { CodedError } from "../coded-error.js";

export class UsageError extends CodedError<"E_USAGE"> {
  constructor(message: string) {
    super("E_USAGE", message);
  }
}

// CodedError and its subclasses, plus any Error tagged with an E_ code.
export function isUserError(e: unknown): e is Error & { code: string } {
  if (e instanceof CodedError) return true;
  const code = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === "string" && code.startsWith("E_");
}

export function reportAndExit(e: unknown): never {
  if (isUserError(e)) {
    process.stderr.write(`edgellm: ${e.message}\n`);
    process.exit(e instanceof UsageError ? 2 : e.code === "E_INTERRUPTED" ? 130 : 1);
  }
  // A trap inside the module is our bug, not the user's: one line, the stack on request.
  if (e instanceof WebAssembly.RuntimeError && !process.env.EDGELLM_DEBUG) {
    process.stderr.write(`edgellm: internal error in the WebAssembly module (${e.message}); rerun with EDGELLM_DEBUG=1 for details\n`);
    process.exit(70);
  }
  throw e;
}
