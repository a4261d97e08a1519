// A peer's adapters in the module's agent (assembly/agent/adapters.ts, model/lora.ts useHeld):
// announced in the status, a task runs with the adapter it names (or none), switched per task
// without reloading the base or allocating, its text equal to a local run with that adapter.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { generate } from "../../host/engine/generate.js";
import { AdapterStorage } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { randomAdapter } from "./adapter-helpers.js";
import { TestAgent } from "./agent-helpers.js";
import { ROOT } from "./helpers.js";

const E_ARGUMENT = -12, E_NAME = -15, E_ADAPTER_BASE = -19;
const MODEL = new Uint8Array(readFileSync(join(ROOT, "models", "default.ellm")));
const HOME = new Uint8Array(readFileSync(join(ROOT, "models", "home.ella")));          // rank 16, f16
const RAND = writeAdapter(randomAdapter(MODEL, 4, AdapterStorage.F32, 3, 3));             // rank 4, f32
const PROMPT = "turn on the kitchen light";
const STEPS = 48;

// What `edgellm run --lora` prints for the task: a fresh engine with the adapter loaded at scale.
function localRun(adapter: Uint8Array | null, scale: number, seed: bigint, temperature: number): string {
  const e = Engine.load(MODEL, undefined, { engine: "simd", ctx: STEPS });
  if (adapter) e.loadAdapter(adapter, scale);
  const out: Buffer[] = [];
  generate(e, { prompt: PROMPT, steps: STEPS, temperature, topp: 0.9, seed }, (b) => out.push(Buffer.from(b)));
  return Buffer.concat(out).toString("hex");
}

function agentWithAdapters(engine: "simd" | "mvp" = "simd"): TestAgent {
  const a = new TestAgent({ modelBytes: MODEL, ctx: STEPS, engine, maxQueue: 8 });
  assert.equal(a.addAdapter("home", HOME), 0);
  assert.equal(a.addAdapter("rand.f32", RAND), 1);
  return a;
}

test("the status announces the adapters held, in the order added; none: no field", () => {
  const a = agentWithAdapters();
  a.connected();
  const st = a.of("status").at(-1)!;
  assert.ok(st.online);
  assert.deepEqual(st.adapters, ["home", "rand.f32"]);
  const plain = new TestAgent({ modelBytes: MODEL, ctx: STEPS });
  plain.connected();
  assert.ok(!("adapters" in plain.of("status").at(-1)!), "no adapters, no field");
});

test("tasks switch adapters per task; every output equals a local run with that adapter (SIMD and MVP)", () => {
  const plan: [string | null, number | undefined, number][] = [
    [null, undefined, 0], ["home", undefined, 0], ["rand.f32", 0.5, 0.8], ["home", undefined, 0.8], ["home", 2, 0], [null, undefined, 0.8], ["rand.f32", undefined, 0],
  ];
  const bytes: Record<string, Uint8Array> = { home: HOME, "rand.f32": RAND };
  const want = plan.map(([id, scale, t], i) => localRun(id ? bytes[id] : null, scale ?? 1, BigInt(100 + i), t));
  assert.equal(new Set(want).size, want.length, "every adapter and scale changes the text (else the test proves nothing)");
  for (const engine of ["simd", "mvp"] as const) {
    const a = agentWithAdapters(engine);
    a.connected();
    plan.forEach(([id, scale, t], i) => {
      const r = a.task({ taskId: `t${i}`, prompt: PROMPT, steps: STEPS, temperature: t, seed: String(100 + i), ...(id ? { adapter: id } : {}), ...(scale !== undefined ? { scale } : {}) });
      assert.equal(r.rc, 0, r.reason);
    });
    a.runUntilIdle();
    const results = new Map(a.of("result").map((r) => [r.taskId, r]));
    plan.forEach(([id, scale], i) => {
      const r = results.get(`t${i}`)!;
      assert.equal(r.status, "done", `t${i}`);
      assert.equal(Buffer.from(r.data, "base64").toString("hex"), want[i], `${engine} t${i}: adapter ${id ?? "none"} at ${scale ?? 1}`);
    });
  }
});

test("switching allocates nothing: linear memory and the heap stay flat over many tasks", () => {
  const a = agentWithAdapters();
  a.connected();
  const round = (k: number) => {
    ["home", null, "rand.f32", "home"].forEach((id, i) => a.task({ taskId: `r${k}-${i}`, steps: 8, ...(id ? { adapter: id, scale: 1 + i } : {}) }));
    a.runUntilIdle();
  };
  const p1 = a.heapTop(), p2 = a.heapTop(), step = p2 - p1; // (each probe takes one block)
  const mem = a.x.memoryBytes();
  for (let k = 0; k <= 20; k++) round(k);
  assert.equal(a.x.memoryBytes(), mem);
  assert.equal(a.heapTop() - p2, step, "nothing was allocated while switching, from the first switch on");
  assert.equal(a.of("result").filter((r) => r.status === "done").length, 84);
});

test("a task for an adapter the peer does not hold is rejected, naming it; nothing is held", () => {
  const a = agentWithAdapters();
  a.connected();
  assert.equal(a.task({ taskId: "x", adapter: "garage" }).rc, 0);
  assert.deepEqual(a.of("reject").at(-1), { v: 1, kind: "reject", taskId: "x", attempt: 1, reason: "adapter 'garage' is not held by this peer" });
  assert.equal(a.x.agentHeld(), 0);
  assert.ok(a.logs.at(-1)!.includes("rejected task x: adapter 'garage' is not held by this peer"));
});

test("adding adapters: bad ids, duplicates, unknown held indices and another base's adapter are refused", () => {
  const a = new TestAgent({ modelBytes: MODEL, ctx: STEPS });
  assert.equal(a.addAdapter("home kitchen", HOME), E_NAME);
  assert.equal(a.addAdapter("", HOME), E_NAME);
  assert.equal(a.addAdapter("a".repeat(129), HOME), E_NAME);
  assert.equal(a.addAdapter("home", HOME), 0);
  assert.equal(a.addAdapter("home", HOME), E_ARGUMENT, "duplicate id");
  const id = Buffer.from("ghost");
  assert.equal(a.x.agentAddAdapter(a.e.copyIn(id), id.length, 7), E_ARGUMENT, "no such held adapter");
  const other = new TestAgent({ ctx: 32 }); // stories260K: home.ella is not for it
  assert.equal(other.addAdapter("home", HOME), E_ADAPTER_BASE);
  assert.equal(a.x.adapterUse(5, 1), E_ARGUMENT);
  assert.equal(a.x.adapterUse(0, NaN), E_ARGUMENT);
});

test("up to 32 adapters: the status with every id of 128 characters fits, and passes the protocol's schema", () => {
  const a = new TestAgent({ modelBytes: MODEL, ctx: 16 });
  const ids = Array.from({ length: 32 }, (_, i) => `${String(i).padStart(2, "0")}${"x".repeat(126)}`);
  ids.forEach((id, i) => assert.equal(a.addAdapter(id, RAND), i));
  assert.equal(a.addAdapter("one-more", RAND), E_ARGUMENT);
  a.connected(); // TestAgent decodes every publish with the TS decoder
  assert.deepEqual(a.of("status").at(-1)!.online && (a.of("status").at(-1) as { adapters?: string[] }).adapters, ids);
});
