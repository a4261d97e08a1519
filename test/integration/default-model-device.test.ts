// The committed models (the ternary default, the int4 and the mixed student) on the device configuration of issue B: the MVP module under
// wasm3 built with the ESP32 settings, weights left in flash (--host-weights), int8 KV cache
// over the ESP32 image's context (CONFIG_EDGELLM_CTX, 128 positions), linear memory capped at
// 144 KiB. Output must equal V8's; a context the cap cannot hold is refused, not overrun.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readModel } from "../../host/format/reader.js";
import { fw, FW_DEVICE, ROOT, v8Output } from "./firmware-helpers.js";

const DEFAULT = join(ROOT, "models", "default.ellm");
const MEMORY_BUDGET = 144 * 1024;
const DEVICE_CTX = 128;  // firmware/esp32/main/Kconfig.projbuild EDGELLM_CTX

for (const name of ["default", "q4", "mixed"]) {
  const model = join(ROOT, "models", `${name}.ellm`);
  test(`models/${name}.ellm runs ${DEVICE_CTX} positions in 144 KiB of linear memory on the device profile, as V8 does`, () => {
    const ctx = Math.min(DEVICE_CTX, readModel(new Uint8Array(readFileSync(model)), model).config.seqLen);
    const args = ["run", model, "-t", "0.8", "-p", "0.9", "-s", "7", "-n", String(ctx), "--ctx", String(ctx), "--kv-int8", "--host-weights",
      "--max-memory", String(MEMORY_BUDGET), "--stack", "8192", "-i", "Once upon a time"];
    const r = fw(args, FW_DEVICE);
    assert.equal(r.status, 0, r.stderr);
    const mem = Number(/linear memory (\d+) bytes/.exec(r.stderr)?.[1]);
    assert.ok(mem > 0 && mem <= MEMORY_BUDGET, r.stderr);
    const want = v8Output(model, { prompt: "Once upon a time", steps: ctx, ctx, kvInt8: true, temperature: 0.8, topp: 0.9, seed: 7n });
    assert.deepEqual(r.stdout.toString("utf8"), want.toString("utf8"));
    assert.ok(r.stdout.toString("utf8").split(" ").length > 30, r.stdout.toString("utf8"));
  });
}

// At its full context of 256 the int8 cache of 4 KV heads needs 2 × 40 KiB for keys and values and
// 40 KiB of per-head scales: more than the budget holds beside the run state.
test("the default model's whole context does not fit the device budget and is refused cleanly", () => {
  const ctx = readModel(new Uint8Array(readFileSync(DEFAULT)), DEFAULT).config.seqLen;
  const r = fw(["run", "-n", "8", "--ctx", String(ctx), "--kv-int8", "--host-weights", "--max-memory", String(MEMORY_BUDGET), "--stack", "8192", "-i", "Once"], FW_DEVICE);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^edgellm-fw: error: run state: linear memory grew to \d+ bytes, past --max-memory 147456\n$/);
  assert.equal(r.stdout.length, 0);
});
