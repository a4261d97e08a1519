// A firmware peer in the ESP32's budget (--max-memory 147456 = 144 KiB of linear memory, weights
// in host memory, int8 KV cache, ctx 128) serves many tasks through a Node gateway on a real
// mosquitto with the V8 engine's text, and the module's agent allocates nothing per task: linear
// memory and the top of the module's heap are the same after the last task as before the first.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import mqtt from "mqtt";
import { FleetClient } from "../../host/fleet/client.js";
import { Gateway } from "../../host/fleet/gateway.js";
import { b64 } from "../../host/fleet/messages.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { FW, FW_DEVICE, model, ROOT, v8Output } from "./firmware-helpers.js";
import { captureLog, haveFirmwarePeer, haveShared, until } from "./fleet-helpers.js";

const skip = skipUnless(haveShared, "../shared/models") || skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)");
const CAP = 147456, CTX = 128, TASKS = 40;

let mosq: MosquittoProcess;
before(async () => { if (!skip) mosq = await startMosquitto(); });
after(async () => { await mosq?.stop(); });

// stories260K (ternary) and the default model (its shape, with a q4 embedding) fill 2 pages
// nearly to the brim with their run state and the agent's buffers, so the inbox holds 4 KiB
// payloads (the ESP32's default); the default model runs on wasm3 configured as on the ESP32
// with its 8 KiB stack.
const CONFIGS = [
  { name: "ternary stories260K", path: () => model("ternary"), inbox: 4096, bin: FW, extra: [] as string[] },
  { name: "the default model (device profile)", path: () => join(ROOT, "models", "default.ellm"), inbox: 4096, bin: FW_DEVICE, extra: ["--stack", "8192"] },
];

for (const [k, c] of CONFIGS.entries()) {
  test(`a firmware peer with ${c.name} in ${CAP} bytes of linear memory serves ${TASKS} tasks with its memory flat`, { skip, timeout: 180_000 }, async () => {
    const path = c.path(), fleet = `mem${k}`, id = `esp-mem${k}`;
    const gw = await Gateway.start({ broker: mosq.url, fleet, id: "gw", log: captureLog("gateway").log, scheduler: { leaseMs: 5000, peerTimeoutMs: 5000 } });
    const fw = spawn(c.bin, ["serve", "--broker", mosq.url, "--model", path, "--id", id, "--fleet", fleet, "--heartbeat", "300",
      "--host-weights", "--kv-int8", "--ctx", String(CTX), "--max-memory", String(CAP), "--inbox", String(c.inbox), ...c.extra], { stdio: ["ignore", "ignore", "pipe"] });
    let fwErr = "";
    fw.stderr!.on("data", (d) => { fwErr += d; });
    const client = await FleetClient.connect({ broker: mosq.url, fleet, log: captureLog("client").log, resubmitMs: 5000 });
    try {
      await until(() => gw.scheduler.peerIds().includes(id), 30_000, `the firmware peer online (${fwErr})`);
      // Prompts of every length up to ~60 tokens, steps up to the context, greedy and sampled.
      const tasks = Array.from({ length: TASKS }, (_, i) => ({
        taskId: `mem-${i}`, prompt: `Task ${i}: the little dog ran. `.repeat(i % 6), steps: 72 + (i * 7) % (CTX - 71),
        temperature: i % 2 ? 0.8 : 0, topp: 0.9, seed: BigInt(7 + i),
      }));
      const replies = await Promise.all(tasks.map((t) => client.submit({ ...t, timeoutMs: 150_000 })));
      for (const [i, r] of replies.entries()) {
        const t = tasks[i];
        assert.equal(r.status, "done", `${t.taskId}: ${r.error ?? ""} ${fwErr}`);
        assert.equal(r.peer, id);
        const want = v8Output(path, { ...t, ctx: CTX, kvInt8: true }).subarray(0, -1); // without run's final "\n"
        assert.ok(Buffer.from(b64.to(r.data)).equals(want), `${t.taskId}: firmware text differs from V8's`);
      }
      const exited = new Promise<number | null>((r) => fw.once("exit", (code) => r(code)));
      fw.kill("SIGTERM");
      assert.equal(await exited, 0, fwErr);
      assert.doesNotMatch(fwErr, /grew|dropped message|edgellm-fw: error/, fwErr);
      const m = /linear memory (\d+) bytes \((\d+) when serving began\), heap top (\d+) \((\d+)\)/.exec(fwErr);
      assert.ok(m, `no memory line in: ${fwErr}`);
      const [memEnd, memStart, heapEnd, heapStart] = m.slice(1).map(Number);
      assert.ok(memEnd <= CAP, `linear memory ${memEnd} > ${CAP}`);
      assert.equal(memEnd, memStart, "linear memory grew while serving");
      // The second heap read costs one empty block (16 bytes); a prompt or an output kept per
      // task would show here as hundreds of bytes per task.
      assert.ok(heapStart > 0 && heapEnd - heapStart <= 16, `the module's heap grew by ${heapEnd - heapStart} bytes over ${TASKS} tasks`);
    } finally {
      if (fw.exitCode === null) fw.kill("SIGKILL");
      await client.close();
      await gw.close();
    }
  });
}

// The budget is enforced, not just met: a payload larger than the inbox is refused with a log
// line, and an inbox that does not fit beside the run state and the agent fails to start.
test("a payload over the inbox is refused by the host; an inbox past the memory cap fails cleanly", { skip, timeout: 60_000 }, async () => {
  const path = model("ternary");
  const base = ["serve", "--broker", mosq.url, "--model", path, "--id", "esp-small", "--fleet", "memx", "--host-weights", "--kv-int8", "--ctx", String(CTX), "--max-memory", String(CAP)];
  // 64 KiB: the inbox itself grows memory past the cap; 12 KiB: the inbox fits, the agent's
  // buffers after it do not, and agentInit refuses them.
  for (const [inbox, want] of [["65536", /^edgellm-fw: error: agent inbox: .*past --max-memory 147456$/], ["12288", /^edgellm-fw: error: agentInit: the agent's buffers do not fit in linear memory/]] as const) {
    const r = spawnSync(FW, [...base, "--inbox", inbox], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.trim(), want);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }

  const fw = spawn(FW, [...base, "--inbox", "4096", "--heartbeat", "300"], { stdio: ["ignore", "ignore", "pipe"] });
  let fwErr = "";
  fw.stderr!.on("data", (d) => { fwErr += d; });
  const raw = await mqtt.connectAsync(mosq.url, { reconnectPeriod: 0 });
  try {
    const results: { taskId: string; status: string }[] = [];
    const rejects: string[] = [];
    raw.on("message", (topic, payload) => {
      const m = JSON.parse(payload.toString()) as { kind: string; taskId: string; status: string; online?: boolean };
      if (m.kind === "result") results.push(m);
      if (m.kind === "reject") rejects.push(m.taskId);
    });
    let online = false;
    raw.on("message", (topic, payload) => { if (topic.endsWith("/status")) online = (JSON.parse(payload.toString()) as { online: boolean }).online; });
    await raw.subscribeAsync("edgellm/v1/memx/peer/esp-small/+", { qos: 1 });
    await until(() => online, 30_000, `the firmware peer online (${fwErr})`);
    const task = (taskId: string, prompt: string) => JSON.stringify({ v: 1, kind: "task", taskId, attempt: 1, leaseMs: 60_000, deadlineMs: 0, prompt, steps: 16, temperature: 0, topp: 0.9, seed: "1" });
    await raw.publishAsync("edgellm/v1/memx/to/esp-small/task", task("big", "x".repeat(5000)), { qos: 1 });
    await raw.publishAsync("edgellm/v1/memx/to/esp-small/task", task("small", "Once"), { qos: 1 });
    await until(() => results.some((r) => r.taskId === "small"), 30_000, `the small task's result (${fwErr})`);
    assert.equal(results.find((r) => r.taskId === "small")!.status, "done");
    assert.ok(!results.some((r) => r.taskId === "big") && !rejects.includes("big"), "the oversized task reached the agent");
    assert.match(fwErr, /ignored message: edgellm\/v1\/memx\/to\/esp-small\/task: payload of \d+ bytes does not fit the inbox of 4096 bytes/);
  } finally {
    fw.kill("SIGTERM");
    await raw.endAsync();
  }
});
