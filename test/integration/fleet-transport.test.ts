// The transport against mosquitto: the send quota keeps a burst of QoS 1 publishes under the
// broker's receive-maximum (mqtt.js alone overruns it), and a broker that
// refuses MQTT 5 (aedes) is reached over MQTT 3.1.1 without being asked.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startEmbeddedBroker } from "../../host/fleet/broker.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { MAX_PACKET_BYTES } from "../../host/fleet/schemas.js";
import { topics } from "../../host/fleet/topics.js";
import { Transport } from "../../host/fleet/transport.js";
import { captureLog, until } from "./fleet-helpers.js";

let mosq: MosquittoProcess;
before(async () => { mosq = await startMosquitto(); });
after(async () => { await mosq?.stop(); });

test("a burst of 500 QoS 1 publishes all arrive: the send quota respects receive-maximum", { timeout: 30_000 }, async () => {
  const log = captureLog("t");
  const rx = await Transport.connect({ broker: mosq.url, clientId: "rx", log: log.log });
  let got = 0;
  rx.on("message", () => got++);
  await rx.subscribe([topics.allPeers("q")]);
  const tx = await Transport.connect({ broker: mosq.url, clientId: "tx", log: log.log, maxInflight: 64 });
  assert.equal(tx.sendQuota, 20, "lowered from 64 to mosquitto's receive-maximum");
  let peak = 0;
  const sends = Array.from({ length: 500 }, (_, i) => {
    const p = tx.publish(topics.peer("q", "p", "accept"), { kind: "accept", taskId: `t${i}`, attempt: 1 }, 1);
    peak = Math.max(peak, tx.backlog);
    return p;
  });
  await Promise.all(sends); // rejects if the broker refused any (MQTT 5 PUBACK reason code)
  await until(() => got === 500, 10_000, `500 messages (got ${got})`);
  assert.ok(peak > 20, "publishes were queued behind the quota");
  assert.equal(log.lines.filter((l) => l.includes("warn")).length, 0, log.lines.join("\n"));
  await tx.close();
  await rx.close();
});

test("MQTT 5 first, MQTT 3.1.1 when the broker refuses it (embedded aedes)", { timeout: 30_000 }, async () => {
  const b = await startEmbeddedBroker(0);
  const t = await Transport.connect({ broker: b.url, clientId: "auto", log: captureLog("a").log });
  assert.equal(t.client.options.protocolVersion, 4);
  await t.close();
  const t5 = await Transport.connect({ broker: mosq.url, clientId: "auto5", log: captureLog("b").log });
  assert.equal(t5.client.options.protocolVersion, 5);
  await t5.close();
  await b.close();
});

test("a broker that never answers: the connect timeout names the last network error", { timeout: 30_000 }, async () => {
  const b = await startEmbeddedBroker(0);
  const url = b.url;
  await b.close(); // the port is free again: connections are refused
  await assert.rejects(Transport.connect({ broker: url, clientId: "nobody", log: captureLog("c").log, connectTimeoutMs: 1500 }),
    (e: unknown) => (e as { code?: string }).code === "E_FLEET_CONNECT" && /within 1500 ms \(last error: .*ECONNREFUSED/.test((e as Error).message));
});

test("the embedded broker closes a client whose packet is over the limit, from its header; packets at the limit pass", { timeout: 30_000 }, async () => {
  const log = captureLog("broker");
  const b = await startEmbeddedBroker(0, "127.0.0.1", log.log);
  const rx = await Transport.connect({ broker: b.url, clientId: "rx", log: captureLog("rx").log, raw: true });
  const got: number[] = [];
  rx.on("raw", (_topic, payload) => got.push(payload.length));
  await rx.subscribe(["big/#"]);
  const tx = await Transport.connect({ broker: b.url, clientId: "tx", log: captureLog("tx").log });
  tx.publishRaw("big/ok", Buffer.alloc(MAX_PACKET_BYTES - 100, 1), 1);
  await until(() => got.length === 1, 5000, "the packet under the limit");
  assert.equal(got[0], MAX_PACKET_BYTES - 100);
  // A PUBLISH header announcing 200 MB, then a little of its body: closed without waiting for the rest.
  let closed = false;
  tx.client.stream.on("close", () => { closed = true; });
  tx.client.stream.write(Buffer.from([0x30, 0x80, 0x84, 0xaf, 0x5f]));
  tx.client.stream.write(Buffer.alloc(4096));
  await until(() => closed, 5000, "the connection closed by the broker");
  assert.ok(log.lines.some((l) => /a packet of 200000000 bytes is over the 70000-byte limit/.test(l)), log.lines.join("\n"));
  // The broker serves everyone else as before.
  const tx2 = await Transport.connect({ broker: b.url, clientId: "tx2", log: captureLog("tx2").log });
  tx2.publishRaw("big/again", "hello", 1);
  await until(() => got.length === 2, 5000, "a later message");
  await Promise.all([tx.close(), tx2.close(), rx.close()]);
  await b.close();
});

test("two clients with one id: after five connections cut short in a row, the error names the likely cause", { timeout: 30_000 }, async () => {
  const a = captureLog("a"), b = captureLog("b");
  const first = await Transport.connect({ broker: mosq.url, clientId: "same-id", log: a.log, reconnectMs: 100 });
  const second = await Transport.connect({ broker: mosq.url, clientId: "same-id", log: b.log, reconnectMs: 100 });
  const warned = () => [...a.lines, ...b.lines].filter((l) => /closed this connection 5 times in a row .* client id 'same-id' \(two peers or gateways started with the same --id\)/.test(l));
  await until(() => warned().length > 0, 15_000, "the error line");
  await Promise.all([first.close(), second.close()]);
});
