// Constrained decoding under wasm3: the firmware, given the compiled grammar, prints exactly what
// `edgellm run --grammar` prints (V8), also on the ESP32 profile within 144 KiB with host weights.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CLI, ROOT } from "../host/helpers.js";
import { fw, FW_DEVICE, requireFirmware, SHARED } from "./firmware-helpers.js";
import { skipUnless } from "../requirements.js";

const dir = mkdtempSync(join(tmpdir(), "edgellm-fw-grammar-"));
const MODEL = join(ROOT, "models", "default.ellm");

test("the firmware's constrained output equals V8's, byte for byte", () => {
  requireFirmware();
  const src = join(dir, "intent.gbnf"), compiled = join(dir, "intent.egrm");
  writeFileSync(src, 'root ::= "Hass" ("TurnOff" | "TurnOn" | "GetState") " ; name=" copy\n');
  const c = spawnSync(process.execPath, [join(ROOT, "dist", "tools", "compile-grammar.js"), src, compiled], { encoding: "utf8" });
  assert.equal(c.status, 0, c.stderr);
  for (const prompt of ["turn off the porch light", "is the garage door open"]) {
    const v8 = spawnSync(process.execPath, [CLI, "run", MODEL, "-i", prompt, "-t", "0", "-n", "96", "--grammar", src], { encoding: "utf8" });
    assert.equal(v8.status, 0, v8.stderr);
    const w3 = fw(["run", MODEL, "-i", prompt, "-t", "0", "-n", "96", "--grammar", compiled]);
    assert.equal(w3.status, 0, w3.stderr);
    assert.equal(w3.stdout.toString("utf8"), v8.stdout, prompt);
    const dev = fw(["run", MODEL, "-i", prompt, "-t", "0", "-n", "96", "--ctx", "96", "--kv-int8", "--host-weights", "--max-memory", "147456", "--stack", "8192", "--grammar", compiled], FW_DEVICE);
    assert.equal(dev.status, 0, dev.stderr);
    assert.equal(dev.stdout.toString("utf8"), v8.stdout, `${prompt} (device profile, 144 KiB)`);
  }
});

// The home-command grammar (108 KB compiled) on the device profile: left in host memory (flash,
// env.gRead) beside the default model and the home adapter, within 144 KiB of linear memory; the
// greedy labels equal V8's `edgellm commands` on a sample of validation sentences.
const VAL = join(SHARED, "data", "home-commands", "val-home01.tsv");
test("the home-command grammar under wasm3 at 144 KiB gives V8's labels", { skip: skipUnless(existsSync(VAL), "../shared/data/home-commands"), timeout: 300_000 }, () => {
  requireFirmware();
  const compiled = join(dir, "commands.egrm");
  const c = spawnSync(process.execPath, [join(ROOT, "dist", "tools", "compile-grammar.js"), "--commands", compiled], { encoding: "utf8" });
  assert.equal(c.status, 0, c.stderr);
  const lines = readFileSync(VAL, "utf8").trim().split("\n");
  const sample = lines.filter((_, i) => i % 170 === 3).map((l) => l.split("\t")[0]);
  assert.ok(sample.length >= 10);
  const labels = new Set<string>();
  for (const sentence of sample) {
    const v8 = spawnSync(process.execPath, [CLI, "commands", "-i", sentence], { encoding: "utf8" });
    assert.equal(v8.status, 0, v8.stderr);
    const dev = fw(["run", MODEL, "--lora", join(ROOT, "models", "home.ella"), "-i", `${sentence}\n`, "-t", "0", "--ctx", "96", "--kv-int8", "--host-weights",
      "--max-memory", "147456", "--stack", "8192", "--grammar", compiled], FW_DEVICE);
    assert.equal(dev.status, 0, dev.stderr.toString());
    const label = dev.stdout.toString("utf8").split("\n")[1].trim();
    assert.equal(label, v8.stdout.trim(), sentence);
    labels.add(label);
    assert.match(dev.stderr.toString(), /linear memory 131072 bytes/);
  }
  assert.ok(labels.size >= sample.length - 2, "the sample's labels differ (else equality proves little)");
});
