// The fleet serves adapters (issue 18 part 6) on a real mosquitto, from the command line: a
// Node peer (`edgellm serve --adapters DIR`) and a firmware peer (`edgellm-fw serve --adapters
// DIR`) hold the directory's adapters for their model, announce them, and switch per task;
// `edgellm submit --adapter ID[:SCALE]` prints what `edgellm run --lora DIR/ID.ella[:SCALE]`
// prints, byte for byte; a task for an adapter nobody holds fails after the placement timeout,
// naming it.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { AdapterStorage } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { randomAdapter } from "../host/adapter-helpers.js";
import { FW_DEVICE } from "./firmware-helpers.js";
import { CLI, cliAsync, FW, gatewayAndPeer, haveFirmwarePeer, ROOT } from "./fleet-helpers.js";

const skip = skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)");
const MODEL = join(ROOT, "models", "default.ellm");
const PLACE_TIMEOUT_MS = 2000;

// The adapters directory: home.ella (rank 16, f16, trained), rand.ella (rank 2, f32, made up),
// one for another base (skipped with a line) and a file that is not an adapter file name.
const DIR = mkdtempSync(join(tmpdir(), "edgellm-fleet-adapters-"));
copyFileSync(join(ROOT, "models", "home.ella"), join(DIR, "home.ella"));
writeFileSync(join(DIR, "rand.ella"), writeAdapter(randomAdapter(new Uint8Array(readFileSync(MODEL)), 2, AdapterStorage.F32, 9, 3)));
copyFileSync(join(ROOT, "test", "vectors", "adapter", "tiny-f32.ella"), join(DIR, "other-base.ella"));
writeFileSync(join(DIR, "README.txt"), "not an adapter\n");

let mosq: MosquittoProcess;
const procs: ChildProcess[] = [];
before(async () => { if (!skip) mosq = await startMosquitto(); });
after(async () => { for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL"); await mosq?.stop(); });

const cli = cliAsync;

// [submit's --adapter (none: undefined), run's --lora, sampling flags]
const CASES: [string | undefined, string | undefined, string[]][] = [
  ["home", join(DIR, "home.ella"), ["-i", "turn on the kitchen light", "-n", "60", "-t", "0"]],
  ["rand:0.5", `${join(DIR, "rand.ella")}:0.5`, ["-i", "Once upon a time", "-n", "48", "-t", "0.8", "-s", "5"]],
  [undefined, undefined, ["-i", "turn on the kitchen light", "-n", "60", "-t", "0"]],
  ["rand", join(DIR, "rand.ella"), ["-i", "turn on the kitchen light", "-n", "60", "-t", "0"]],
  ["home:2", `${join(DIR, "home.ella")}:2`, ["-i", "Once upon a time", "-n", "48", "-t", "0.8", "-s", "5"]],
];

const runs = new Map<number, Buffer>();
async function localRun(i: number): Promise<Buffer> {
  if (!runs.has(i)) {
    const [, lora, flags] = CASES[i];
    const r = await cli(["run", MODEL, ...flags, ...(lora ? ["--lora", lora] : [])]);
    assert.equal(r.code, 0, r.stderr);
    runs.set(i, r.stdout);
  }
  return runs.get(i)!;
}

const PEERS = [
  { kind: "Node", start: (fleet: string, id: string) => spawn(process.execPath, [CLI, "serve", "--broker", mosq.url, "--fleet", fleet, "--id", id, "--model", MODEL, "--adapters", DIR, "--heartbeat", "300"], { stdio: ["ignore", "ignore", "pipe"] }) },
  { kind: "firmware", start: (fleet: string, id: string) => spawn(FW, ["serve", "--broker", mosq.url, "--fleet", fleet, "--id", id, "--model", MODEL, "--adapters", DIR, "--heartbeat", "300"], { stdio: ["ignore", "ignore", "pipe"] }) },
  // Weights and adapters left in host memory (env.wMatvec, env.loraApply), as on the device.
  { kind: "firmware --host-weights", start: (fleet: string, id: string) => spawn(FW, ["serve", "--broker", mosq.url, "--fleet", fleet, "--id", id, "--model", MODEL, "--adapters", DIR, "--heartbeat", "300", "--host-weights"], { stdio: ["ignore", "ignore", "pipe"] }) },
];

for (const peer of PEERS) {
  test(`a ${peer.kind} peer serves the adapters: submit --adapter equals run --lora byte for byte; an adapter nobody holds fails naming it`, { skip, timeout: 180_000 }, async () => {
    const fleet = `ad-${peer.kind.toLowerCase().replace(/[^a-z]+/g, "-")}`, id = `${fleet}-peer`;
    const { gw, p, err: stderr } = await gatewayAndPeer(mosq.url, fleet, id, PLACE_TIMEOUT_MS, () => peer.start(fleet, id), procs);
    try {
      let err = stderr();
      assert.match(err, /skipped.*other-base\.ella/, "an adapter for another base is skipped with a line naming it");
      assert.doesNotMatch(err, /README/);
      const listed = JSON.parse((await cli(["peers", "--broker", mosq.url, "--fleet", fleet, "--json", "--wait", "300"])).stdout.toString("utf8")) as { id: string; adapters: string[] }[];
      assert.deepEqual(listed.map((r) => [r.id, r.adapters]), [[id, ["home", "rand"]]]);

      assert.notDeepEqual(await localRun(0), await localRun(2), "the home adapter changes the text (else the comparison proves nothing)");
      assert.notDeepEqual(await localRun(3), await localRun(2), "so does rand");
      for (const [i, [adapter, , flags]] of CASES.entries()) {
        const want = await localRun(i);
        const sub = await cli(["submit", "--broker", mosq.url, "--fleet", fleet, ...flags, ...(adapter ? ["--adapter", adapter] : [])]);
        assert.equal(sub.code, 0, `${adapter}: ${sub.stderr} ${stderr()}`);
        assert.ok(sub.stdout.equals(want), `submit --adapter ${adapter ?? "(none)"} ${flags.join(" ")}:\n${sub.stdout}\n≠ run --lora:\n${want}`);
      }

      const nobody = await cli(["submit", "--broker", mosq.url, "--fleet", fleet, "--adapter", "garage", "-n", "20", "--timeout", "30000"]);
      assert.equal(nobody.code, 1);
      assert.match(nobody.stderr, /^edgellm: task \S+ failed: no peer can run it: no peer holds adapter 'garage'\n$/);
      assert.ok(nobody.ms >= PLACE_TIMEOUT_MS, `failed after ${nobody.ms} ms, before the placement timeout`);

      const exited = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
      p.kill("SIGTERM");
      assert.equal(await exited, 0, stderr());
      err = stderr();
      if (peer.kind !== "Node") {
        // The module's heap is flat over the tasks, switches included (one 16-byte probe block).
        const m = /heap top (\d+) \((\d+)\)/.exec(err);
        assert.ok(m, err);
        assert.ok(Number(m[1]) - Number(m[2]) <= 16, `the heap grew by ${Number(m[1]) - Number(m[2])} bytes while serving`);
      }
    } finally {
      if (p.exitCode === null) p.kill("SIGKILL");
      await gw.close();
    }
  });
}

test("bad adapter directories and names stop a peer at start with one line; submit refuses bad ids", { skip, timeout: 60_000 }, async () => {
  const badName = mkdtempSync(join(tmpdir(), "edgellm-bad-adapters-"));
  copyFileSync(join(ROOT, "models", "home.ella"), join(badName, "home kitchen.ella"));
  const corrupt = mkdtempSync(join(tmpdir(), "edgellm-bad-adapters-"));
  const bytes = readFileSync(join(ROOT, "models", "home.ella"));
  bytes[4000] ^= 0xff;
  writeFileSync(join(corrupt, "home.ella"), bytes);
  const common = ["--broker", "mqtt://127.0.0.1:1", "--id", "x", "--model", MODEL, "--connect-timeout", "300"];
  for (const [dir, node, fw] of [
    [join(DIR, "missing"), /--adapters \S+missing: no such directory/, /--adapters \S+missing: No such file or directory/],
    [badName, /home kitchen\.ella: 'home kitchen' is not an adapter id/, /home kitchen\.ella: 'home kitchen' is not an adapter id/],
    [corrupt, /home\.ella: checksum mismatch/, /home\.ella: .*checksum/i],
  ] as const) {
    const n = await cli(["serve", ...common, "--adapters", dir]);
    assert.equal(n.code, 1, n.stderr);
    assert.match(n.stderr, node);
    assert.equal(n.stderr.trim().split("\n").length, 1, n.stderr);
    const f = spawnSync(FW, ["serve", ...common, "--adapters", dir], { encoding: "utf8", timeout: 30_000 });
    assert.equal(f.status, 1, f.stderr);
    assert.match(f.stderr, fw);
    assert.equal(f.stderr.trim().split("\n").length, 1, f.stderr);
  }
  // The ESP32 budget has no room for adapters beside the default model: said at start.
  const device = spawnSync(FW_DEVICE, ["serve", ...common, "--adapters", DIR, "--host-weights", "--kv-int8", "--ctx", "128", "--max-memory", "147456", "--inbox", "4096", "--stack", "8192"], { encoding: "utf8", timeout: 30_000 });
  assert.equal(device.status, 1, device.stderr);
  assert.match(device.stderr, /^edgellm-fw: error: --adapters: \S+home\.ella \(211200 bytes\) does not fit in linear memory under --max-memory 147456 \(131072 bytes in use before it\): raise --max-memory or hold fewer adapters\n$/);
  for (const [arg, message] of [["a/b", /'a\/b' is not an adapter id/], ["home:x", /the scale must be a number in \[-100, 100\], got 'x'/], ["home:101", /got '101'/], ["", /'' is not an adapter id/]] as const) {
    const r = await cli(["submit", "--broker", "mqtt://127.0.0.1:1", "--adapter", arg]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});
