// The transport against mosquitto: the send quota keeps a burst of QoS 1 publishes under the
// broker's receive-maximum (mqtt.js alone overruns it), and a broker that
// refuses MQTT 5 (aedes) is reached over MQTT 3.1.1 without being asked.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startEmbeddedBroker } from "../../host/fleet/broker.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
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
