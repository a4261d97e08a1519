// Home commands through the fleet (issue 19 part 5) on a real mosquitto, from the command line:
// `edgellm submit --task commands -i SENTENCE [--json]` prints what a local `edgellm commands -i
// SENTENCE [--json]` prints, served by a Node peer (`serve --commands --adapters DIR`), a
// firmware peer (`edgellm-fw serve --commands G.egrm --adapters DIR`) and the firmware on the
// ESP32 profile (144 KiB of linear memory, weights, adapter and grammar in host memory); with no
// peer serving commands the task fails after the placement timeout, saying why; a bad sentence
// is one line and exit 2 before anything is sent.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { compiledCommandGrammar } from "../../host/commands/compiled.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { FW_DEVICE } from "./firmware-helpers.js";
import { CLI, cliAsync, FW, gatewayAndPeer, haveFirmwarePeer, ROOT, SHARED } from "./fleet-helpers.js";

const VAL = join(SHARED, "data", "home-commands", "val-home00.tsv");
const skip = skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)") || skipUnless(existsSync(VAL), "../shared/data/home-commands");
const MODEL = join(ROOT, "models", "default.ellm");
const PLACE_TIMEOUT_MS = 2000;
const DIR = mkdtempSync(join(tmpdir(), "edgellm-fleet-commands-"));
const ADAPTERS = join(DIR, "adapters"), GRAMMAR = join(DIR, "commands.egrm");

// Six validation sentences spread over the file (every 300th line), and two of our own.
function sentences(): string[] {
  const lines = readFileSync(VAL, "utf8").trim().split("\n");
  const picked = lines.filter((_, i) => i % 300 === 7).map((l) => l.split("\t")[0]);
  return [...picked, "Turn OFF the porch-light!", "set the bedroom lights to 50 percent"];
}

let mosq: MosquittoProcess;
const procs: ChildProcess[] = [];
before(async () => {
  if (skip) return;
  mosq = await startMosquitto();
  const { mkdirSync } = await import("node:fs");
  mkdirSync(ADAPTERS);
  copyFileSync(join(ROOT, "models", "home.ella"), join(ADAPTERS, "home.ella"));
  writeFileSync(GRAMMAR, compiledCommandGrammar());
});
after(async () => { for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL"); await mosq?.stop(); });

// The CLI, awaited, its stdout as text.
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const r = await cliAsync(args);
  return { ...r, stdout: r.stdout.toString("utf8") };
}

const local = new Map<string, string>();
async function localCommands(sentence: string, json: boolean): Promise<string> {
  const key = `${json}:${sentence}`;
  if (!local.has(key)) {
    const r = await cli(["commands", "-i", sentence, ...(json ? ["--json"] : [])]);
    assert.equal(r.code, 0, r.stderr);
    local.set(key, r.stdout);
  }
  return local.get(key)!;
}

const common = (fleet: string, id: string) => ["--broker", mosq.url, "--fleet", fleet, "--id", id, "--heartbeat", "300"];
const PEERS = [
  { kind: "Node", start: (fleet: string, id: string) => spawn(process.execPath, [CLI, "serve", ...common(fleet, id), "--model", MODEL, "--adapters", ADAPTERS, "--commands"], { stdio: ["ignore", "ignore", "pipe"] }) },
  { kind: "firmware", start: (fleet: string, id: string) => spawn(FW, ["serve", ...common(fleet, id), "--model", MODEL, "--adapters", ADAPTERS, "--commands", GRAMMAR], { stdio: ["ignore", "ignore", "pipe"] }) },
  // The ESP32 budget: weights, the home adapter and the grammar stay in host memory (flash).
  {
    kind: "firmware device 144 KiB",
    start: (fleet: string, id: string) => spawn(FW_DEVICE, ["serve", ...common(fleet, id), "--model", MODEL, "--adapters", ADAPTERS, "--commands", GRAMMAR,
      "--host-weights", "--kv-int8", "--ctx", "96", "--max-memory", "147456", "--inbox", "4096", "--stack", "8192"], { stdio: ["ignore", "ignore", "pipe"] }),
  },
];

for (const peer of PEERS) {
  test(`a ${peer.kind} peer serves commands: submit --task commands prints what commands prints`, { skip, timeout: 240_000 }, async () => {
    const fleet = `cmd-${peer.kind.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`, id = `${fleet}-peer`;
    const { gw, p, err: stderr } = await gatewayAndPeer(mosq.url, fleet, id, PLACE_TIMEOUT_MS, () => peer.start(fleet, id), procs);
    try {
      const listed = JSON.parse((await cli(["peers", "--broker", mosq.url, "--fleet", fleet, "--json", "--wait", "300"])).stdout) as { id: string; adapters: string[]; taskTypes?: string[] }[];
      assert.deepEqual(listed.map((r) => [r.id, r.adapters, r.taskTypes]), [[id, ["home"], ["commands"]]]);
      const all = sentences();
      const distinct = new Set<string>();
      for (const s of all) {
        const want = await localCommands(s, false);
        distinct.add(want);
        const sub = await cli(["submit", "--broker", mosq.url, "--fleet", fleet, "--task", "commands", "-i", s]);
        assert.equal(sub.code, 0, `${s}: ${sub.stderr} ${stderr()}`);
        assert.equal(sub.stdout, want, `${peer.kind}: ${s}`);
      }
      assert.ok(distinct.size >= all.length - 1, "the sentences give different labels (else equality proves little)");
      const json = await cli(["submit", "--broker", mosq.url, "--fleet", fleet, "--task", "commands", "--json", "-i", all[0]]);
      assert.equal(json.code, 0, json.stderr);
      assert.equal(json.stdout, await localCommands(all[0], true));
      // A text task on the same peer still runs as before (no grammar, the prompt echoed).
      const textRun = await cli(["run", MODEL, "-i", "Once upon a time", "-n", "40", "-t", "0", "--lora", join(ADAPTERS, "home.ella")]);
      const textSub = await cli(["submit", "--broker", mosq.url, "--fleet", fleet, "-i", "Once upon a time", "-n", "40", "-t", "0", "--adapter", "home"]);
      assert.equal(textSub.stdout, textRun.stdout, "a text task on a commands peer");

      const exited = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
      p.kill("SIGTERM");
      assert.equal(await exited, 0, stderr());
      const err = stderr();
      if (peer.kind !== "Node") {
        const m = /heap top (\d+) \((\d+)\)/.exec(err);
        assert.ok(m, err);
        assert.ok(Number(m[1]) - Number(m[2]) <= 16, `the heap grew by ${Number(m[1]) - Number(m[2])} bytes while serving`);
        assert.doesNotMatch(err, /linear memory grew/);
      }
    } finally {
      if (p.exitCode === null) p.kill("SIGKILL");
      await gw.close();
    }
  });
}

test("no peer serves commands: the task fails after the placement timeout, naming why", { skip, timeout: 60_000 }, async () => {
  const fleet = "cmd-none", id = "text-only";
  const { gw, p } = await gatewayAndPeer(mosq.url, fleet, id, PLACE_TIMEOUT_MS,
    () => spawn(process.execPath, [CLI, "serve", ...common(fleet, id), "--model", MODEL, "--adapters", ADAPTERS], { stdio: ["ignore", "ignore", "pipe"] }), procs);
  try {
    const r = await cli(["submit", "--broker", mosq.url, "--fleet", fleet, "--task", "commands", "-i", "turn off the porch light", "--timeout", "30000"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^edgellm: task \S+ failed: no peer can run it: no peer serves commands tasks\n$/);
    assert.ok(r.ms >= PLACE_TIMEOUT_MS, `failed after ${r.ms} ms, before the placement timeout`);
    assert.equal(r.stdout, "");
  } finally {
    p.kill("SIGKILL");
    await gw.close();
  }
});

test("bad sentences: one line naming the problem, exit 2, nothing sent", { skip, timeout: 60_000 }, async () => {
  const base = ["submit", "--broker", "mqtt://127.0.0.1:1", "--connect-timeout", "300", "--task", "commands"];
  for (const [sentence, why] of [
    ["", /^edgellm: -i: empty sentence\n$/],
    ["   ", /^edgellm: -i: empty sentence\n$/],
    ["turn on the light ".repeat(20), /^edgellm: -i: its words take 359 bytes; the command grammar copies from at most 256\n$/],
  ] as const) {
    const r = await cli([...base, "-i", sentence]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, why);
  }
  // Bytes that are not UTF-8 on the command line: Node decodes them to U+FFFD.
  const bad = spawn("/bin/sh", ["-c", `"${process.execPath}" "${CLI}" ${base.join(" ")} -i "$(printf 'turn \\377 on')"`], { stdio: ["ignore", "pipe", "pipe"] });
  const errText: Buffer[] = [];
  bad.stderr.on("data", (d: Buffer) => errText.push(d));
  const code = await new Promise<number | null>((r) => bad.once("close", r));
  assert.equal(code, 2);
  assert.equal(Buffer.concat(errText).toString("utf8"), "edgellm: -i: not UTF-8 text\n");
  const task = await cli([...base.slice(0, -1), "text", "-i", "x", "--task", "poems"]);
  assert.equal(task.code, 2);
  assert.match(task.stderr, /task must be one of text, commands, got 'poems'/);
});
