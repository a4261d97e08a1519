// Retained presence a third party can publish, and two processes with one --id, against real
// brokers: the owner of a presence topic (gateway, Node peer, firmware peer) restores its own at
// once; a new client still finds the fleet; the second of two peers with one id stops with a
// clear error while the first keeps serving; the production ACLs refuse such writes outright.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import mqtt from "mqtt";
import { after, before, test } from "node:test";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../host/fleet/broker.js";
import { FleetClient } from "../../host/fleet/client.js";
import { Gateway } from "../../host/fleet/gateway.js";
import { fleetAcl, startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { Peer } from "../../host/fleet/peer.js";
import { freePort } from "../../host/fleet/mosquitto.js";
import { captureLog, haveFirmwarePeer, haveShared, localRun, model, spawnFirmwarePeer, spawnPeer, until } from "./fleet-helpers.js";

const skip = skipUnless(haveShared, "../shared/models") || skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)");

let mosq: MosquittoProcess;
let embedded: EmbeddedBroker;
before(async () => { if (!skip) { mosq = await startMosquitto(); embedded = await startEmbeddedBroker(await freePort()); } });
after(async () => { await mosq?.stop(); await embedded?.close(); });

function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => { if (p.exitCode !== null) resolve(p.exitCode); else p.once("exit", (code) => resolve(code)); });
}

for (const broker of ["mosquitto", "embedded"] as const) {
  test(`retained garbage or a foreign presence on every presence topic is overwritten by its owner (${broker})`, { skip, timeout: 90_000 }, async () => {
    const url = broker === "mosquitto" ? mosq.url : embedded.url;
    const fleet = `pres${broker === "mosquitto" ? "m" : "e"}`, F = `edgellm/v1/${fleet}`;
    const protocolVersion = broker === "embedded" ? 4 : 5;
    const gwLog = captureLog("gateway"), pLog = captureLog("p1");
    const gw = await Gateway.start({ broker: url, fleet, id: "gw", protocolVersion, log: gwLog.log });
    const p1 = await Peer.start({ broker: url, fleet, id: "p1", model: model(), protocolVersion, heartbeatMs: 300, log: pLog.log });
    const fw = spawnFirmwarePeer(url, "fw1", fleet);
    let fwErr = "";
    fw.stderr!.on("data", (d) => { fwErr += d; });
    const raw = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 4 });
    try {
      await until(() => gw.scheduler.peerIds().length === 2, 30_000, `both peers online (${fwErr})`);
      const foreign = (id: string) => JSON.stringify({ v: 1, kind: "status", id, online: true, ts: 1, nonce: "ffffffffffffffff", since: Date.now() + 1e6,
        model: { id: "x", quant: "f32", ctx: 8, vocab: 8 }, tokPerSec: 1, freeMem: 1, queue: 0, maxQueue: 1 });
      const attacks: [string, string][] = [
        [`${F}/gw/gateway`, "garbage"],
        [`${F}/peer/p1/status`, "garbage"],
        [`${F}/peer/fw1/status`, "{\"v\":1"],
        [`${F}/gw/gateway`, JSON.stringify({ v: 1, kind: "gateway", id: "gw-old", online: false })],
        [`${F}/peer/p1/status`, foreign("p1")],
        [`${F}/peer/fw1/status`, foreign("fw1")],
      ];
      for (const [topic, payload] of attacks) await raw.publishAsync(topic, payload, { qos: 1, retain: true });
      // Let the owners answer (at most once a second each), then ask as a new client would.
      await new Promise((r) => setTimeout(r, 2500));
      const client = await FleetClient.connect({ broker: url, fleet, protocolVersion, log: captureLog("client").log });
      try {
        await client.waitForGateway(5000);
        const peers = await client.peers(1000);
        assert.deepEqual(peers.filter((p) => p.online).map((p) => p.id), ["fw1", "p1"], JSON.stringify(peers));
        const t = { prompt: "Once upon a time", steps: 24, temperature: 0, topp: 0.9, seed: 1n };
        const r = await client.submit({ ...t, taskId: "after-attack", timeoutMs: 30_000 });
        assert.equal(r.status, "done");
        assert.ok(Buffer.from(r.data, "base64").equals(localRun(t)));
      } finally {
        await client.close();
      }
      assert.ok(gwLog.lines.some((l) => /on our presence topic; restor/.test(l)), gwLog.lines.join("\n"));
      assert.ok(pLog.lines.some((l) => /presence: .* restor/.test(l)), pLog.lines.join("\n"));
      assert.match(fwErr, /presence: .* restor/);
    } finally {
      fw.kill("SIGTERM");
      await raw.endAsync();
      await p1.close();
      await gw.close();
    }
  });
}

test("two processes with one --id: the second stops with a clear error, the first keeps serving (mosquitto; Node and firmware)", { skip, timeout: 120_000 }, async () => {
  const fleet = "dup";
  const gw = await Gateway.start({ broker: mosq.url, fleet, id: "gw", log: captureLog("gateway").log });
  const client = await FleetClient.connect({ broker: mosq.url, fleet, log: captureLog("client").log });
  const children: ChildProcess[] = [];
  try {
    for (const [kind, spawnOne, want] of [
      ["node", () => spawnPeer(mosq.url, "twin", ["--fleet", fleet]), /another process is online as peer twin \(it connected first\)/],
      ["firmware", () => spawnFirmwarePeer(mosq.url, "fwtwin", fleet), /another process is online with this peer id \(it connected first\)/],
    ] as const) {
      const id = kind === "node" ? "twin" : "fwtwin";
      const first = spawnOne();
      children.push(first);
      let firstErr = "";
      first.stderr!.on("data", (d) => { firstErr += d; });
      await until(() => gw.scheduler.peerIds().includes(id), 60_000, `${kind}: the first ${id} online (${firstErr})`);
      const second = spawnOne();
      children.push(second);
      let secondErr = "";
      second.stderr!.on("data", (d) => { secondErr += d; });
      const code = await Promise.race([exited(second), new Promise<string>((r) => setTimeout(() => r("still running"), 30_000))]);
      assert.equal(code, 1, `${kind}: the second process exits 1 (${secondErr})`);
      assert.match(secondErr, want);
      assert.equal(first.exitCode, null, `${kind}: the first keeps running (${firstErr})`);
      // The first is still the fleet's id: its presence restored, tasks served.
      await until(() => gw.scheduler.peerIds().includes(id), 10_000, `${kind}: ${id} online again`);
      const t = { prompt: "The cat", steps: 16, temperature: 0, topp: 0.9, seed: 1n };
      const r = await client.submit({ ...t, taskId: `after-${kind}`, timeoutMs: 30_000 });
      assert.equal(r.status, "done", JSON.stringify(r));
      first.kill("SIGTERM");
      await exited(first);
    }
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await client.close();
    await gw.close();
  }
});

test("with the production ACLs, a client cannot write any presence topic: the retained presence stays the owner's", { skip, timeout: 60_000 }, async () => {
  const USERS = { gateway: "gw-secret", client: "client-secret", p1: "p1-secret" };
  const acl = await startMosquitto({ users: USERS, acl: fleetAcl("home") });
  try {
    const gw = await Gateway.start({ broker: acl.url, fleet: "home", id: "gw", username: "gateway", password: USERS.gateway, log: captureLog("gateway").log });
    const p1 = await Peer.start({ broker: acl.url, fleet: "home", id: "p1", username: "p1", password: USERS.p1, model: model(), heartbeatMs: 300, log: captureLog("p1").log });
    const evil = await mqtt.connectAsync(acl.url, { username: "client", password: USERS.client, reconnectPeriod: 0, protocolVersion: 4 });
    for (const topic of ["edgellm/v1/home/gw/gateway", "edgellm/v1/home/peer/p1/status"]) {
      await evil.publishAsync(topic, "garbage", { qos: 1, retain: true }).catch(() => undefined);
    }
    await evil.endAsync();
    const seen = new Map<string, string>();
    const reader = await mqtt.connectAsync(acl.url, { username: "client", password: USERS.client, reconnectPeriod: 0 });
    reader.on("message", (topic, payload) => seen.set(topic, payload.toString()));
    await reader.subscribeAsync(["edgellm/v1/home/gw/gateway", "edgellm/v1/home/peer/+/status"], { qos: 1 });
    await until(() => seen.size === 2, 5000, "the retained presences");
    assert.equal(JSON.parse(seen.get("edgellm/v1/home/gw/gateway")!).online, true);
    assert.equal(JSON.parse(seen.get("edgellm/v1/home/peer/p1/status")!).online, true);
    await reader.endAsync();
    await p1.close();
    await gw.close();
  } finally {
    await acl.stop();
  }
});
