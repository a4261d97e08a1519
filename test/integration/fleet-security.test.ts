// Bad input against a mosquitto with per-device users and ACLs: spoofed, malformed, oversized
// and unauthorized messages are dropped (by the broker's ACL or by our validation, with a log
// line), nothing crashes, and real tasks still complete with the output of a local run.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { after, before, test } from "node:test";
import { FleetClient } from "../../host/fleet/client.js";
import { FleetError } from "../../host/fleet/errors.js";
import { Gateway } from "../../host/fleet/gateway.js";
import { b64 } from "../../host/fleet/messages.js";
import { fleetAcl, startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { Peer } from "../../host/fleet/peer.js";
import { Transport } from "../../host/fleet/transport.js";
import { captureLog, haveShared, localRun, model, until } from "./fleet-helpers.js";

const skip = skipUnless(haveShared, "../shared/models");
const USERS = { gateway: "gw-secret", client: "client-secret", p1: "p1-secret", evil: "evil-secret" };
const F = "edgellm/v1/sec";

let mosq: MosquittoProcess;
// log_type all: mosquitto logs a denied publish only at debug level.
before(async () => { if (!skip) mosq = await startMosquitto({ users: USERS, acl: fleetAcl("sec"), extra: ["log_type all", "log_dest stderr"] }); });
after(async () => { await mosq?.stop(); });

async function raw(user: keyof typeof USERS, protocolVersion: 4 | 5 = 5) {
  const c = await mqtt.connectAsync(mosq.url, { username: user, password: USERS[user], protocolVersion, reconnectPeriod: 0, clientId: `raw-${user}-${protocolVersion}` });
  return c;
}

test("wrong credentials are refused with a one-line error, not a crash", { skip }, async () => {
  await assert.rejects(
    Transport.connect({ broker: mosq.url, clientId: "x", username: "evil", password: "nope", log: captureLog("x").log }),
    (e: unknown) => e instanceof FleetError && e.code === "E_FLEET_CONNECT",
  );
});

test("malformed, oversized, spoofed and unauthorized messages are ignored with a log line", { skip, timeout: 60_000 }, async () => {
  const gwLog = captureLog("gateway");
  const p1Log = captureLog("p1");
  const gw = await Gateway.start({ broker: mosq.url, fleet: "sec", id: "gw", username: "gateway", password: USERS.gateway, log: gwLog.log });
  const p1 = await Peer.start({ broker: mosq.url, fleet: "sec", id: "p1", username: "p1", password: USERS.p1, model: model(), log: p1Log.log, heartbeatMs: 300 });
  await until(() => gw.scheduler.peerIds().includes("p1"), 10_000, "p1 online");
  const evil = await raw("evil");
  const evil311 = await raw("evil", 4);
  const gwRaw = await raw("gateway");

  // Refused by the ACL: spoofing another peer, injecting tasks (MQTT 5 gets a PUBACK "not authorized").
  const spoof = { v: 1, kind: "result", taskId: "t-x", attempt: 1, status: "done", data: "QkFE", tokens: 1, elapsedMs: 1 };
  await evil.publishAsync(`${F}/peer/p1/result`, JSON.stringify(spoof), { qos: 1 }).catch(() => undefined);
  await evil311.publishAsync(`${F}/peer/p1/status`, JSON.stringify({ v: 1, kind: "status", id: "p1", online: false }), { qos: 1, retain: true }).catch(() => undefined);
  await evil.publishAsync(`${F}/to/p1/task`, JSON.stringify({ v: 1, kind: "task" }), { qos: 1 }).catch(() => undefined);
  // Allowed by the ACL (its own subtree) but invalid: our validation drops each with a log line.
  const bad: [string, string | Buffer][] = [
    [`${F}/peer/evil/status`, "{not json"],
    [`${F}/peer/evil/heartbeat`, Buffer.alloc(66_000, 0x20)], // over the payload limit, under the packet limit (larger ones the broker drops for us)
    [`${F}/peer/evil/accept`, JSON.stringify({ v: 9, kind: "accept", taskId: "t", attempt: 1 })],
    [`${F}/peer/evil/selfie`, JSON.stringify({ v: 1, kind: "selfie" })],
    [`${F}/peer/evil/status`, JSON.stringify({ v: 1, kind: "status", id: "p1", online: false })],
    [`${F}/peer/evil/result`, JSON.stringify({ ...spoof, extra: 1 })],
  ];
  for (const [topic, payload] of bad) await evil.publishAsync(topic, payload, { qos: 1 });
  // Bad input on the peer's inbox, from a user allowed to write there.
  await gwRaw.publishAsync(`${F}/to/p1/task`, "[]", { qos: 1 });
  await gwRaw.publishAsync(`${F}/to/p1/cancel`, JSON.stringify({ v: 1, kind: "cancel", taskId: "no such task!" }), { qos: 1 });

  await until(() => gw.transport.invalidCount >= bad.length, 5000, "the gateway to log every bad message");
  await until(() => p1Log.lines.filter((l) => l.includes("ignored message")).length >= 2, 5000, "the peer to log its bad messages");
  assert.equal(gwLog.lines.filter((l) => l.includes("ignored message")).length, bad.length, gwLog.lines.join("\n"));
  for (const why of ["not JSON", "65536-byte limit", "unsupported protocol version 9", "unknown kind 'selfie'", "does not match the topic's peer id", "additional properties"]) {
    assert.ok(gwLog.lines.some((l) => l.includes(why)), `no log line for: ${why}`);
  }
  assert.deepEqual(gw.scheduler.peerIds(), ["p1"], "the spoofed offline status never reached the gateway");
  // The unauthorized ones were dropped by the broker, each with a log line there.
  for (const t of [`${F}/peer/p1/result`, `${F}/peer/p1/status`, `${F}/to/p1/task`]) {
    assert.ok(mosq.log().split("\n").some((l) => l.includes("Denied PUBLISH") && l.includes(`'${t}'`)), `no broker log line for the denied ${t}`);
  }

  // The fleet still works, and a result for a task evil never held does not count.
  const client = await FleetClient.connect({ broker: mosq.url, fleet: "sec", username: "client", password: USERS.client, log: captureLog("client").log });
  const req = { prompt: "Once upon a time", steps: 48, temperature: 0.7, topp: 0.9, seed: 5n, taskId: "real-task" };
  const pending = client.submit(req);
  await evil.publishAsync(`${F}/peer/evil/result`, JSON.stringify({ ...spoof, taskId: "real-task" }), { qos: 1 });
  const reply = await pending;
  assert.equal(reply.status, "done");
  assert.equal(reply.peer, "p1");
  assert.ok(Buffer.from(b64.to(reply.data)).equals(localRun(req)));

  for (const c of [evil, evil311, gwRaw]) await c.endAsync();
  await client.close();
  await p1.close();
  await gw.close();
});
