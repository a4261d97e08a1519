// The fleet from the command line on the embedded broker: `gateway --embedded-broker`, `serve`,
// `peers --json`, and `submit`, whose stdout must equal `edgellm run`'s byte for byte.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { after, test } from "node:test";
import { freePort, waitForPort } from "../../host/fleet/mosquitto.js";
import { CHECKPOINT, CLI, TOKENIZER, haveShared, spawnPeer, until } from "./fleet-helpers.js";

const skip = skipUnless(haveShared, "../shared/models");
const procs: ChildProcess[] = [];
after(() => { for (const p of procs.reverse()) p.kill("SIGKILL"); });

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "buffer", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString("utf8") };
}

test("gateway --embedded-broker, serve, peers --json and submit (= run, byte for byte)", { skip, timeout: 90_000 }, async () => {
  const port = await freePort();
  const broker = `mqtt://127.0.0.1:${port}`;
  const gw = spawn(process.execPath, [CLI, "gateway", "--embedded-broker", "--port", String(port), "--log-level", "warn", "--place-timeout", "1500"], { stdio: "ignore" });
  procs.push(gw);
  await waitForPort(port, 15_000);
  procs.push(spawnPeer(broker, "cli-1"), spawnPeer(broker, "cli-2"));
  let peers: { id: string; online: boolean }[] = [];
  await until(() => {
    const r = cli(["peers", "--broker", broker, "--json", "--wait", "300"]);
    peers = r.code === 0 ? JSON.parse(r.stdout.toString("utf8")) : [];
    return peers.filter((p) => p.online).length === 2;
  }, 30_000, "two peers online");
  assert.deepEqual(peers.map((p) => [p.id, p.online]), [["cli-1", true], ["cli-2", true]]);

  for (const args of [["-i", "Once upon a time", "-n", "80", "-t", "0"], ["-i", "The dog", "-n", "60", "-t", "0.9", "-s", "77"], ["-n", "30", "-t", "1", "-p", "0.5", "-s", "3"]]) {
    const sub = cli(["submit", "--broker", broker, ...args]);
    const run = cli(["run", CHECKPOINT, "-z", TOKENIZER, ...args]);
    assert.equal(sub.code, 0, sub.stderr);
    assert.ok(sub.stdout.equals(run.stdout), `submit ${args.join(" ")}:\n${sub.stdout}\n≠ run:\n${run.stdout}`);
  }
  const json = cli(["submit", "--broker", broker, "-i", "Hi", "-n", "20", "-t", "0", "--json"]);
  const r = JSON.parse(json.stdout.toString("utf8"));
  assert.equal(r.status, "done");
  assert.ok(["cli-1", "cli-2"].includes(r.peer));

  // SIGTERM: the peer announces itself offline and exits.
  const exited = new Promise<number | null>((r) => procs[1].once("exit", (code) => r(code)));
  procs[1].kill("SIGTERM");
  assert.equal(await exited, 0);
  const after = JSON.parse(cli(["peers", "--broker", broker, "--json", "--wait", "300"]).stdout.toString("utf8")) as { id: string; online: boolean }[];
  assert.deepEqual(after.map((p) => [p.id, p.online]), [["cli-1", false], ["cli-2", true]]);

  // A task no peer can run (1000 steps, contexts of 512): a prompt failure naming why, not a wait.
  const tooLong = cli(["submit", "--broker", broker, "-n", "1000", "--timeout", "30000"]);
  assert.equal(tooLong.code, 1);
  assert.match(tooLong.stderr, /^edgellm: task \S+ failed: no peer can run it: 1000 steps exceed the context of every peer that could run it \(largest 512\)\n$/);

  const bad = cli(["submit", "--broker", broker, "-n", "-3"]);
  assert.equal(bad.code, 2);
  for (const [args, message] of [
    [["submit", "--broker", broker, "--model-id", "m".repeat(200)], /^edgellm: --model-id must be 1-128 characters, got 200\n$/],
    [["submit", "--broker", ""], /^edgellm: --broker is empty/],
    [["serve", "--broker", broker, "--id", "q", "--max-queue", "100"], /max-queue/],
  ] as const) {
    const r = cli([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const nobody = cli(["submit", "--broker", "mqtt://127.0.0.1:1", "-n", "5", "--connect-timeout", "500"]);
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /^edgellm: /);
  assert.equal(nobody.stderr.trim().split("\n").length, 1, nobody.stderr);
});
