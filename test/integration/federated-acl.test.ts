// Federated rounds under the fleet's production ACL (fleetAcl, deploy/mosquitto/acl): the
// coordinator and trainers with their own credentials complete a round, and a device that
// publishes an update in another trainer's name is stopped by the broker: the coordinator never
// sees it, and the global is the average of the real trainers' updates.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { chunkAt, f32ToBytes } from "../../host/federated/chunks.js";
import type { FedRoundResult } from "../../host/federated/round-driver.js";
import { b64 } from "../../host/fleet/messages.js";
import { fleetAcl, startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { topics } from "../../host/fleet/topics.js";
import { Transport } from "../../host/fleet/transport.js";
import { captureLog } from "./fleet-helpers.js";
import { Observer, startCoordinator, startTrainer, waitFor } from "./federated-helpers.js";

const USERS = { coordinator: "co-secret", a1: "a1-secret", a2: "a2-secret", evil: "evil-secret" };
const auth = (u: keyof typeof USERS) => ({ username: u, password: USERS[u] });
let mosq: MosquittoProcess;
before(async () => { mosq = await startMosquitto({ users: USERS, acl: fleetAcl("fa") }); });
after(async () => { await mosq?.stop(); });

test("a round under the fleet ACL; a device's update in another trainer's name never arrives", { timeout: 60_000 }, async () => {
  const fleet = "fa";
  const observer = await Observer.start(mosq.url, fleet, auth("coordinator")); // it reads what the coordinator reads
  const trainers = [await startTrainer(mosq.url, fleet, "a1", 1, auth("a1")), await startTrainer(mosq.url, fleet, "a2", 2, auth("a2"))];
  const evil = await Transport.connect({ broker: mosq.url, clientId: "evil-fa", log: captureLog("evil").log, ...auth("evil") });
  const { coordinator, service } = await startCoordinator(mosq.url, fleet, { rounds: 1, clientsPerRound: 2, roundMs: 20_000, auth: auth("coordinator") });
  let before: Float32Array | null = null;
  let spoof: Promise<unknown> = Promise.resolve();
  const results: FedRoundResult[] = [];
  service.driver.on("started", (m) => {
    before = coordinator.global.slice();
    const bytes = f32ToBytes(new Float32Array(coordinator.global.length).fill(100)), ch = chunkAt(bytes, 0, 32768);
    // Published as a1 (denied: evil may publish only under fedpeer/evil/), parts that would poison the average.
    spoof = evil.publish(topics.fedPeer(fleet, "a1", "update"), { kind: "update", round: m.round, method: "backprop", examples: 1000, part: 0, parts: Math.ceil(bytes.length / 32768), partBytes: 32768, bytes: bytes.length, crc32: ch.crc32, data: b64.from(ch.data) }, 1).then(() => "delivered", (e: Error) => e.message);
  });
  service.driver.on("closed", (r) => results.push(r));
  service.run();
  await waitFor(service.finished(), 45_000, "1 round");
  assert.match(String(await spoof), /Not authorized/, "the broker refused the spoofed publish (MQTT 5 reason)");
  assert.equal(results[0].accepted, 2);
  assert.deepEqual(results[0].refused, []);
  await observer.settled(1, 2, ["a1", "a2"]);
  assert.ok(![...observer.updates.values()].some((u) => u.examples === 1000), "the spoofed update never reached the broker's subscribers");
  observer.checkAverage(1, before!, coordinator.global, ["a1", "a2"]); // (the coordinator's user cannot read the verdicts it sends)
  await service.close();
  for (const t of trainers) await t.close();
  await evil.close();
  await observer.close();
});
