// Federated rounds against real mosquitto with faults: a trainer process killed mid-round, and a
// client that sends garbage, a huge message and a NaN update every round. The run completes,
// every refused update is refused with its reason, and in every round the global moves by
// exactly the |D_k|-weighted average of the updates the coordinator accepted.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chunkAt, f32ToBytes } from "../../host/federated/chunks.js";
import { b64 } from "../../host/fleet/messages.js";
import { topics } from "../../host/fleet/topics.js";
import { Transport } from "../../host/fleet/transport.js";
import { captureLog, until } from "./fleet-helpers.js";
import { baseModel, checkAverage, closeAll, Observer, recordRounds, spawnTrainer, startCoordinator, startTrainer, useMosquitto, waitFor } from "./federated-helpers.js";
import { modelChecksum } from "../../host/federated/local-trainer.js";

const mosquitto = useMosquitto();

test("a trainer killed mid-round and a client sending garbage, a huge message and NaN: the run completes, the average is never poisoned", { timeout: 90_000 }, async () => {
  const fleet = "ff", mosq = mosquitto();
  const observer = await Observer.start(mosq.url, fleet);
  const t1 = await startTrainer(mosq.url, fleet, "t1", 1);
  const t2 = await startTrainer(mosq.url, fleet, "t2", 2);
  const doomed = spawnTrainer(mosq.url, fleet, "doomed", 3);
  let doomedLog = "";
  doomed.stderr!.on("data", (d) => { doomedLog += d; });
  // The evil client: a trainer as far as presence goes, then garbage on its update topic.
  const evil = await Transport.connect({ broker: mosq.url, clientId: "evil", log: captureLog("evil").log });
  await evil.publish(topics.fedPeer(fleet, "evil", "trainer"), { kind: "trainer", id: "evil", online: true, methods: ["backprop"], base: modelChecksum(baseModel()), maxChunk: 32768 }, 1, true);
  await until(() => doomedLog.includes("trainer doomed:"), 20_000, "the trainer process up");

  const { coordinator, service } = await startCoordinator(mosq.url, fleet, { rounds: 3, clientsPerRound: 4, roundMs: 6000, gatherMs: 500 });
  const rounds = recordRounds(coordinator, service);
  const checks: Promise<void>[] = [];
  service.driver.on("started", (m) => {
    if (m.clients.includes("doomed") && doomed.exitCode === null) doomed.kill("SIGKILL"); // after the announcement, before its update
    if (!m.clients.includes("evil")) return;
    const up = topics.fedPeer(fleet, "evil", "update");
    evil.publishRaw(up, "{not json", 1);
    evil.publishRaw(up, Buffer.alloc(100_000, 0x41), 1);
    const nan = new Float32Array(coordinator.global.length).fill(0.001); nan[5] = NaN;
    const bytes = f32ToBytes(nan), parts = Math.ceil(bytes.length / 32768);
    checks.push((async () => {
      for (let i = 0; i < parts; i++) {
        const ch = chunkAt(bytes, i, 32768);
        await evil.publish(up, { kind: "update", round: m.round, method: "backprop", examples: 1_000_000, part: i, parts, partBytes: 32768, bytes: bytes.length, crc32: ch.crc32, data: b64.from(ch.data) }, 1);
      }
    })());
  });
  service.run();
  const why = await waitFor(service.finished(), 60_000, "3 rounds");
  await Promise.all(checks);
  const results = rounds.results;
  assert.match(why, /3 rounds done/);
  assert.equal(results.length, 3);
  assert.deepEqual(results[0].clients, ["doomed", "evil", "t1", "t2"], "round 1 sampled everyone, the doomed trainer included");
  for (const r of results) {
    assert.ok(r.refused.some((x) => x.client === "evil" && x.reason === "non-finite"), `round ${r.round}: evil's NaN update refused`);
    assert.ok(!r.refused.some((x) => x.client === "t1" || x.client === "t2"), `round ${r.round}: no honest update refused`);
    await observer.settled(r.round, r.accepted);
    assert.deepEqual(observer.accepted(r.round), ["t1", "t2"], `round ${r.round}: accepted`);
    assert.equal(r.accepted, 2);
    checkAverage(r.round, rounds.before(r.round), rounds.after(r.round), observer.of(r.round));
  }
  assert.ok(!results[1].clients.includes("doomed"), "its last will took the killed trainer out of later rounds");
  assert.ok(service.transport.invalidCount >= 2, "the garbage and the huge message were refused before parsing");
  await closeAll(service, evil, t1, t2, observer);
});
