// Adapters under wasm3: edgellm-fw run --lora prints exactly what edgellm run --lora prints, and
// refuses an adapter for another base with one line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { Adapter } from "../../host/format/adapter.js";
import { AdapterStorage, baseIdentity, targetShape } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { readModel } from "../../host/format/reader.js";
import { CHECKSUM_OFFSET, Kind } from "../../host/format/spec.js";
import { CLI, rng } from "../host/helpers.js";
import { expectCleanError, fw, FW_DEVICE, requireFirmware, ROOT, workDir } from "./firmware-helpers.js";

test("the firmware's output with adapters equals V8's, byte for byte (f32 and f16, two at once)", () => {
  requireFirmware();
  const model = join(ROOT, "models", "default.ellm");
  const bytes = new Uint8Array(readFileSync(model)), m = readModel(bytes), r = rng(7);
  const base = baseIdentity(m.config, new DataView(bytes.buffer, bytes.byteOffset).getUint32(CHECKSUM_OFFSET, true));
  const make = (storage: AdapterStorage, kinds: Kind[]): string => {
    const matrices: Adapter["matrices"] = [];
    for (let layer = 0; layer < m.config.nLayers; layer++) for (const kind of kinds) {
      const [out, inn] = targetShape(base, kind);
      matrices.push({ kind, layer, storage, out, in: inn, a: Float32Array.from({ length: 4 * inn }, () => (r() - 0.5) / Math.sqrt(inn)), b: Float32Array.from({ length: out * 4 }, () => (r() - 0.5) * 3) });
    }
    const path = join(workDir, `lora-${storage}-${kinds.join("")}.ella`);
    writeFileSync(path, writeAdapter({ base, rank: 4, alpha: 4, matrices }));
    return path;
  };
  const a = make(AdapterStorage.F32, [Kind.Wq, Kind.Wv, Kind.W2]), b = make(AdapterStorage.F16, [Kind.Wo, Kind.W1, Kind.W3]);
  for (const loras of [[a], [b], [a, `${b}:0.5`]]) {
    const args = ["-i", "Once upon a time", "-t", "0", "-n", "64", ...loras.flatMap((l) => ["--lora", l])];
    const v8 = spawnSync(process.execPath, [CLI, "run", model, ...args], { encoding: "utf8" });
    assert.equal(v8.status, 0, v8.stderr);
    const w3 = fw(["run", model, ...args]);
    assert.equal(w3.status, 0, w3.stderr);
    assert.equal(w3.stdout.toString("utf8"), v8.stdout, loras.join(" "));
    // Held by the host (flash) with the weights, applied by the native env.loraApply.
    const held = fw(["run", model, ...args, "--host-weights"]);
    assert.equal(held.status, 0, held.stderr);
    assert.equal(held.stdout.toString("utf8"), v8.stdout, `${loras.join(" ")} --host-weights`);
  }
  const other = fw(["run", model, "--lora", join(ROOT, "test", "vectors", "adapter", "tiny-f32.ella")]);
  assert.equal(expectCleanError(other, /adapter: the adapter was made for another base model/), null);
  const otherHeld = fw(["run", model, "--host-weights", "--lora", join(ROOT, "test", "vectors", "adapter", "tiny-f32.ella")]);
  assert.equal(expectCleanError(otherHeld, /adapter: the adapter was made for another base model/), null);
  const damaged = new Uint8Array(readFileSync(a));
  damaged[damaged.length - 5] ^= 0x40;
  writeFileSync(join(workDir, "damaged.ella"), damaged);
  const bad = fw(["run", model, "--host-weights", "--lora", join(workDir, "damaged.ella")]);
  assert.equal(expectCleanError(bad, /adapter: .*checksum/i), null);
});

test("the home-command model runs on the device profile within 144 KiB: the 211 KB adapter stays in flash", () => {
  requireFirmware();
  const model = join(ROOT, "models", "default.ellm"), adapter = join(ROOT, "models", "home.ella");
  const args = ["-t", "0", "-n", "128", "--ctx", "128", "--kv-int8", "--lora", adapter, "-i", "turn off the porch light\n"];
  const v8 = spawnSync(process.execPath, [CLI, "run", model, ...args], { encoding: "utf8" });
  assert.equal(v8.status, 0, v8.stderr);
  assert.match(v8.stdout, /^turn off the porch light\nHassTurnOff ; name=porch light\n/);
  const dev = fw(["run", model, ...args, "--host-weights", "--max-memory", "147456"], FW_DEVICE);
  assert.equal(dev.status, 0, dev.stderr);
  assert.equal(dev.stdout.toString("utf8"), v8.stdout);
  const mem = /linear memory (\d+) bytes/.exec(dev.stderr);
  assert.ok(mem && Number(mem[1]) <= 147456, dev.stderr);
});
