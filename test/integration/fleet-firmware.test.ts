// The firmware's POSIX build as a fleet peer (`edgellm-fw serve`: wasm3 + libmosquitto) with a
// Node gateway and client on a real mosquitto: same text as a local run, bad input ignored with
// a log line, last will on a crash, offline status on SIGTERM.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { after, before, test } from "node:test";
import { FleetClient } from "../../host/fleet/client.js";
import { Gateway } from "../../host/fleet/gateway.js";
import { b64, decode } from "../../host/fleet/messages.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { captureLog, FW, haveFirmwarePeer, haveShared, localRun, modelFile, ROOT, spawnFirmwarePeer, taskSet, until } from "./fleet-helpers.js";

const skip = skipUnless(haveShared, "../shared/models") || skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)");

let mosq: MosquittoProcess;
before(async () => { if (!skip) mosq = await startMosquitto(); });
after(async () => { await mosq?.stop(); });

test("a firmware peer serves tasks with the text of a local run and shrugs off bad input", { skip, timeout: 120_000 }, async () => {
  const gw = await Gateway.start({ broker: mosq.url, fleet: "fw", id: "gw", log: captureLog("gateway").log, scheduler: { leaseMs: 3000, peerTimeoutMs: 3000 } });
  const fw = spawnFirmwarePeer(mosq.url, "esp-sim", "fw");
  let fwErr = "";
  fw.stderr!.on("data", (d) => { fwErr += d; });
  await until(() => gw.scheduler.peerIds().includes("esp-sim"), 30_000, `the firmware peer online (${fwErr})`);
  const client = await FleetClient.connect({ broker: mosq.url, fleet: "fw", log: captureLog("client").log, resubmitMs: 2000 });

  const tasks = [...taskSet(7, 40), { taskId: "escapes", prompt: "Tom said \"hi\"\n\tété ☃ 😀 \\ /", steps: 40, temperature: 0.7, topp: 0.9, seed: 5n }];
  const streamed = new Map<string, Buffer[]>();
  const replies = await Promise.all(tasks.map((t) => {
    const chunks: Buffer[] = [];
    streamed.set(t.taskId, chunks);
    return client.submit({ ...t, timeoutMs: 60_000 }, (b) => chunks.push(Buffer.from(b)));
  }));
  for (const [i, r] of replies.entries()) {
    assert.equal(r.status, "done", r.error);
    assert.equal(r.peer, "esp-sim");
    const want = localRun(tasks[i]);
    assert.ok(Buffer.from(b64.to(r.data)).equals(want), `${tasks[i].taskId}: firmware text differs from a local run`);
    assert.ok(Buffer.concat(streamed.get(tasks[i].taskId)!).equals(want), `${tasks[i].taskId}: streamed text differs`);
  }

  // Bad input on the firmware peer's inbox: logged, ignored, and the peer keeps serving.
  const raw = await mqtt.connectAsync(mosq.url, { reconnectPeriod: 0 });
  const inbox = "edgellm/v1/fw/to/esp-sim";
  const good = { v: 1, kind: "task", taskId: "x", attempt: 1, leaseMs: 1000, deadlineMs: 0, prompt: "Hi", steps: 8, temperature: 0, topp: 0.9, seed: "1" };
  const bad: [string, string | Buffer][] = [
    [`${inbox}/task`, "{not json"],
    [`${inbox}/task`, Buffer.alloc(70_000, 0x20)],
    [`${inbox}/task`, JSON.stringify({ ...good, v: 2 })],
    [`${inbox}/task`, JSON.stringify({ ...good, extra: true })],
    [`${inbox}/task`, JSON.stringify({ ...good, seed: 1 })],
    [`${inbox}/task`, JSON.stringify({ ...good, steps: -1 })],
    [`${inbox}/task`, JSON.stringify({ ...good, prompt: { nested: 1 } })],
    [`${inbox}/task`, JSON.stringify({ ...good, taskId: "a/b" })],
    [`${inbox}/cancel`, "[]"],
    [`${inbox}/selfie`, "{}"],
  ];
  for (const [t, p] of bad) await raw.publishAsync(t, p, { qos: 1 });
  // The agent logs refusals (at most 10 a second; a later line counts any left out).
  await until(() => /\[agent\] ignored message: /.test(fwErr), 10_000, `the firmware to log the bad messages:\n${fwErr}`);
  const after1 = await client.submit({ prompt: "The cat", steps: 30, temperature: 0.5, topp: 0.9, seed: 99n, timeoutMs: 30_000 });
  assert.equal(after1.status, "done");
  assert.ok(Buffer.from(b64.to(after1.data)).equals(localRun({ prompt: "The cat", steps: 30, temperature: 0.5, topp: 0.9, seed: 99n })));
  await raw.endAsync();

  // SIGTERM: offline status, clean exit.
  const exited = new Promise<number | null>((r) => fw.once("exit", (code) => r(code)));
  fw.kill("SIGTERM");
  assert.equal(await exited, 0);
  // Every bad message reached the agent and was refused there; nothing else was.
  const counts = /messages: (\d+) received, 0 dropped \(inbox full\), (\d+) taken from the inbox \((\d+) refused by the agent, 0 by the host\)/.exec(fwErr);
  assert.ok(counts, fwErr);
  assert.equal(Number(counts[3]), bad.length, fwErr);
  await until(() => !gw.scheduler.peerIds().includes("esp-sim"), 5000, "the gateway to see the firmware peer offline");

  // SIGKILL: the broker publishes its last will.
  const fw2 = spawnFirmwarePeer(mosq.url, "esp-sim2", "fw");
  await until(() => gw.scheduler.peerIds().includes("esp-sim2"), 30_000, "the second firmware peer online");
  fw2.kill("SIGKILL");
  await until(() => !gw.scheduler.peerIds().includes("esp-sim2"), 5000, "the last will to mark it offline");

  await client.close();
  await gw.close();
});

// The network thread only queues (32 messages at most); the main thread hands them to the
// module between ticks. A flood while a task runs: each message is either taken from the inbox
// (the agent refuses it) or dropped, with log lines (rate-limited, counting what they leave
// out), none is lost unaccounted, and the task still completes.
test("a flood of messages while a task runs: every one is taken or dropped, counted and logged", { skip, timeout: 60_000 }, async () => {
  const fw = spawnFirmwarePeer(mosq.url, "esp-flood", "fwflood");
  let fwErr = "";
  fw.stderr!.on("data", (d) => { fwErr += d; });
  const raw = await mqtt.connectAsync(mosq.url, { reconnectPeriod: 0 });
  try {
    const results = new Map<string, string>();
    let online = false;
    raw.on("message", (topic, payload) => {
      const m = JSON.parse(payload.toString()) as { kind: string; taskId: string; status: string; online: boolean };
      if (m.kind === "result") results.set(m.taskId, m.status);
      if (m.kind === "status") online = m.online;
    });
    await raw.subscribeAsync("edgellm/v1/fwflood/peer/esp-flood/+", { qos: 1 });
    await until(() => online, 30_000, `the firmware peer online (${fwErr})`);
    const inbox = "edgellm/v1/fwflood/to/esp-flood";
    await raw.publishAsync(`${inbox}/task`, JSON.stringify({ v: 1, kind: "task", taskId: "busy", attempt: 1, leaseMs: 60_000, deadlineMs: 0, prompt: "Once upon a time", steps: 400, temperature: 0, topp: 0.9, seed: "1" }), { qos: 1 });
    const N = 300;
    await Promise.all(Array.from({ length: N }, (_, i) => raw.publishAsync(`${inbox}/flood${i}`, "{}", { qos: 1 })));
    await until(() => results.has("busy"), 30_000, `the task's result (${fwErr})`);
    assert.equal(results.get("busy"), "done");
    await new Promise((r) => setTimeout(r, 1000)); // the broker's last deliveries of the flood
    const exited = new Promise<number | null>((r) => fw.once("exit", (code) => r(code)));
    fw.kill("SIGTERM");
    assert.equal(await exited, 0, fwErr);
    const m = /messages: (\d+) received, (\d+) dropped \(inbox full\), (\d+) taken from the inbox \((\d+) refused by the agent, (\d+) by the host\)/.exec(fwErr);
    assert.ok(m, `no message counts in: ${fwErr}`);
    const [received, dropped, taken, refused, refusedHost] = m.slice(1).map(Number);
    // The peer also reads its own retained status (its presence, guarded by the agent): the echo
    // of the status it published on connecting, before the flood.
    const presence = received - N - 1;
    assert.ok(presence >= 1 && presence <= 2, `messages received: the task, the flood and ${presence} of its own status`);
    assert.equal(taken + dropped, received, `${taken} taken + ${dropped} dropped of ${received}`);
    assert.equal(refused, taken - 1 - presence, "every flood message taken was refused by the agent, the task and its own status were not");
    assert.equal(refusedHost, 0);
    // Log lines say what happened; rate-limited, each counts the ones left out before it.
    const count = (re: RegExp) => [...fwErr.matchAll(re)].reduce((n, x) => n + 1 + Number(x[1] ?? 0), 0);
    const droppedLogged = count(/dropped message on \S+\/flood\d+: inbox full \(32 waiting\)(?: \(and (\d+) more not logged\))?/g);
    assert.ok(dropped === 0 ? droppedLogged === 0 : droppedLogged >= 1 && droppedLogged <= dropped, `${droppedLogged} drops logged of ${dropped}`);
    const refusedLogged = count(/ignored message: .*\/flood\d+\b[^\n]*?(?: \(and (\d+) more not logged\))?$/gm);
    assert.ok(refusedLogged >= 1 && refusedLogged <= refused, `${refusedLogged} refusals logged of ${refused}`);
  } finally {
    if (fw.exitCode === null) fw.kill("SIGKILL");
    await raw.endAsync();
  }
});

// `edgellm-fw serve --decode KIND` hands one payload to the module's agentMessage under wasm3,
// on the vector's own topic, and prints what the agent publishes ("> topic qos retain payload").
test("the module's agent under wasm3 agrees with the protocol vectors on every message a peer receives", { skip: skipUnless(haveShared, "../shared/models") || skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)") }, () => {
  const vectors = JSON.parse(readFileSync(join(ROOT, "test", "vectors", "protocol", "vectors.json"), "utf8")) as {
    messages: { name: string; topic: string; payload?: unknown; payloadText?: string; payloadFill?: { byte: number; length: number }; expect: "ok" | "reject" }[];
  };
  const inbound = vectors.messages.filter((v) => /\/to\/[^/]+\/(task|cancel)$/.test(v.topic));
  assert.ok(inbound.length >= 12, `${inbound.length} vectors`);
  let accepted = 0;
  for (const v of inbound) {
    const [, , fleet, , id, kind] = v.topic.split("/");
    const payload = v.payloadText !== undefined ? Buffer.from(v.payloadText) : v.payloadFill ? Buffer.alloc(v.payloadFill.length, v.payloadFill.byte) : Buffer.from(JSON.stringify(v.payload));
    const r = spawnSync(FW, ["serve", "--decode", kind, "--model", modelFile(), "--fleet", fleet, "--id", id], { input: payload, encoding: "utf8" });
    assert.notEqual(r.status, 2, `${v.name}: ${r.stderr}`);
    const lines = r.stdout.trimEnd().split("\n");
    const verdict = lines.pop()!;
    assert.equal(r.status === 0 ? "ok" : "reject", v.expect, `${v.name}: the agent said ${verdict} (${r.stderr.trim()})`);
    assert.match(verdict, r.status === 0 ? /^ok$/ : /^reject: \S/, v.name);
    // What the agent published in answer must itself pass the protocol's decoder.
    const published = lines.map((l) => /^> (\S+) (\d) (\d) (.*)$/.exec(l)!);
    for (const m of published) {
      assert.ok(m, `${v.name}: unexpected output ${r.stdout}`);
      const d = decode(m[1], Buffer.from(m[4]));
      assert.ok(d.ok, `${v.name}: the agent published an invalid message: ${d.ok ? "" : d.reason}`);
    }
    if (v.expect === "reject") assert.equal(published.length, 0, `${v.name}: a refused message changed something: ${r.stdout}`);
    else if (kind === "task" && (v.payload as { adapter?: string }).adapter) {
      // A valid task for an adapter this peer does not hold: rejected (QoS 1) naming it.
      const p = v.payload as { taskId: string; attempt: number; adapter: string };
      const rej = published.find((m) => m[1] === `edgellm/v1/${fleet}/peer/${id}/reject`);
      assert.ok(rej && rej[2] === "1" && rej[3] === "0", `${v.name}: no reject in ${r.stdout}`);
      assert.deepEqual(JSON.parse(rej[4]), { v: 1, kind: "reject", taskId: p.taskId, attempt: p.attempt, reason: `adapter '${p.adapter}' is not held by this peer` });
    } else if (kind === "task" && (v.payload as { task?: string }).task === "commands") {
      // A valid commands task on a peer without the command grammar: rejected saying so.
      const p = v.payload as { taskId: string; attempt: number };
      const rej = published.find((m) => m[1] === `edgellm/v1/${fleet}/peer/${id}/reject`);
      assert.ok(rej && rej[2] === "1" && rej[3] === "0", `${v.name}: no reject in ${r.stdout}`);
      assert.deepEqual(JSON.parse(rej[4]), { v: 1, kind: "reject", taskId: p.taskId, attempt: p.attempt, reason: "commands tasks are not served by this peer" });
    } else if (kind === "task") {
      // A valid task on an idle peer: accepted (QoS 1, not retained) with its attempt.
      const acc = published.find((m) => m[1] === `edgellm/v1/${fleet}/peer/${id}/accept`);
      assert.ok(acc && acc[2] === "1" && acc[3] === "0", `${v.name}: no accept in ${r.stdout}`);
      assert.deepEqual(JSON.parse(acc[4]), { v: 1, kind: "accept", taskId: (v.payload as { taskId: string }).taskId, attempt: (v.payload as { attempt: number }).attempt });
      accepted++;
    }
  }
  assert.ok(accepted >= 2, `${accepted} tasks accepted`);
});
