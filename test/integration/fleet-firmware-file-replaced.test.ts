// A firmware peer serving with --host-weights survives its model file being truncated and
// rewritten under it (it used to die of SIGBUS on its mapping): it serves the copy it loaded,
// the same bytes as before, and says the file changed.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { after, before, test } from "node:test";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { FW, haveFirmwarePeer, haveShared, modelFile, until } from "./fleet-helpers.js";
import { spawn } from "node:child_process";

const skip = skipUnless(haveShared, "../shared/models") || skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)");
const FLEET = "fwfile", ID = "esp-file";

let mosq: MosquittoProcess;
before(async () => { if (!skip) mosq = await startMosquitto(); });
after(async () => { await mosq?.stop(); });

test("a model file truncated and rewritten while a --host-weights peer serves it", { skip, timeout: 120_000 }, async () => {
  const path = join(mkdtempSync(join(tmpdir(), "edgellm-file-")), "model.ellm");
  copyFileSync(modelFile(), path);
  const peer = spawn(FW, ["serve", "--broker", mosq.url, "--model", path, "--id", ID, "--fleet", FLEET, "--heartbeat", "300", "--host-weights"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "", exited: number | null | undefined;
  peer.stderr!.on("data", (d) => { err += d; });
  peer.on("exit", (code, signal) => { exited = code ?? (signal ? -1 : null); });
  const raw = await mqtt.connectAsync(mosq.url, { reconnectPeriod: 0 });
  const results = new Map<string, { status: string; data: string }>();
  let online = false;
  raw.on("message", (topic, payload) => {
    const m = JSON.parse(payload.toString()) as { taskId: string; status: string; data: string; online?: boolean };
    if (topic.endsWith("/result")) results.set(m.taskId, m);
    if (topic.endsWith("/status")) online = m.online === true;
  });
  const task = (taskId: string) => JSON.stringify({
    v: 1, kind: "task", taskId, attempt: 1, leaseMs: 60_000, deadlineMs: 0, prompt: "Once upon a time", steps: 48, temperature: 0, topp: 0.9, seed: "1",
  });
  try {
    await raw.subscribeAsync([`edgellm/v1/${FLEET}/peer/${ID}/result`, `edgellm/v1/${FLEET}/peer/${ID}/status`], { qos: 1 });
    await until(() => online, 30_000, `the peer online (${err})`);
    await raw.publishAsync(`edgellm/v1/${FLEET}/to/${ID}/task`, task("before"), { qos: 1 });
    await until(() => results.has("before"), 60_000, `the first task (${err})`);

    writeFileSync(path, "truncated in place"); // same inode: a mapping would now fault
    await raw.publishAsync(`edgellm/v1/${FLEET}/to/${ID}/task`, task("after"), { qos: 1 });
    await until(() => results.has("after") || exited !== undefined, 60_000, `the second task (${err})`);
    assert.equal(exited, undefined, `the peer died: ${err}`);
    assert.equal(results.get("after")!.status, "done");
    assert.equal(results.get("after")!.data, results.get("before")!.data, "the same output from the copy it loaded");
    await until(() => /model file .* changed on disk; still serving the copy loaded at start/.test(err), 10_000, `the change reported (${err})`);
  } finally {
    peer.kill("SIGTERM");
    await raw.endAsync();
  }
});
