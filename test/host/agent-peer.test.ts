// The module's fleet agent (assembly/agent/peer.ts) as a state machine under a fake clock, its
// publishes captured and each checked by the TS decoder (ajv over host/fleet/schemas.ts).
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import type { EngineKind } from "../../host/engine/exports.js";
import { generate } from "../../host/engine/generate.js";
import type { Result } from "../../host/fleet/messages.js";
import { haveShared, model, TestAgent } from "./agent-helpers.js";

const skip = skipUnless(haveShared, "../shared/models");

const refEngines = new Map<string, Engine>();
// What `edgellm run` prints (without the final newline) for these arguments on a ctx-long state.
function localRun(kind: EngineKind, ctx: number, o: { prompt: string; steps: number; temperature: number; topp: number; seed: string }): Buffer {
  const key = `${kind}/${ctx}`;
  let e = refEngines.get(key);
  if (!e) { e = Engine.load(model().bytes, undefined, { engine: kind, ctx }); refEngines.set(key, e); }
  const out: Buffer[] = [];
  generate(e, { ...o, seed: BigInt(o.seed) }, (b) => out.push(Buffer.from(b)));
  return Buffer.concat(out);
}

// The tokens messages of one task attempt, checked contiguous, joined.
function streamed(a: TestAgent, taskId: string): Buffer {
  const chunks = a.of("tokens").filter((t) => t.taskId === taskId);
  let offset = 0;
  const parts: Buffer[] = [];
  for (const c of chunks) {
    assert.equal(c.offset, offset, `${taskId}: tokens offsets are contiguous`);
    const b = Buffer.from(c.data, "base64");
    assert.ok(b.length > 0, "no empty tokens message");
    parts.push(b);
    offset += b.length;
  }
  return Buffer.concat(parts);
}

const resultOf = (a: TestAgent, taskId: string): Result => {
  const r = a.of("result").filter((m) => m.taskId === taskId);
  assert.equal(r.length, 1, `${taskId}: one result`);
  return r[0];
};

test("status, will and subscription; accept → tokens → result equal to generate() in both builds", { skip }, () => {
  const runs = [
    { prompt: "Once upon a time", steps: 64, temperature: 0, topp: 0.9, seed: "7" },
    { prompt: "The cat", steps: 0, temperature: 0.8, topp: 0.9, seed: "18446744073709551615" },
    { prompt: "", steps: 40, temperature: 1, topp: 1, seed: "3" },
    { prompt: "Élan 😀 \"quoted\"\n", steps: 50, temperature: 0.5, topp: 0.5, seed: "12345678901234567890" },
  ];
  for (const kind of ["simd", "mvp"] as const) {
    const a = new TestAgent({ engine: kind, ctx: 96, maxQueue: 8 });
    const x = a.x;
    // subscription and last will
    const buf = x.alloc(256), pay = x.alloc(256);
    const text = (p: number, n: number) => Buffer.from(new Uint8Array(x.memory.buffer, p, n)).toString("utf8");
    assert.equal(text(buf, x.agentSubscription(buf, 256)), "edgellm/v1/f1/to/p1/+");
    assert.equal(x.agentSubscription(buf, 10), -12, "a too small buffer is refused");
    const w = x.agentWill(buf, 256, pay, 256);
    assert.equal(text(buf, w >>> 16), "edgellm/v1/f1/peer/p1/status");
    assert.equal(new Uint8Array(x.memory.buffer)[buf + (w >>> 16)], 0, "the will topic is NUL-terminated");
    assert.deepEqual(JSON.parse(text(pay, w & 0xffff)), { v: 1, kind: "status", id: "p1", online: false });

    a.connected();
    const st = a.pubs[0];
    assert.equal(st.topic, "edgellm/v1/f1/peer/p1/status");
    assert.equal(st.qos, 1);
    assert.equal(st.retain, true);
    assert.deepEqual(st.msg, { v: 1, kind: "status", id: "p1", online: true, ts: a.now, impl: "node", model: { id: "stories260K-test", quant: "f32", ctx: 96, vocab: 512 }, tokPerSec: 1234.5, freeMem: 1 << 20, queue: 0, maxQueue: 8 });

    runs.forEach((r, i) => assert.equal(a.task({ ...r, taskId: `t${i}`, attempt: i + 1 }).rc, 0));
    assert.deepEqual(a.of("accept").map((m) => [m.taskId, m.attempt]), runs.map((_, i) => [`t${i}`, i + 1]));
    for (const p of a.pubs.filter((p) => p.msg.kind === "accept")) { assert.equal(p.qos, 1); assert.equal(p.retain, false); }
    assert.equal(x.agentHeld(), runs.length);
    let starts: string[] = [];
    for (let i = 0; i < 100000; i++) {
      const r = a.running();
      if (r && starts.at(-1) !== r) starts.push(r);
      if (a.tick(3) !== 0) break;
      a.now += 7; // flushes by time (flushMs 20) as well as by size
    }
    assert.deepEqual(starts, ["t0", "t1", "t2", "t3"], "FIFO, one at a time");
    assert.equal(x.agentHeld(), 0);
    runs.forEach((r, i) => {
      const res = resultOf(a, `t${i}`);
      const want = localRun(kind, 96, r);
      assert.equal(res.status, "done");
      assert.equal(res.attempt, i + 1);
      assert.equal(Buffer.from(res.data, "base64").toString("hex"), want.toString("hex"), `${kind} t${i}: the result's bytes are generate()'s`);
      assert.equal(streamed(a, `t${i}`).toString("hex"), want.toString("hex"), `${kind} t${i}: the streamed bytes too`);
      assert.ok(res.tokens > 0 && res.tokens <= (r.steps || 96));
      assert.ok(res.elapsedMs > 0);
    });
    for (const p of a.pubs.filter((p) => p.msg.kind === "tokens")) assert.equal(p.qos, 0);
    assert.ok(a.of("tokens").length > runs.length, "tokens were streamed in batches");
    assert.deepEqual(a.invalid, []);
  }
});

test("tokens batching: 1 KiB or flushMs after the first unsent byte", { skip }, () => {
  // A long prompt: its pieces are output too (forced positions), so the output passes 1 KiB.
  const long = "Once upon a time, there was a little dog named Max. ".repeat(60);
  const a = new TestAgent({ ctx: 512, flushMs: 20 });
  a.task({ steps: 512, temperature: 1, seed: "11", prompt: long });
  a.runUntilIdle(0, 8); // the clock stands still: only the size rule flushes before the end
  const toks = a.of("tokens");
  const total = Buffer.from(resultOf(a, "t-1").data, "base64").length;
  assert.ok(total > 1100, `a long output (${total} bytes)`);
  assert.ok(toks.length >= 2, "at least one size flush before the final one");
  assert.equal(streamed(a, "t-1").length, total);
  for (const t of toks.slice(0, -1)) {
    const n = Buffer.from(t.data, "base64").length;
    assert.ok(n >= 1024 && n < 1024 + 64, `a size flush carries 1 KiB and a piece at most (${n})`);
  }
  const b = new TestAgent({ ctx: 512, flushMs: 20 });
  b.task({ steps: 200, temperature: 1, seed: "11", prompt: "" });
  let ticks = 0;
  while (b.tick(1) === 0) { b.now += 5; ticks++; }
  const tb = b.pubs.filter((p) => p.msg.kind === "tokens");
  assert.ok(tb.length >= ticks / 6, `time flushes (${tb.length} over ${ticks} ticks)`);
  for (let i = 1; i < tb.length - 1; i++) assert.ok(tb[i].at - tb[i - 1].at >= 20, "at most every flushMs");
});

test("cancel: a queued task gets a cancelled result at once; the running one stops at the next position", { skip }, () => {
  const a = new TestAgent({ ctx: 256, maxQueue: 3 });
  a.task({ taskId: "run", steps: 256, temperature: 0.9, seed: "5" });
  a.task({ taskId: "wait", steps: 16 });
  a.tick(10);
  assert.equal(a.running(), "run");
  assert.equal(a.cancel("wait", "user").rc, 0);
  const cq = resultOf(a, "wait");
  assert.deepEqual({ ...cq, elapsedMs: 0 }, { v: 1, kind: "result", taskId: "wait", attempt: 1, status: "cancelled", data: "", tokens: 0, elapsedMs: 0 });
  assert.ok(a.logs.some((l) => l.includes("task wait cancelled while queued: user")));
  assert.equal(a.x.agentHeld(), 1);
  a.tick(10);
  assert.equal(a.cancel("run", "lease").rc, 0);
  assert.equal(a.x.agentHeld(), 1, "still held until it stops");
  a.tick(10);
  const cr = resultOf(a, "run");
  assert.equal(cr.status, "cancelled");
  assert.equal(cr.tokens, 20, "stopped before the next position");
  const full = localRun("simd", 256, { prompt: "Once upon a time", steps: 256, temperature: 0.9, topp: 0.9, seed: "5" });
  const got = Buffer.from(cr.data, "base64");
  assert.ok(got.length > 0 && full.subarray(0, got.length).equals(got), "the output so far");
  assert.equal(a.x.agentHeld(), 0);
  assert.equal(a.running(), "");
  assert.equal(a.cancel("run").rc, 0, "a cancel of nothing held is handled (nothing to do)");
  assert.equal(a.of("result").length, 2);
});

test("deadlines: a running task expires at the next position, a queued one at the next tick", { skip }, () => {
  const a = new TestAgent({ ctx: 256, maxQueue: 3 });
  a.task({ taskId: "slow", steps: 256, deadlineMs: 100 });
  a.task({ taskId: "late", steps: 16, deadlineMs: 100 });
  a.task({ taskId: "free", steps: 16, deadlineMs: 0 });
  a.tick(4);
  a.now += 100;
  a.tick(4);
  assert.equal(a.of("result").length, 0, "not yet: the deadline is exclusive");
  a.now += 1;
  a.tick(4);
  const late = resultOf(a, "late");
  assert.deepEqual([late.status, late.tokens, late.data], ["expired", 0, ""]);
  const slow = resultOf(a, "slow");
  assert.equal(slow.status, "expired");
  assert.equal(slow.tokens, 8);
  assert.equal(slow.elapsedMs, 101);
  a.runUntilIdle();
  assert.equal(resultOf(a, "free").status, "done");
});

test("rejects: queue full, steps over the context; a re-sent task keeps its work under the new attempt", { skip }, () => {
  const a = new TestAgent({ ctx: 64, maxQueue: 2 });
  a.task({ taskId: "a", steps: 64, temperature: 0.7, seed: "9" });
  a.task({ taskId: "b" });
  assert.equal(a.task({ taskId: "c", attempt: 3 }).rc, 0, "a reject is an answer, not a refusal");
  assert.deepEqual(a.of("reject").at(-1), { v: 1, kind: "reject", taskId: "c", attempt: 3, reason: "queue full (2)" });
  a.tick(10);
  a.now += 25;
  a.tick(1); // streams under attempt 1 (flushMs passed)
  // Re-sent while running: accepted again with the new attempt, not restarted, not held twice.
  assert.equal(a.task({ taskId: "a", attempt: 2, steps: 64, temperature: 0.7, seed: "9" }).rc, 0);
  assert.deepEqual(a.of("accept").at(-1), { v: 1, kind: "accept", taskId: "a", attempt: 2 });
  assert.equal(a.x.agentHeld(), 2);
  // Re-sent while queued: the same.
  a.task({ taskId: "b", attempt: 5 });
  assert.equal(a.x.agentHeld(), 2);
  a.runUntilIdle();
  const ra = resultOf(a, "a");
  assert.equal(ra.attempt, 2);
  assert.equal(Buffer.from(ra.data, "base64").toString("hex"), localRun("simd", 64, { prompt: "Once upon a time", steps: 64, temperature: 0.7, topp: 0.9, seed: "9" }).toString("hex"));
  assert.equal(resultOf(a, "b").attempt, 5);
  assert.ok(a.of("tokens").filter((t) => t.taskId === "a").some((t) => t.attempt === 1) && a.of("tokens").filter((t) => t.taskId === "a").some((t) => t.attempt === 2), "tokens switch to the new attempt");
  streamed(a, "a");
  const b = new TestAgent({ ctx: 64 });
  b.task({ taskId: "big", steps: 65 });
  assert.deepEqual(b.of("reject")[0], { v: 1, kind: "reject", taskId: "big", attempt: 1, reason: "steps 65 exceed context 64" });
  assert.equal(b.x.agentHeld(), 0);
  // A prompt over 8 bytes per position is accepted and fails as generate() fails it.
  b.task({ taskId: "long", steps: 8, prompt: "x".repeat(8 * 64 + 1) });
  b.runUntilIdle();
  const rl = resultOf(b, "long");
  assert.equal(rl.status, "failed");
  assert.equal(rl.error, "prompt is 513 bytes; at most 512 fit a context of 64 positions");
  assert.deepEqual(b.invalid, []);
});

test("heartbeats fall due by the injected clock and list the held tasks", { skip }, () => {
  const a = new TestAgent({ ctx: 64, heartbeatMs: 1000, maxQueue: 4 });
  const t0 = a.now;
  a.connected();
  assert.equal(a.tick(), 1000, "idle: the next call is due at the heartbeat");
  a.now = t0 + 999;
  assert.equal(a.tick(), 1);
  assert.equal(a.of("heartbeat").length, 0);
  a.task({ taskId: "h1", steps: 64 });
  a.task({ taskId: "h2", steps: 64 });
  a.now = t0 + 1000;
  a.tick(1);
  const hb = a.of("heartbeat");
  assert.equal(hb.length, 1);
  assert.deepEqual(hb[0], { v: 1, kind: "heartbeat", id: "p1", ts: t0 + 1000, queue: 2, tasks: ["h1", "h2"] });
  assert.equal(a.pubs.find((p) => p.msg.kind === "heartbeat")!.qos, 0);
  a.runUntilIdle();
  a.now = t0 + 1500;
  assert.equal(a.tick(), 500);
  a.now = t0 + 2000;
  a.tick();
  assert.deepEqual(a.of("heartbeat")[1].tasks, []);
  a.now = t0 + 10_000; // a stall: one heartbeat, not a burst
  a.tick();
  a.tick();
  assert.equal(a.of("heartbeat").length, 3);
  assert.equal(a.tick(), 1000);
});

test("200 tasks leave linear memory and the heap exactly as they were (SIMD and MVP)", { skip }, () => {
  for (const kind of ["simd", "mvp"] as const) {
    const a = new TestAgent({ engine: kind, ctx: 64, maxQueue: 4 });
    a.connected();
    const p1 = a.heapTop(), p2 = a.heapTop(), step = p2 - p1;
    const mem = a.x.memoryBytes();
    for (let i = 0; i < 200; i++) {
      const r = a.task({ taskId: `m${i}`, steps: 24, prompt: `Story number ${i} 😀 ${"é".repeat(i % 50)}`, temperature: (i % 4) / 4, seed: String(i) });
      assert.equal(r.rc, 0);
      if (i % 3 === 0) a.tick(5);
      if (i % 7 === 0) a.cancel(`m${i}`);
      if (i % 11 === 0) a.send("edgellm/v1/f1/to/p1/task", "{not json");
      a.now += 3;
      a.runUntilIdle(1, 8);
    }
    assert.equal(a.of("result").length, 200);
    assert.equal(a.x.memoryBytes(), mem, `${kind}: linear memory`);
    assert.equal(a.heapTop() - p2, step, `${kind}: nothing was allocated while serving`);
    assert.deepEqual(a.invalid, []);
  }
});

test("refused messages are logged at most 10 a second; the next line counts the rest", { skip }, () => {
  const a = new TestAgent({ ctx: 32 });
  for (let i = 0; i < 25; i++) assert.equal(a.send("edgellm/v1/f1/to/p1/task", `{bad ${i}`).rc, -17);
  assert.equal(a.logs.length, 10);
  assert.ok(a.logs.every((l) => l === "ignored message: edgellm/v1/f1/to/p1/task: payload is not JSON"));
  a.now += 999;
  a.send("edgellm/v1/f1/to/p1/cancel", "[]");
  assert.equal(a.logs.length, 10);
  a.now += 1;
  assert.equal(a.send("edgellm/v1/f1/to/p1/cancel", "[]").reason, "edgellm/v1/f1/to/p1/cancel: payload is not a JSON object", "agentReason still has every reason");
  assert.deepEqual(a.logs.slice(10), ["ignored message: edgellm/v1/f1/to/p1/cancel: payload is not a JSON object (and 16 more not logged)"]);
});

test("rejected tasks share that limit: a flood of tasks on a full queue logs 10 lines a second, every one answered", { skip }, () => {
  const a = new TestAgent({ ctx: 64, maxQueue: 1 });
  a.task({ taskId: "held" });
  for (let i = 0; i < 30; i++) a.task({ taskId: `f${i}` });
  assert.equal(a.of("reject").length, 30, "each one still gets its reject");
  assert.equal(a.logs.filter((l) => l.startsWith("rejected task")).length, 10);
  a.now += 1000;
  a.task({ taskId: "late" });
  assert.equal(a.logs.at(-1), "rejected task late: queue full (1) (and 20 more not logged)");
});

test("boundary checks: init arguments, calls before init, shutdown", { skip }, () => {
  const e = Engine.load(model().bytes, undefined, { ctx: 32 });
  const x = e.x;
  const s = (t: string) => { const b = Buffer.from(t); return [e.copyIn(b), b.length] as const; };
  const [f, fl] = s("fleet"), [bad, bl] = s("bad/name"), [id, il] = s("p");
  assert.equal(x.agentTick(0, 1), -16);
  assert.equal(x.agentMessage(f, fl, f, fl, 0), -16);
  assert.equal(x.agentInit(bad, bl, id, il, 2, 1000, 20), -15);
  assert.equal(x.agentInit(f, fl, bad, bl, 2, 1000, 20), -15);
  assert.equal(x.agentInit(f, 0, id, il, 2, 1000, 20), -15);
  assert.equal(x.agentInit(f, fl, id, il, 0, 1000, 20), -12);
  assert.equal(x.agentInit(f, fl, id, il, 65, 1000, 20), -12);
  assert.equal(x.agentInit(f, fl, id, il, 2, 1000, 20), 0);
  assert.equal(x.agentInit(f, fl, id, il, 2, 1000, 20), -12, "once");
  const [m, ml] = s("m".repeat(129));
  assert.equal(x.agentSetCapabilities(m, ml, id, il, 1, 0), -12, "model id over 128 bytes");
  const inv = e.copyIn(new Uint8Array([0x61, 0xff]));
  assert.equal(x.agentSetCapabilities(inv, 2, id, il, 1, 0), -12, "invalid UTF-8");

  // The memory cap (setMemoryLimit): an agent that would grow memory past it is refused, unallocated.
  const c = Engine.load(model().bytes, undefined, { ctx: 512 });
  const cf = c.copyIn(Buffer.from("f")), cid = c.copyIn(Buffer.from("p"));
  const probe = -c.x.alloc(0) + c.x.alloc(0); // one empty block
  const top = c.x.alloc(0);
  c.x.setMemoryLimit(((top + 0xffff) & ~0xffff) + 0x10000); // a page above the heap's top: less than the agent needs
  assert.equal(c.x.agentInit(cf, 1, cid, 1, 64, 1000, 20), -14);
  assert.equal(c.x.alloc(0) - top, 2 * probe, "nothing allocated but agentInit's own probe of the heap top");
  c.x.setMemoryLimit(0);
  assert.equal(c.x.agentInit(cf, 1, cid, 1, 64, 1000, 20), 0);

  const a = new TestAgent({ ctx: 32 });
  a.connected();
  a.task({ taskId: "held", steps: 32 });
  a.x.agentShutdown();
  const off = a.pubs.at(-1)!;
  assert.deepEqual([off.topic, off.msg, off.qos, off.retain], ["edgellm/v1/f1/peer/p1/status", { v: 1, kind: "status", id: "p1", online: false }, 1, true]);
  const n = a.pubs.length;
  assert.equal(a.task({ taskId: "after" }).rc, -17);
  a.tick();
  assert.equal(a.pubs.length, n, "nothing after shutdown");
});
