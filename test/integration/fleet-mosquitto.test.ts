// The fleet against a real mosquitto: 3 peers (2 in this process, 1 an `edgellm serve` child)
// serve 200 tasks, one peer is killed mid-stream, and every task completes exactly once with the
// output of a local run; then the broker is restarted mid-run and the fleet recovers.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FleetClient } from "../../host/fleet/client.js";
import { Gateway } from "../../host/fleet/gateway.js";
import type { Reply } from "../../host/fleet/messages.js";
import { b64 } from "../../host/fleet/messages.js";
import { startMosquitto, type MosquittoProcess } from "../../host/fleet/mosquitto.js";
import { Peer } from "../../host/fleet/peer.js";
import { captureLog, haveFirmwarePeer, haveShared, localRun, model, spawnFirmwarePeer, taskSet, until } from "./fleet-helpers.js";

// The third peer is the firmware: CI builds it, so a missing build fails there.
const skip = skipUnless(haveShared, "../shared/models") || skipUnless(haveFirmwarePeer, "firmware/build/edgellm-fw with serve (npm run build)");
const SCHED = { leaseMs: 2000, peerTimeoutMs: 2000 };

let mosq: MosquittoProcess;
before(async () => { if (!skip) mosq = await startMosquitto(); });
after(async () => { await mosq?.stop(); });

interface Run { replies: Map<string, Reply[]>; streamed: Map<string, Buffer[]> }

async function runAll(client: FleetClient, tasks: ReturnType<typeof taskSet>, run: Run, onReply?: () => void): Promise<void> {
  await Promise.all(tasks.map(async (t) => {
    const chunks: Buffer[] = [];
    run.streamed.set(t.taskId, chunks);
    const r = await client.submit({ ...t, timeoutMs: 90_000 }, (b) => chunks.push(Buffer.from(b)));
    const list = run.replies.get(t.taskId) ?? [];
    list.push(r);
    run.replies.set(t.taskId, list);
    onReply?.();
  }));
}

function checkOutputs(tasks: ReturnType<typeof taskSet>, run: Run): void {
  for (const t of tasks) {
    const rs = run.replies.get(t.taskId) ?? [];
    assert.equal(rs.length, 1, `${t.taskId}: ${rs.length} replies`);
    assert.equal(rs[0].status, "done", `${t.taskId}: ${rs[0].status} ${rs[0].error ?? ""}`);
    const want = localRun(t);
    assert.ok(Buffer.from(b64.to(rs[0].data)).equals(want), `${t.taskId}: result differs from a local run`);
    assert.ok(Buffer.concat(run.streamed.get(t.taskId)!).equals(want), `${t.taskId}: streamed output differs from a local run`);
  }
}

test(`3 peers (2 Node, 1 firmware) serve 200 tasks; a peer killed mid-stream loses nothing; exactly once, identical to local runs`, { skip, timeout: 120_000 }, async () => {
  const gwLog = captureLog("gateway");
  const gw = await Gateway.start({ broker: mosq.url, fleet: "it", id: "gw", log: gwLog.log, scheduler: SCHED });
  const peers = [
    await Peer.start({ broker: mosq.url, fleet: "it", id: "node-a", model: model(), heartbeatMs: 300, log: captureLog("a").log }),
    await Peer.start({ broker: mosq.url, fleet: "it", id: "node-b", model: model(), heartbeatMs: 300, log: captureLog("b").log }),
  ];
  // The third peer is the firmware's POSIX build.
  const child = spawnFirmwarePeer(mosq.url, "child-c", "it", ["--host-weights"]);
  let childErr = "";
  child.stderr!.on("data", (d) => { childErr += d; });
  await until(() => gw.scheduler.peerIds().includes("child-c"), 20_000, `child peer online (${childErr})`);
  const client = await FleetClient.connect({ broker: mosq.url, fleet: "it", log: captureLog("client").log, resubmitMs: 1000 });

  // Long tasks first, so the child is surely mid-stream when it is killed.
  const long = taskSet(6, 400).map((t) => ({ ...t, taskId: `long-${t.taskId}` }));
  const short = taskSet(194, 24);
  const tasks = [...long, ...short];
  const run: Run = { replies: new Map(), streamed: new Map() };
  const childStreams = new Set<string>();
  gw.scheduler.on("assigned", (taskId, peer) => { if (peer === "child-c") childStreams.add(taskId); });
  let killed = false;
  const reassignedFromChild: string[] = [];
  gw.scheduler.on("reassigned", (taskId, from) => { if (from === "child-c") reassignedFromChild.push(taskId); });
  const all = runAll(client, tasks, run);
  // Kill the child while it holds a task whose tokens are flowing.
  await until(() => [...childStreams].some((id) => (run.streamed.get(id)?.length ?? 0) > 0 && !run.replies.has(id)), 60_000, "the child streaming a task");
  child.kill("SIGKILL");
  killed = true;
  await all;
  assert.ok(killed);
  assert.ok(reassignedFromChild.length >= 1, "the killed peer's tasks were reassigned");
  checkOutputs(tasks, run);
  assert.equal(gw.scheduler.stats.completed, 200);
  await client.close();
  for (const p of peers) await p.close();
  await gw.close();
});

test("broker restart mid-run: peers (Node and firmware), gateway and client reconnect and every task completes once", { skip, timeout: 120_000 }, async () => {
  const gw = await Gateway.start({ broker: mosq.url, fleet: "rs", id: "gw", log: captureLog("gateway").log, scheduler: SCHED });
  const peers = await Promise.all(["r1", "r2"].map((id) => Peer.start({ broker: mosq.url, fleet: "rs", id, model: model(), heartbeatMs: 300, maxQueue: 2, log: captureLog(id).log })));
  const third = spawnFirmwarePeer(mosq.url, "r3", "rs");
  await until(() => gw.scheduler.peerIds().length === 3, 20_000, "three peers online");
  const client = await FleetClient.connect({ broker: mosq.url, fleet: "rs", log: captureLog("client").log, resubmitMs: 1000 });
  const tasks = taskSet(60, 120);
  const run: Run = { replies: new Map(), streamed: new Map() };
  let restarted: Promise<void> | null = null;
  let doneAtRestart = -1;
  let gatewayOffline = 0;
  gw.transport.on("offline", () => gatewayOffline++);
  await runAll(client, tasks, run, () => {
    if (!restarted && run.replies.size >= 15) restarted = mosq.restart().then(() => { doneAtRestart = run.replies.size; });
  });
  assert.ok(restarted, "the broker was restarted");
  await restarted;
  assert.ok(doneAtRestart < tasks.length, `tasks were still running when the broker came back (${doneAtRestart} done)`);
  assert.ok(gatewayOffline >= 1, "the gateway saw the broker go");
  checkOutputs(tasks, run);
  const servedBy = new Set([...run.replies.values()].map((r) => r[0].peer));
  assert.ok(servedBy.size >= 2, `tasks were spread over the peers (${[...servedBy]})`);
  third.kill("SIGKILL");
  await client.close();
  for (const p of peers) await p.close();
  await gw.close();
});
