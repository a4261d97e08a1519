// Cancel and deadlines end to end (Node peer on mosquitto), with the gateway on MQTT 3.1.1 and
// the peer and client on MQTT 5: a cancelled or expired task stops on the peer, the client gets
// one reply saying so, and the peer goes on serving.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FleetClient } from "../../host/fleet/client.js";
import { Gateway } from "../../host/fleet/gateway.js";
import { b64 } from "../../host/fleet/messages.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { Peer } from "../../host/fleet/peer.js";
import { captureLog, haveShared, localRun, model, until } from "./fleet-helpers.js";

const skip = skipUnless(haveShared, "../shared/models");
let mosq: MosquittoProcess;
before(async () => { if (!skip) mosq = await startMosquitto(); });
after(async () => { await mosq?.stop(); });

test("cancel and deadline stop a running task; the peer keeps serving (MQTT 3.1.1 gateway, MQTT 5 peer)", { skip, timeout: 60_000 }, async () => {
  const gw = await Gateway.start({ broker: mosq.url, fleet: "cx", id: "gw", protocolVersion: 4, log: captureLog("gateway").log });
  // The MVP build (slower than SIMD) so the long tasks below surely run for a while.
  const peer = await Peer.start({ broker: mosq.url, fleet: "cx", id: "p", model: model(), engine: "mvp", protocolVersion: 5, maxQueue: 4, log: captureLog("p").log });
  const client = await FleetClient.connect({ broker: mosq.url, fleet: "cx", protocolVersion: 5, log: captureLog("client").log });
  await until(() => gw.scheduler.peerIds().includes("p"), 10_000, "peer online");
  const ends: string[] = [];
  peer.on("taskEnd", (id, _a, status) => ends.push(`${id}:${status}`));

  // Long tasks (whole context) so that they are still running when stopped.
  const long = { prompt: "Once upon a time", steps: 512, temperature: 1, topp: 0.9, seed: 3n };
  let started = false;
  peer.on("taskStart", (id) => { if (id === "to-cancel") started = true; });
  const cancelled = client.submit({ ...long, taskId: "to-cancel" });
  await until(() => started, 20_000, "the task running");
  await client.cancel("to-cancel", "user pressed ctrl-c");
  const r1 = await cancelled;
  assert.equal(r1.status, "cancelled");
  await until(() => ends.includes("to-cancel:cancelled"), 10_000, `the peer to stop the task (${ends})`);

  const r2 = await client.submit({ ...long, seed: 4n, taskId: "too-slow", deadlineMs: 5 });
  assert.equal(r2.status, "expired");
  await until(() => ends.some((e) => e.startsWith("too-slow:")), 10_000, "the peer to end the expired task");

  const ok = { prompt: "The cat", steps: 40, temperature: 0.8, topp: 0.9, seed: 8n };
  const r3 = await client.submit({ ...ok, timeoutMs: 20_000 });
  assert.equal(r3.status, "done");
  assert.ok(Buffer.from(b64.to(r3.data)).equals(localRun(ok)));

  await client.close();
  await peer.close();
  await gw.close();
});
