// The fleet from the command line on the embedded broker: `gateway --embedded-broker`, `serve`,
// `peers --json`, and `submit`, whose stdout must equal `edgellm run`'s byte for byte.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { after, test } from "node:test";
import { freePort, waitForPort } from "../../host/fleet/mosquitto.js";
import { CHECKPOINT, CLI, TOKENIZER, haveShared, spawnPeer, until } from "./fleet-helpers.js";

const skip = haveShared ? false : "needs ../shared/models";
const procs: ChildProcess[] = [];
after(() => { for (const p of procs.reverse()) p.kill("SIGKILL"); });

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "buffer", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString("utf8") };
}

test("gateway --embedded-broker, serve, peers --json and submit (= run, byte for byte)", { skip, timeout: 90_000 }, async () => {
  const port = await freePort();
  const broker = `mqtt://127.0.0.1:${port}`;
  const gw = spawn(process.execPath, [CLI, "gateway", "--embedded-broker", "--port", String(port), "--log-level", "warn"], { stdio: "ignore" });
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

  const bad = cli(["submit", "--broker", broker, "-n", "-3"]);
  assert.equal(bad.code, 2);
  const nobody = cli(["submit", "--broker", "mqtt://127.0.0.1:1", "-n", "5", "--connect-timeout", "500"]);
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /^edgellm: /);
  assert.equal(nobody.stderr.trim().split("\n").length, 1, nobody.stderr);
});
