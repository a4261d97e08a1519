// The firmware peer stops a running task at the next position on a cancel or when its deadline
// passes, and goes on serving task after task.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { after, before, test } from "node:test";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { haveFirmwarePeer, haveShared, spawnFirmwarePeer, until } from "./fleet-helpers.js";

const skip = skipUnless(haveShared, "../shared/models") || skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)");
const FLEET = "fwstop", ID = "esp-stop";
// The teacher's whole context: long enough (seconds under wasm3) that a stop is visible.
const LONG = 512;

interface Result { taskId: string; status: string; tokens: number; error?: string }

let mosq: MosquittoProcess;
before(async () => { if (!skip) mosq = await startMosquitto(); });
after(async () => { await mosq?.stop(); });

test("a firmware peer honours cancel and deadlines mid-task", { skip, timeout: 120_000 }, async () => {
  const fw = spawnFirmwarePeer(mosq.url, ID, FLEET);
  let fwErr = "";
  fw.stderr!.on("data", (d) => { fwErr += d; });
  const raw = await mqtt.connectAsync(mosq.url, { reconnectPeriod: 0 });
  const results = new Map<string, Result>();
  const firstTokens = new Set<string>();
  let online = false;
  raw.on("message", (topic, payload) => {
    const m = JSON.parse(payload.toString()) as Result & { kind: string; online?: boolean };
    if (topic.endsWith("/result")) results.set(m.taskId, m);
    if (topic.endsWith("/tokens")) firstTokens.add(m.taskId);
    if (topic.endsWith("/status")) online = m.online === true;
  });
  try {
    await raw.subscribeAsync([`edgellm/v1/${FLEET}/peer/${ID}/result`, `edgellm/v1/${FLEET}/peer/${ID}/tokens`, `edgellm/v1/${FLEET}/peer/${ID}/status`], { qos: 1 });
    const inbox = `edgellm/v1/${FLEET}/to/${ID}`;
    const task = (taskId: string, deadlineMs: number) => JSON.stringify({
      v: 1, kind: "task", taskId, attempt: 1, leaseMs: 60_000, deadlineMs, prompt: "Once upon a time", steps: LONG, temperature: 0, topp: 0.9, seed: "1",
    });

    // A full run first: the baseline of positions.
    await until(() => online, 30_000, `the firmware peer online (${fwErr})`);
    await raw.publishAsync(`${inbox}/task`, task("full", 0), { qos: 1 });
    await until(() => results.has("full"), 60_000, `the full task (${fwErr})`);
    assert.equal(results.get("full")!.status, "done");
    const full = results.get("full")!.tokens;
    assert.ok(full > 100, `full run positions ${full}`);

    // Cancel as soon as tokens flow: the task stops long before its end.
    await raw.publishAsync(`${inbox}/task`, task("cancel-me", 0), { qos: 1 });
    await until(() => firstTokens.has("cancel-me"), 30_000, "tokens of the task to cancel");
    await raw.publishAsync(`${inbox}/cancel`, JSON.stringify({ v: 1, kind: "cancel", taskId: "cancel-me", reason: "test" }), { qos: 1 });
    await until(() => results.has("cancel-me"), 30_000, "the cancelled result");
    const c = results.get("cancel-me")!;
    assert.equal(c.status, "cancelled");
    assert.ok(c.tokens < full, `cancelled after ${c.tokens} of ${full} positions`);

    // A deadline far shorter than the run: expired, stopped early.
    await raw.publishAsync(`${inbox}/task`, task("late", 150), { qos: 1 });
    await until(() => results.has("late"), 30_000, "the expired result");
    const l = results.get("late")!;
    assert.equal(l.status, "expired");
    assert.ok(l.tokens < full, `expired after ${l.tokens} of ${full} positions`);

    // Many more tasks, one after another: the peer keeps serving every one of them.
    for (let i = 0; i < 20; i++) {
      const id = `short-${i}`;
      await raw.publishAsync(`${inbox}/task`, JSON.stringify({ ...JSON.parse(task(id, 0)), steps: 8, prompt: `Prompt number ${i} `.repeat(4) }), { qos: 1 });
      await until(() => results.has(id), 30_000, `short task ${i}`);
      assert.equal(results.get(id)!.status, "done");
    }

    const exited = new Promise<number | null>((r) => fw.once("exit", (code) => r(code)));
    fw.kill("SIGTERM");
    assert.equal(await exited, 0);
  } finally {
    if (fw.exitCode === null) fw.kill("SIGKILL");
    await raw.endAsync();
  }
});
