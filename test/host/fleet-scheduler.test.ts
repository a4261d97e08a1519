// The gateway's scheduler under fake time: placement, leases, peer loss, deduplication, deadlines.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../../host/fleet/clock.js";
import { silentLogger } from "../../host/fleet/log.js";
import type { Draft, Message, StatusOnline, Submit, Task } from "../../host/fleet/messages.js";
import { DEFAULT_SCHEDULER, Scheduler, type SchedulerOptions } from "../../host/fleet/scheduler.js";

interface Sent { to: string; m: Draft<Message> }

function setup(o: Partial<SchedulerOptions> = {}) {
  const clock = new FakeClock();
  const peerOut: Sent[] = [], clientOut: Sent[] = [];
  const s = new Scheduler({
    toPeer: (to, m) => peerOut.push({ to, m }),
    toClient: (to, m) => clientOut.push({ to, m }),
  }, clock, silentLogger, { ...DEFAULT_SCHEDULER, leaseMs: 1000, peerTimeoutMs: 3000, ...o });
  const tasksTo = (peer: string) => peerOut.filter((x) => x.to === peer && x.m.kind === "task").map((x) => x.m as Draft<Task>);
  const replies = () => clientOut.filter((x) => x.m.kind === "reply").map((x) => x.m as Extract<Draft<Message>, { kind: "reply" }>);
  return { clock, s, peerOut, clientOut, tasksTo, replies };
}

function status(id: string, tokPerSec: number, maxQueue = 4, queue = 0, ctx = 512): StatusOnline {
  return { v: 1, kind: "status", id, online: true, ts: 0, model: { id: "m", quant: "f32", ctx, vocab: 512 }, tokPerSec, freeMem: 1, queue, maxQueue };
}

function submit(taskId: string, steps = 64, extra: Partial<Submit> = {}): Submit {
  return { v: 1, kind: "submit", taskId, client: "c1", prompt: "Hi", steps, temperature: 0, topp: 0.9, seed: "1", ...extra };
}

const done = (taskId: string, attempt: number, data = "SGk=") => ({ v: 1 as const, kind: "result" as const, taskId, attempt, status: "done" as const, data, tokens: 3, elapsedMs: 1 });

test("a task goes to the peer expected to finish it first (speed and queue aware)", () => {
  const { s, tasksTo } = setup();
  s.onStatus(status("slow", 300));
  s.onStatus(status("fast", 1000));
  s.onSubmit(submit("t1"));
  assert.equal(tasksTo("fast").length, 1);
  // fast now holds 64 steps: 128/1000 s beats 64/300 s, so it gets the next one too
  s.onSubmit(submit("t2"));
  assert.equal(tasksTo("fast").length, 2);
  // a peer reporting a long foreign queue loses its edge: (3·64 + 2·64)/1000 s > 64/300 s
  s.onStatus(status("fast", 1000, 4, 4));
  s.onSubmit(submit("t3"));
  assert.equal(tasksTo("slow").length, 1);
  s.close();
});

test("capability: context length, model id and queue capacity are respected", () => {
  const { s, tasksTo, clock } = setup();
  s.onStatus(status("small", 1000, 1, 0, 32));
  s.onSubmit(submit("long", 100));
  assert.equal(tasksTo("small").length, 0, "steps > ctx");
  s.onSubmit(submit("other-model", 16, { model: "x" }));
  assert.equal(tasksTo("small").length, 0, "model mismatch");
  s.onSubmit(submit("a", 16));
  s.onSubmit(submit("b", 16));
  assert.equal(tasksTo("small").length, 1, "maxQueue 1");
  assert.equal(s.pendingCount, 3);
  s.onAccept("small", { v: 1, kind: "accept", taskId: "a", attempt: 1 });
  s.onResult("small", done("a", 1));
  assert.deepEqual(tasksTo("small").map((t) => t.taskId), ["a", "b"]);
  clock.advance(10);
  s.close();
});

test("lease expiry reassigns to another peer as attempt 2 and cancels on the first", () => {
  const { s, clock, tasksTo, peerOut, replies } = setup();
  s.onStatus(status("p1", 1000));
  s.onSubmit(submit("t1"));
  assert.equal(tasksTo("p1")[0].attempt, 1);
  s.onStatus(status("p2", 10));
  // p1 keeps heartbeating but without the task: the lease runs out
  for (let i = 0; i < 4; i++) { clock.advance(300); s.onHeartbeat("p1", { v: 1, kind: "heartbeat", id: "p1", ts: 0, queue: 0, tasks: [] }); s.onHeartbeat("p2", { v: 1, kind: "heartbeat", id: "p2", ts: 0, queue: 0, tasks: [] }); }
  const cancels = peerOut.filter((x) => x.to === "p1" && x.m.kind === "cancel");
  assert.equal(cancels.length, 1);
  const again = [...tasksTo("p1"), ...tasksTo("p2")].filter((t) => t.attempt === 2);
  assert.equal(again.length, 1);
  // progress renews the lease: no third attempt while tokens flow
  const holder = tasksTo("p2").length ? "p2" : "p1";
  for (let i = 0; i < 10; i++) { clock.advance(500); s.onTokens(holder, { v: 1, kind: "tokens", taskId: "t1", attempt: 2, offset: i, data: "" }); if (holder === "p1") s.onHeartbeat("p1", { v: 1, kind: "heartbeat", id: "p1", ts: 0, queue: 1, tasks: ["t1"] }); else s.onHeartbeat("p2", { v: 1, kind: "heartbeat", id: "p2", ts: 0, queue: 1, tasks: ["t1"] }); s.onHeartbeat(holder === "p1" ? "p2" : "p1", { v: 1, kind: "heartbeat", id: holder === "p1" ? "p2" : "p1", ts: 0, queue: 0, tasks: [] }); }
  assert.equal([...tasksTo("p1"), ...tasksTo("p2")].length, 2);
  s.onResult(holder, done("t1", 2));
  assert.equal(replies().length, 1);
  assert.equal(replies()[0].attempts, 2);
  s.close();
});

test("a lost peer's tasks move at once; a silent peer is lost after the timeout", () => {
  const { s, clock, tasksTo } = setup({ maxAttempts: 10 });
  s.onStatus(status("p1", 1000));
  s.onStatus(status("p2", 500));
  s.onSubmit(submit("t1"));
  assert.equal(tasksTo("p1").length, 1);
  s.onStatus({ v: 1, kind: "status", id: "p1", online: false }); // last will
  assert.equal(tasksTo("p2").length, 1);
  assert.equal(tasksTo("p2")[0].attempt, 2);
  assert.deepEqual(s.peerIds(), ["p2"]);
  clock.advance(4000); // p2 never heartbeats
  assert.deepEqual(s.peerIds(), []);
  assert.equal(s.pendingCount, 1);
  s.onStatus(status("p3", 100));
  assert.ok(tasksTo("p3")[0].attempt > 2); // p2's leases expired too while it was silent
  s.close();
});

test("exactly once: duplicate results and re-submits never produce a second reply or run", () => {
  const { s, tasksTo, replies, clientOut } = setup();
  s.onStatus(status("p1", 1000));
  s.onSubmit(submit("t1"));
  s.onSubmit(submit("t1")); // QoS 1 duplicate before completion
  assert.equal(tasksTo("p1").length, 1);
  s.onResult("p1", done("t1", 1));
  s.onResult("p1", done("t1", 1));
  assert.equal(replies().length, 1);
  s.onSubmit(submit("t1")); // a client that missed the reply asks again
  assert.equal(tasksTo("p1").length, 1, "no second run");
  assert.equal(replies().length, 2);
  assert.deepEqual(replies()[1], replies()[0]);
  assert.equal(s.stats.completed, 1);
  assert.equal(clientOut.filter((x) => x.m.kind === "queued").length, 2);
  s.close();
});

test("a result from a peer that never held the task is ignored", () => {
  const { s, replies } = setup();
  s.onStatus(status("p1", 1000));
  s.onSubmit(submit("t1"));
  s.onResult("intruder", done("t1", 1, "QkFE"));
  assert.equal(replies().length, 0);
  s.onResult("p1", done("t1", 1));
  assert.equal(replies()[0].data, "SGk=");
  s.close();
});

test("reject backs off from the peer and places the task elsewhere; failures retry up to maxAttempts", () => {
  const { s, tasksTo, replies } = setup({ maxAttempts: 3 });
  s.onStatus(status("p1", 1000));
  s.onStatus(status("p2", 10));
  s.onSubmit(submit("t1"));
  s.onReject("p1", { v: 1, kind: "reject", taskId: "t1", attempt: 1, reason: "queue full" });
  assert.equal(tasksTo("p2").length, 1);
  s.onResult("p2", { ...done("t1", 2), status: "failed", error: "boom" });
  assert.equal(tasksTo("p2").length, 2, "p1 still backed off: p2 again, attempt 3");
  s.onResult("p2", { ...done("t1", 3), status: "failed", error: "boom" });
  assert.equal(replies().length, 1);
  assert.equal(replies()[0].status, "failed");
  s.close();
});

test("deadlines expire tasks (queued or running) and the client cancel stops them", () => {
  const { s, clock, peerOut, replies } = setup();
  s.onSubmit(submit("waits", 64, { deadlineMs: 500 }));
  clock.advance(499);
  assert.equal(replies().length, 0);
  clock.advance(2);
  assert.equal(replies()[0].status, "expired");
  s.onStatus(status("p1", 1000));
  s.onSubmit(submit("runs", 64, { deadlineMs: 800 }));
  const task = peerOut.find((x) => x.m.kind === "task")!.m as Draft<Task>;
  assert.equal(task.deadlineMs, 800);
  s.onSubmit(submit("stop"));
  s.onClientCancel({ v: 1, kind: "cancel", taskId: "stop", reason: "user" });
  assert.equal(replies()[1].status, "cancelled");
  assert.ok(peerOut.some((x) => x.m.kind === "cancel" && x.m.taskId === "stop"));
  s.close();
});

test("200 tasks over 3 peers with random peer loss all complete exactly once (fake time)", () => {
  const { s, clock, peerOut, replies } = setup({ maxAttempts: 20 });
  const peers = ["a", "b", "c"];
  for (const p of peers) s.onStatus(status(p, 1000, 4));
  for (let i = 0; i < 200; i++) s.onSubmit(submit(`t${i}`, 16));
  let cursor = 0, rnd = 12345;
  const rand = () => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let round = 0; round < 2000 && replies().length < 200; round++) {
    clock.advance(50);
    const fresh = peerOut.slice(cursor); cursor = peerOut.length;
    for (const x of fresh) {
      if (x.m.kind !== "task") continue;
      const r = rand();
      if (r < 0.05) { s.onStatus({ v: 1, kind: "status", id: x.to, online: false }); s.onStatus(status(x.to, 1000, 4)); continue; }
      if (r < 0.1) continue; // silently lost: the lease recovers it
      s.onAccept(x.to, { v: 1, kind: "accept", taskId: x.m.taskId, attempt: x.m.attempt });
      s.onResult(x.to, done(x.m.taskId, x.m.attempt));
      if (r < 0.2) s.onResult(x.to, done(x.m.taskId, x.m.attempt)); // duplicate delivery
    }
    for (const p of peers) s.onHeartbeat(p, { v: 1, kind: "heartbeat", id: p, ts: 0, queue: 0, tasks: [] });
  }
  const ids = replies().map((r) => r.taskId);
  assert.equal(ids.length, 200);
  assert.equal(new Set(ids).size, 200);
  assert.ok(replies().every((r) => r.status === "done"));
  assert.ok(s.stats.reassigned > 0);
  s.close();
});

const beat = (id: string, tasks: string[] = []) => ({ v: 1 as const, kind: "heartbeat" as const, id, ts: 0, queue: tasks.length, tasks });

test("a peer lost for silence comes back with its next heartbeat; one that said goodbye needs a status", () => {
  const { s, clock, tasksTo } = setup();
  s.onStatus(status("p1", 1000));
  clock.advance(4000); // stalled past the 3 s timeout
  assert.deepEqual(s.peerIds(), []);
  s.onHeartbeat("p1", beat("p1"));
  assert.deepEqual(s.peerIds(), ["p1"]);
  s.onSubmit(submit("t1"));
  assert.equal(tasksTo("p1").length, 1);
  s.onStatus({ v: 1, kind: "status", id: "p1", online: false });
  s.onHeartbeat("p1", beat("p1"));
  assert.deepEqual(s.peerIds(), [], "a goodbye drops the capabilities: a heartbeat alone is not enough");
  s.close();
});

test("a task no online peer could run fails after placeTimeoutMs, naming why; one that becomes placeable does not", () => {
  const { s, clock, replies, tasksTo } = setup({ placeTimeoutMs: 5000, peerTimeoutMs: 60000, leaseMs: 60000 });
  s.onSubmit(submit("nobody", 16));
  s.onStatus(status("small", 1000, 4, 0, 32));
  s.onSubmit(submit("too-long", 100));
  s.onSubmit(submit("wrong-model", 16, { model: "x" }));
  s.onSubmit(submit("later", 100, { model: "m" }));
  clock.advance(3000);
  s.onStatus(status("big", 10, 4, 0, 512)); // "later" (and "too-long") fit this one
  assert.deepEqual(tasksTo("small").map((t) => t.taskId), ["nobody"], "submitted with no peer online, placed when one came");
  assert.deepEqual(tasksTo("big").map((t) => t.taskId).sort(), ["later", "too-long"]);
  clock.advance(4000);
  const failed = new Map(replies().map((r) => [r.taskId, r]));
  assert.equal(failed.size, 1);
  assert.equal(failed.get("wrong-model")?.status, "failed");
  assert.match(failed.get("wrong-model")!.error!, /no peer can run it: no online peer serves model 'x'/);
  s.onStatus({ v: 1, kind: "status", id: "big", online: false });
  s.onSubmit(submit("huge", 1000));
  clock.advance(6000);
  assert.match(replies().find((r) => r.taskId === "huge")!.error!, /1000 steps exceed the context of every peer that could run it \(largest 32\)/);
  s.close();
});

const withAdapters = (st: StatusOnline, ...adapters: string[]): StatusOnline => ({ ...st, adapters });

test("adapters: a task naming one goes only to a peer that announced it, with its adapter and scale", () => {
  const { s, tasksTo } = setup();
  s.onStatus(status("fast", 5000));                                  // the fastest, but holds no adapter
  s.onStatus(withAdapters(status("home", 100), "home", "kitchen"));
  s.onStatus(withAdapters(status("other", 1000), "kitchen"));
  s.onSubmit(submit("a", 16, { adapter: "home", scale: 0.5 }));
  s.onSubmit(submit("b", 16, { adapter: "kitchen" }));
  s.onSubmit(submit("plain", 16));
  assert.deepEqual(tasksTo("home").map((t) => [t.taskId, t.adapter, t.scale]), [["a", "home", 0.5]]);
  assert.deepEqual(tasksTo("other").map((t) => [t.taskId, t.adapter, t.scale]), [["b", "kitchen", undefined]], "faster of the two holders; no scale: none sent");
  assert.deepEqual(tasksTo("fast").map((t) => t.taskId), ["plain"]);
  assert.ok(!("adapter" in tasksTo("fast")[0]), "a task without an adapter carries none");
  s.close();
});

test("adapters: a task for an adapter nobody holds waits, is placed when a holder comes, else fails naming the adapter", () => {
  const { s, clock, replies, tasksTo } = setup({ placeTimeoutMs: 5000, peerTimeoutMs: 60000, leaseMs: 60000 });
  s.onStatus(withAdapters(status("p1", 1000), "home"));
  s.onSubmit(submit("nobody-holds", 16, { adapter: "garage" }));
  s.onSubmit(submit("comes-later", 16, { adapter: "attic" }));
  s.onSubmit(submit("wrong-model", 16, { adapter: "home", model: "x" }));
  clock.advance(3000);
  assert.equal(replies().length, 0, "unplaceable tasks wait for placeTimeoutMs");
  s.onStatus(withAdapters(status("p2", 10), "attic"));
  assert.deepEqual(tasksTo("p2").map((t) => t.taskId), ["comes-later"]);
  clock.advance(4000); // the sweep (every placeTimeoutMs / 4) notices, then placeTimeoutMs passes
  const failed = new Map(replies().map((r) => [r.taskId, r]));
  assert.deepEqual([...failed.keys()].sort(), ["nobody-holds", "wrong-model"]);
  assert.equal(failed.get("nobody-holds")!.status, "failed");
  assert.equal(failed.get("nobody-holds")!.error, "no peer can run it: no peer holds adapter 'garage'");
  assert.match(failed.get("wrong-model")!.error!, /no online peer serves model 'x'/, "the model is the first reason");
  assert.deepEqual(tasksTo("p1"), [], "never sent to a peer without the adapter");
  s.close();
});

test("adapters: the placement timeout runs from when no peer holds it; a holder that goes offline restarts it", () => {
  const { s, clock, replies, tasksTo } = setup({ placeTimeoutMs: 4000, peerTimeoutMs: 60000, leaseMs: 60000 });
  s.onStatus(withAdapters(status("p1", 1000, 1), "home"));
  s.onSubmit(submit("busy", 16, { adapter: "home" }));
  s.onSubmit(submit("waits", 16, { adapter: "home" }));
  assert.deepEqual(tasksTo("p1").map((t) => t.taskId), ["busy"]);
  clock.advance(10000);
  assert.equal(replies().length, 0, "a task waiting for a busy holder is placeable: it never times out");
  // the holder re-announces without the adapter: now nobody holds it
  s.onStatus(status("p1", 1000, 1));
  clock.advance(2000);
  assert.equal(replies().length, 0);
  clock.advance(3500);
  assert.equal(replies().find((r) => r.taskId === "waits")?.error, "no peer can run it: no peer holds adapter 'home'");
  s.close();
});

test("adapters: steps are checked against the holders' context only", () => {
  const { s, clock, replies } = setup({ placeTimeoutMs: 1000 });
  s.onStatus(status("big", 1000, 4, 0, 512));
  s.onStatus(withAdapters(status("small", 1000, 4, 0, 32), "home"));
  s.onSubmit(submit("long", 100, { adapter: "home" }));
  clock.advance(1500);
  assert.match(replies()[0].error!, /100 steps exceed the context of every peer that could run it \(largest 32\)/);
  s.close();
});

const serving = (st: StatusOnline, ...taskTypes: ("text" | "commands")[]): StatusOnline => ({ ...st, taskTypes });

test("task types: a commands task goes only to a peer announcing commands, with its type; text tasks go anywhere", () => {
  const { s, tasksTo } = setup();
  s.onStatus(status("fast", 5000));                                             // the fastest, serves text only
  s.onStatus(serving(withAdapters(status("cmd", 100), "home"), "commands"));
  s.onStatus(serving(status("cmd-no-home", 1000), "commands"));                 // commands, but no home adapter
  s.onSubmit(submit("c1", 0, { task: "commands", adapter: "home" }));
  s.onSubmit(submit("c2", 0, { task: "commands" }));
  s.onSubmit(submit("t1", 16, { task: "text" }));
  s.onSubmit(submit("t2", 16));
  assert.deepEqual(tasksTo("cmd").map((t) => [t.taskId, t.task, t.adapter]), [["c1", "commands", "home"]]);
  assert.deepEqual(tasksTo("cmd-no-home").map((t) => [t.taskId, t.task]), [["c2", "commands"]], "the faster commands peer");
  assert.deepEqual(tasksTo("fast").map((t) => [t.taskId, t.task]), [["t1", "text"], ["t2", undefined]]);
  assert.ok(!("task" in tasksTo("fast")[1]), "a task without a type carries none");
  s.close();
});

test("task types: a commands task nobody serves fails after placeTimeoutMs with the reason; one that arrives in time is placed", () => {
  const { s, clock, replies, tasksTo } = setup({ placeTimeoutMs: 4000, peerTimeoutMs: 60000, leaseMs: 60000 });
  s.onStatus(withAdapters(status("text-only", 1000), "home"));
  s.onSubmit(submit("nobody", 0, { task: "commands", adapter: "home" }));
  s.onSubmit(submit("later", 0, { task: "commands" }));
  clock.advance(2000);
  assert.equal(replies().length, 0, "waits for placeTimeoutMs");
  assert.deepEqual(tasksTo("text-only"), [], "never sent to a peer that does not serve commands");
  s.onStatus(serving(status("late", 10), "commands"));
  assert.deepEqual(tasksTo("late").map((t) => t.taskId), ["later"], "placed when a capable peer comes");
  clock.advance(4000);
  assert.equal(replies().find((r) => r.taskId === "nobody")?.error, "no peer can run it: no peer holds adapter 'home' and serves commands tasks");
  s.onStatus({ v: 1, kind: "status", id: "late", online: false });
  s.onSubmit(submit("none", 0, { task: "commands" }));
  clock.advance(6000);
  assert.equal(replies().find((r) => r.taskId === "none")?.error, "no peer can run it: no peer serves commands tasks");
  s.close();
});

test("with no peer at all, a task fails after placeTimeoutMs instead of waiting forever", () => {
  const { s, clock, replies } = setup({ placeTimeoutMs: 2000 });
  s.onSubmit(submit("t1"));
  clock.advance(1500);
  assert.equal(replies().length, 0);
  clock.advance(1500);
  assert.equal(replies()[0].status, "failed");
  assert.match(replies()[0].error!, /no peer is online/);
  assert.equal(s.activeCount, 0, "nothing left behind");
  s.close();
});

test("the queue is bounded: a submit beyond maxPending is answered 'failed' at once", () => {
  const { s, replies } = setup({ maxPending: 3 });
  for (let i = 0; i < 5; i++) s.onSubmit(submit(`t${i}`));
  assert.equal(s.pendingCount, 3);
  assert.deepEqual(replies().map((r) => r.taskId), ["t3", "t4"]);
  assert.match(replies()[0].error!, /queue is full \(3 tasks wait for a peer\)/);
  s.close();
});

test("a peer whose lease expired is backed off, so a fast peer that never answers cannot hold a task", () => {
  const { s, clock, tasksTo, replies } = setup({ maxAttempts: 5 });
  s.onStatus(status("liar", 1e9)); // claims to be very fast, accepts, never finishes
  s.onStatus(status("honest", 100));
  s.onSubmit(submit("t1"));
  assert.equal(tasksTo("liar").length, 1);
  s.onAccept("liar", { v: 1, kind: "accept", taskId: "t1", attempt: 1 });
  clock.advance(600); s.onHeartbeat("liar", beat("liar")); s.onHeartbeat("honest", beat("honest"));
  clock.advance(600); // the lease of 1000 ms ran out
  const second = tasksTo("honest");
  assert.equal(second.length, 1, "attempt 2 goes to the other peer");
  assert.equal(second[0].attempt, 2);
  s.onResult("honest", done("t1", 2));
  assert.equal(replies()[0].status, "done");
  s.close();
});
