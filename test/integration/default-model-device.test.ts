// The committed default model on the device configuration of issue B: the MVP module under
// wasm3 built with the ESP32 settings, weights left in flash (--host-weights), int8 KV cache
// over the model's whole context, linear memory capped at 144 KiB. Output must equal V8's.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readModel } from "../../host/format/reader.js";
import { fw, FW_DEVICE, ROOT, v8Output } from "./firmware-helpers.js";

const DEFAULT = join(ROOT, "models", "default.ellm");
const MEMORY_BUDGET = 144 * 1024;

test("the default model runs its whole context in 144 KiB of linear memory on the device profile, as V8 does", () => {
  const ctx = readModel(new Uint8Array(readFileSync(DEFAULT)), DEFAULT).config.seqLen;
  const args = ["run", "-t", "0.8", "-p", "0.9", "-s", "7", "-n", String(ctx), "--ctx", String(ctx), "--kv-int8", "--host-weights",
    "--max-memory", String(MEMORY_BUDGET), "--stack", "8192", "-i", "Once upon a time"];
  const r = fw(args, FW_DEVICE);
  assert.equal(r.status, 0, r.stderr);
  const mem = Number(/linear memory (\d+) bytes/.exec(r.stderr)?.[1]);
  assert.ok(mem > 0 && mem <= MEMORY_BUDGET, r.stderr);
  const want = v8Output(DEFAULT, { prompt: "Once upon a time", steps: ctx, ctx, kvInt8: true, temperature: 0.8, topp: 0.9, seed: 7n });
  assert.deepEqual(r.stdout.toString("utf8"), want.toString("utf8"));
  assert.ok(r.stdout.toString("utf8").split(" ").length > 30, r.stdout.toString("utf8"));
});
