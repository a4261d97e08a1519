// MeZO on the device: `edgellm-fw finetune` under wasm3 writes the same adapter bytes as
// `edgellm finetune --method mezo` on V8 for the same seed and data, also on the device profile
// within --max-memory 147456 (weights in flash, int8 KV cache); bad input is one line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readAdapter } from "../../host/format/adapter-reader.js";
import { AdapterStorage } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { CLI } from "../host/helpers.js";
import { expectCleanError, fw, FW_DEVICE, requireFirmware, ROOT, workDir } from "./firmware-helpers.js";

const DEFAULT = join(ROOT, "models", "default.ellm");
const DATA = [
  "turn off the porch light\tHassTurnOff ; name=porch light",
  "switch on the kitchen lights\tHassTurnOn ; area=kitchen ; domain=light",
  "set the bedroom to 40% brightness\tHassLightSet ; area=bedroom ; brightness=40",
  "what time is it\tHassGetCurrentTime",
  "  start a timer for 5 minutes \t HassStartTimer ; minutes=5  ",
].join("\r\n") + "\n\n";

function node(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
}

// A fresh f32 adapter from `edgellm finetune --steps 1` (rank 4 on wq and wv: 18 KB), made once.
let made: { data: string; adapter: string } | undefined;
function start(): { data: string; adapter: string } {
  if (made) return made;
  const data = join(workDir, "mezo.tsv"), adapter = join(workDir, "mezo-start.ella");
  writeFileSync(data, DATA);
  node(["finetune", DEFAULT, "--data", data, "-o", adapter, "--steps", "1", "--batch", "1", "--rank", "4", "--targets", "wq,wv", "--checkpoint", join(workDir, "mezo-start.ckpt")]);
  return (made = { data, adapter });
}

test("the same seed and data give the same adapter bytes under wasm3 as on V8, on the device profile too", () => {
  requireFirmware();
  const { data, adapter } = start();
  const common = ["--lora", adapter, "--data", data, "--steps", "6", "--batch", "2", "--seed", "9", "--lr", "1e-3"];
  const v8 = join(workDir, "mezo-v8.ella"), w3 = join(workDir, "mezo-w3.ella");
  node(["finetune", DEFAULT, "--method", "mezo", ...common, "-o", v8, "--checkpoint", join(workDir, "mezo-v8.ckpt")]);
  const r = fw(["finetune", DEFAULT, ...common, "-o", w3]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /step 6\/6 loss \d/);
  const a = readFileSync(v8), b = readFileSync(w3);
  assert.ok(a.equals(b), "V8 and wasm3 adapters differ");
  assert.ok(!a.equals(readFileSync(adapter)), "training changed the adapter");
  readAdapter(new Uint8Array(b), "wasm3 adapter"); // the checksum was written anew

  // Device: weights in flash (host memory), int8 KV cache, 96 positions, one example a step.
  const dev = ["--lora", adapter, "--data", data, "--steps", "4", "--batch", "1", "--seed", "2", "--ctx", "96", "--kv-int8"];
  const v8d = join(workDir, "mezo-v8d.ella"), w3d = join(workDir, "mezo-w3d.ella");
  node(["finetune", DEFAULT, "--method", "mezo", ...dev, "-o", v8d, "--checkpoint", join(workDir, "mezo-v8d.ckpt")]);
  const d = fw(["finetune", DEFAULT, ...dev, "--host-weights", "--max-memory", "147456", "-o", w3d], FW_DEVICE);
  assert.equal(d.status, 0, d.stderr);
  const mem = /linear memory (\d+) bytes/.exec(d.stderr);
  assert.ok(mem && Number(mem[1]) <= 147456, d.stderr);
  assert.ok(readFileSync(v8d).equals(readFileSync(w3d)), "device-profile adapter differs from V8's");
});

test("edgellm-fw finetune: bad data, an f16 or missing adapter, an output that is an input: one line", () => {
  requireFirmware();
  const { data, adapter } = start();
  const f16 = join(workDir, "mezo-f16.ella");
  const ad = readAdapter(new Uint8Array(readFileSync(adapter)));
  writeFileSync(f16, writeAdapter({ ...ad, matrices: ad.matrices.map((m) => ({ ...m, storage: AdapterStorage.F16 })) }));
  const file = (name: string, body: string | Buffer) => { const p = join(workDir, name); writeFileSync(p, body); return p; };
  const out = join(workDir, "never.ella");
  const cases: [string[], RegExp][] = [
    [["--lora", adapter, "--data", file("nolabel.tsv", "turn off\tHassTurnOff\nthe porch light\n")], /data file .*nolabel\.tsv: line 2 has no label/],
    [["--lora", adapter, "--data", file("latin1.tsv", Buffer.from([0x61, 0x09, 0x62, 0xe9, 0x0a]))], /data file .*latin1\.tsv: not UTF-8 text \(byte 3\)/],
    [["--lora", adapter, "--data", file("empty.tsv", "\n \n")], /data file .*empty\.tsv: no examples/],
    [["--lora", f16, "--data", data], /stored as f16; MeZO trains an f32 adapter/],
    [["--lora", join(ROOT, "test", "vectors", "adapter", "tiny-f32.ella"), "--data", data], /adapter: the adapter was made for another base model/],
    [["--lora", join(workDir, "missing.ella"), "--data", data], /missing\.ella/],
  ];
  for (const [args, pattern] of cases) {
    const r = fw(["finetune", DEFAULT, ...args, "-o", out, "--steps", "2"]);
    assert.equal(expectCleanError(r, pattern), null, args.join(" "));
  }
  const usage = [
    [["--data", data, "-o", out], /--lora START\.ella is required/],
    [["--lora", adapter, "--data", data, "-o", adapter], /is also an input/],
    [["--lora", adapter, "--data", data, "-o", out, "--lr", "abc"], /lr must be a number/],
  ] as const;
  for (const [args, pattern] of usage) {
    const r = fw(["finetune", DEFAULT, ...args]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, pattern);
  }
  assert.throws(() => readFileSync(out), /ENOENT/, "nothing written on failure");
});
