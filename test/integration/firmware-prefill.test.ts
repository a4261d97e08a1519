// Batched prefill under wasm3: with the weights and adapters held by the host, the prompt's
// blocks run through env.wMatmul and env.loraApplyBlock (firmware/core/kernels.c nk_matmul,
// nk_lora_apply_block), and edgellm-fw prints exactly what V8 prints, for every weight type;
// the home model and adapter still run on the ESP32 profile (144 KiB of linear memory).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { CLI } from "../host/helpers.js";
import { fw, FW_DEVICE, model, requireFirmware, ROOT, v8Output } from "./firmware-helpers.js";

const PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog";

test("host-held weights: the firmware's output after a blocked prompt equals V8's for every weight type (f32 and int8 KV)", () => {
  requireFirmware();
  const cases = [model("f32"), model("int8"), model("ternary"), model("q4"), model("ternary", true, "default", "t5")];
  for (const path of cases) for (const kv of [[], ["--kv-int8"]]) {
    const want = v8Output(path, { prompt: PROMPT, steps: 64, kvInt8: kv.length > 0 }).toString("utf8");
    for (const bin of [undefined, FW_DEVICE]) {
      const r = fw(["run", path, "-i", PROMPT, "-t", "0", "-n", "64", "--host-weights", ...kv], bin);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.toString("utf8"), want, `${path} ${kv.join(" ")} ${bin ?? "posix"}`);
    }
  }
});

test("the home model and adapter, flash-held, on the ESP32 profile: V8's label within --max-memory 147456", () => {
  requireFirmware();
  const m = join(ROOT, "models", "default.ellm"), home = join(ROOT, "models", "home.ella");
  const sentence = "turn off the lights in the upstairs bathroom and the hallway please\n";
  const v8 = spawnSync(process.execPath, [CLI, "run", m, "--lora", home, "--kv-int8", "--ctx", "128", "-t", "0", "-n", "60", "-i", sentence], { encoding: "utf8" });
  assert.equal(v8.status, 0, v8.stderr);
  const r = fw(["run", m, "--lora", home, "--host-weights", "--kv-int8", "--ctx", "128", "--max-memory", "147456", "-t", "0", "-n", "60", "-i", sentence], FW_DEVICE);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.toString("utf8"), v8.stdout);
});
