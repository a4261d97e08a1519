// A gateway replaced mid-run: the new one knows nothing, clients re-submit what is unanswered
// (same task ids), peers that still hold a task keep its work under the new attempt, and every
// task still gets exactly one reply with the text of a local run.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FleetClient } from "../../host/fleet/client.js";
import { Gateway } from "../../host/fleet/gateway.js";
import type { Reply } from "../../host/fleet/messages.js";
import { b64 } from "../../host/fleet/messages.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { Peer } from "../../host/fleet/peer.js";
import { topics } from "../../host/fleet/topics.js";
import { Transport } from "../../host/fleet/transport.js";
import { captureLog, haveShared, localRun, model, taskSet, until } from "./fleet-helpers.js";

const skip = skipUnless(haveShared, "../shared/models");
let mosq: MosquittoProcess;
before(async () => { mosq = await startMosquitto(); });
after(async () => { await mosq?.stop(); });

test("gateway replaced mid-run: every task completes once, identical to local runs", { skip, timeout: 60_000 }, async () => {
  const conn = { broker: mosq.url, fleet: "gr" };
  let gw = await Gateway.start({ ...conn, id: "gw-a", log: captureLog("gw-a").log });
  const peers = await Promise.all(["g1", "g2"].map((id) => Peer.start({ ...conn, id, model: model(), heartbeatMs: 300, maxQueue: 2, log: captureLog(id).log })));
  await until(() => gw.scheduler.peerIds().length === 2, 10_000, "peers online");
  const client = await FleetClient.connect({ ...conn, log: captureLog("client").log, resubmitMs: 500 });
  const tasks = taskSet(40, 96);
  const replies = new Map<string, Reply[]>();
  let replaced: Promise<void> | null = null;
  await Promise.all(tasks.map(async (t) => {
    const r = await client.submit({ ...t, timeoutMs: 45_000 });
    replies.set(t.taskId, [...(replies.get(t.taskId) ?? []), r]);
    if (!replaced && replies.size >= 8) {
      replaced = (async () => {
        await gw.close();
        gw = await Gateway.start({ ...conn, id: "gw-b", log: captureLog("gw-b").log });
      })();
    }
  }));
  await replaced;
  assert.ok(gw.scheduler.stats.completed >= 1, "the second gateway completed tasks");
  for (const t of tasks) {
    const rs = replies.get(t.taskId)!;
    assert.equal(rs.length, 1);
    assert.equal(rs[0].status, "done");
    assert.ok(Buffer.from(b64.to(rs[0].data)).equals(localRun(t)), t.taskId);
  }
  await client.close();
  for (const p of peers) await p.close();
  await gw.close();
});

test("another gateway's last will does not hide a running gateway from new clients", { timeout: 30_000 }, async () => {
  const conn = { broker: mosq.url, fleet: "gp" };
  const gw = await Gateway.start({ ...conn, id: "gw-running", log: captureLog("gw").log });
  // What a crashed or replaced gateway leaves behind: the one retained presence says "offline".
  const other = await Transport.connect({ broker: mosq.url, clientId: "gw-crashed", log: captureLog("x").log });
  await other.publish(topics.gateway("gp", "gateway"), { kind: "gateway", id: "gw-crashed", online: false }, 1, true);
  await other.close();
  const client = await FleetClient.connect({ ...conn, log: captureLog("c").log });
  await client.waitForGateway(5000);
  await client.close();
  await gw.close();
});
