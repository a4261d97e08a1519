// The shipped home-command model (models/default.ellm + models/home.ella, docs/models.md): the
// README's example, and its accuracy on part of a validation home held to what the card says.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { score } from "../../host/commands/labels.js";
import { skipUnless } from "../requirements.js";
import { CLI, runCli, SHARED } from "./helpers.js";

const VAL = join(SHARED, "data", "home-commands", "val-home00.tsv");

test("the README's example: turn off the porch light", () => {
  const r = runCli(["commands", "-i", "turn off the porch light"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "HassTurnOff ; name=porch light\n");
});

test("on 400 lines of a validation home: at least 92 % exact labels and 98 % intents", { skip: skipUnless(existsSync(VAL), "../shared/data/home-commands") }, () => {
  const lines = readFileSync(VAL, "utf8").trim().split("\n").slice(0, 400).map((l) => l.split("\t"));
  const r = spawnSync(process.execPath, [CLI, "commands"], { input: lines.map((l) => l[0]).join("\n") + "\n", encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const got = r.stdout.split("\n");
  const s = score(lines.map((l, i) => ({ want: l[1], got: got[i] })));
  assert.ok(s.exact >= 0.92 && s.intent >= 0.98, `exact ${s.exact}, intent ${s.intent}`);
});
