// One rule for tests that need what the repository does not hold (../shared: models, data,
// reference outputs) or a build product (the firmware): on a developer's machine a missing one
// skips the test and says why; in CI (CI=true) it fails, so a missing file can never turn the
// suite green by skipping.
import { join } from "node:path";
import { PROJECT_ROOT } from "../host/engine/module.js";

// EDGELLM_SHARED points the tests at another copy of ../shared (or, to prove the rule, at none).
export const SHARED = process.env.EDGELLM_SHARED ?? join(PROJECT_ROOT, "..", "shared");

export const inCI = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false";

// A test's `skip` option: false when `have`; else the reason, or (CI) an error at load.
export function skipUnless(have: boolean, what: string): string | false {
  if (have) return false;
  if (inCI) throw new Error(`${what} is missing; CI runs every test (run npm run build, and put ../shared beside the project)`);
  return `needs ${what}`;
}
