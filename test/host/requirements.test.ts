// The rule of test/requirements.ts, run on a real test file with ../shared pointed at nothing:
// CI=true fails the file; a developer's run skips it and says why.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.js";

const file = join(ROOT, "dist", "test", "host", "generation.test.js");
const run = (env: Record<string, string>) => {
  // NODE_TEST_CONTEXT would make the child report to this runner instead of printing TAP.
  const { CI: _ci, NODE_TEST_CONTEXT: _ctx, ...rest } = process.env;
  return spawnSync(process.execPath, ["--test", file], { encoding: "utf8", env: { ...rest, EDGELLM_SHARED: "/nonexistent", ...env }, timeout: 60_000 });
};

test("with CI=true a test that needs ../shared fails when it is missing", () => {
  const r = run({ CI: "true" });
  assert.notEqual(r.status, 0, r.stdout);
  assert.match(r.stdout, /\.\.\/shared\/models is missing; CI runs every test/);
});

test("without CI the same test is skipped, with the reason", () => {
  const r = run({});
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /# SKIP needs \.\.\/shared\/models/);
});
