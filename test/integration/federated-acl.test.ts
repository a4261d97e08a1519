// Federated rounds under the fleet's production ACL (fleetAcl, deploy/mosquitto/acl): the
// coordinator and trainers with their own credentials complete a round, and a device that
// publishes an update in another trainer's name is stopped by the broker: the coordinator never
// sees it, and the global is the average of the real trainers' updates.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chunkAt, f32ToBytes } from "../../host/federated/chunks.js";
import { b64 } from "../../host/fleet/messages.js";
import { fleetAcl } from "../../host/fleet/mosquitto.js";
import { topics } from "../../host/fleet/topics.js";
import { Transport } from "../../host/fleet/transport.js";
import { captureLog } from "./fleet-helpers.js";
import { checkAverage, closeAll, Observer, recordRounds, startCoordinator, startTrainer, useMosquitto, waitFor } from "./federated-helpers.js";

const USERS = { coordinator: "co-secret", a1: "a1-secret", a2: "a2-secret", evil: "evil-secret" };
const auth = (u: keyof typeof USERS) => ({ username: u, password: USERS[u] });
const mosquitto = useMosquitto({ users: USERS, acl: fleetAcl("fa") });

test("a round under the fleet ACL; a device's update in another trainer's name never arrives", { timeout: 60_000 }, async () => {
  const fleet = "fa", mosq = mosquitto();
  const observer = await Observer.start(mosq.url, fleet, auth("coordinator")); // it reads what the coordinator reads
  const trainers = [await startTrainer(mosq.url, fleet, "a1", 1, { auth: auth("a1") }), await startTrainer(mosq.url, fleet, "a2", 2, { auth: auth("a2") })];
  const evil = await Transport.connect({ broker: mosq.url, clientId: "evil-fa", log: captureLog("evil").log, ...auth("evil") });
  const { coordinator, service } = await startCoordinator(mosq.url, fleet, { rounds: 1, clientsPerRound: 2, roundMs: 20_000, auth: auth("coordinator") });
  const rounds = recordRounds(coordinator, service);
  let spoof: Promise<unknown> = Promise.resolve();
  service.driver.on("started", (m) => {
    const bytes = f32ToBytes(new Float32Array(coordinator.global.length).fill(100)), ch = chunkAt(bytes, 0, 32768);
    // Published as a1 (denied: evil may publish only under fedpeer/evil/), parts that would poison the average.
    spoof = evil.publish(topics.fedPeer(fleet, "a1", "update"), { kind: "update", round: m.round, method: "backprop", examples: 1000, part: 0, parts: Math.ceil(bytes.length / 32768), partBytes: 32768, bytes: bytes.length, crc32: ch.crc32, data: b64.from(ch.data) }, 1).then(() => "delivered", (e: Error) => e.message);
  });
  service.run();
  await waitFor(service.finished(), 45_000, "1 round");
  assert.match(String(await spoof), /Not authorized/, "the broker refused the spoofed publish (MQTT 5 reason)");
  assert.equal(rounds.results[0].accepted, 2);
  assert.deepEqual(rounds.results[0].refused, []);
  await observer.settled(1, 2, ["a1", "a2"]);
  assert.ok(![...observer.updates.values()].some((u) => u.examples === 1000), "the spoofed update never reached the broker's subscribers");
  checkAverage(1, rounds.before(1), rounds.after(1), observer.of(1, ["a1", "a2"])); // (the coordinator's user cannot read the verdicts it sends)
  await closeAll(service, ...trainers, evil, observer);
});
