// The agent guards its own retained status (assembly/agent/peer.ts, presence): anything there
// that is not its online presence is overwritten at once, at most once a second; another process
// online with its id that connected first, seen twice, stops it (E_DUPLICATE_ID).
import assert from "node:assert/strict";
import { test } from "node:test";
import { skipUnless } from "../requirements.js";
import { haveShared, TestAgent } from "./agent-helpers.js";

const skip = skipUnless(haveShared, "../shared/models");
const STATUS = "edgellm/v1/f1/peer/p1/status";
const E_DUPLICATE_ID = -18;

function agent(nonce = "00000000000000aa"): TestAgent {
  const a = new TestAgent({ ctx: 32 });
  const n = Buffer.from(nonce);
  assert.equal(a.x.agentSetNonce(a.e.copyIn(n), n.length), 0);
  a.connected();
  return a;
}
const statuses = (a: TestAgent) => a.pubs.filter((p) => p.topic === STATUS && p.msg.kind === "status" && p.msg.online);
const online = (nonce: string, since: number) => ({ v: 1, kind: "status", id: "p1", online: true, ts: since, nonce, since,
  model: { id: "m", quant: "f32", ctx: 32, vocab: 512 }, tokPerSec: 1, freeMem: 1, queue: 0, maxQueue: 1 });

test("the status carries the nonce and the time of the first connection; its own echo changes nothing", { skip }, () => {
  const a = agent();
  const first = statuses(a)[0];
  assert.equal(first.retain, true);
  assert.deepEqual([first.msg.kind === "status" && first.msg.online && first.msg.nonce, first.msg.kind === "status" && first.msg.online && first.msg.since], ["00000000000000aa", a.now]);
  assert.equal(a.send(STATUS, first.payload).rc, 0);
  assert.equal(statuses(a).length, 1, "no restore for our own presence");
  assert.equal(a.x.agentSetNonce(a.e.copyIn(Buffer.from("XYZ")), 3), -12, "a nonce is lower-case hex");
});

test("garbage, an offline status or another process's presence is overwritten at once, at most once a second", { skip }, () => {
  const a = agent();
  assert.equal(a.send(STATUS, "not json").rc, 0);
  assert.equal(statuses(a).length, 2, "restored at once");
  assert.equal(a.send(STATUS, { v: 1, kind: "status", id: "p1", online: false }).rc, 0);
  assert.equal(statuses(a).length, 2, "the second restore waits for the second to pass");
  assert.ok(a.logs.some((l) => /presence: a status that is not ours is on our status topic; restoring ours within a second/.test(l)), a.logs.join("\n"));
  a.now += 1000;
  a.tick();
  assert.equal(statuses(a).length, 3, "restored by the tick a second later");
  a.now += 1000;
  assert.equal(a.send(STATUS, online("00000000000000bb", a.now + 5)).rc, 0, "a later process: it will stop, we restore");
  assert.equal(statuses(a).length, 4);
});

test("another process with our id that connected first: restored once (it may be stale), stopped the second time", { skip }, () => {
  const a = agent();
  const earlier = online("00000000000000bb", a.now - 60_000);
  assert.equal(a.send(STATUS, earlier).rc, 0);
  assert.equal(statuses(a).length, 2, "first sighting: restored, as a stale retained status would be");
  a.now += 2000;
  assert.equal(a.send(STATUS, earlier).rc, E_DUPLICATE_ID, "seen again: a live duplicate");
  assert.ok(a.logs.some((l) => /another process has been online as peer p1 since before this one/.test(l)));
  // Ties in the time of connection are broken by the nonces: exactly one of the two stops.
  const b = agent("00000000000000cc");
  const tie = online("00000000000000bb", b.now);
  b.send(STATUS, tie);
  assert.equal(b.send(STATUS, tie).rc, E_DUPLICATE_ID, "bb < cc: cc is the later one");
  const c = agent("00000000000000aa");
  c.send(STATUS, tie);
  assert.equal(c.send(STATUS, tie).rc, 0, "aa < bb: aa stays");
});
