// Worker thread that owns one Engine and its module's fleet agent (assembly/agent/): the peer
// protocol runs in the module, the same code as on the firmware. This thread only feeds it
// (received payloads, the clock) and loops agentTick, a few positions at a time, yielding to
// its message port between ticks so that a cancel arrives at the next position or so.
import { freemem } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { check } from "../engine/errors.js";
import { Engine } from "../engine/engine.js";
import { generate } from "../engine/generate.js";
import type { RunnerIn, RunnerInit, RunnerOut } from "./runner-protocol.js";

// agentMessage: another process is online with our id and was there first (assembly/core/errors.ts).
const E_DUPLICATE_ID = -18;
const init = workerData as RunnerInit;
const post = (m: RunnerOut) => parentPort!.postMessage(m);

// Positions per agentTick: small, so messages are handled between ticks without delay.
const MAX_POSITIONS = 4;
const INBOX_BYTES = 65536;  // the protocol's payload limit; longer ones are refused unread
const TOPIC_BYTES = 256;    // the agent's topic limit
const NAME_BYTES = 64;

let connected = false;
let engine: Engine;
const utf8 = new TextDecoder();
// Wall-clock ms with sub-millisecond resolution (elapsedMs of short tasks is not rounded to whole ms).
const now = () => performance.timeOrigin + performance.now();

try {
  engine = Engine.load(init.modelBytes, undefined, {
    engine: init.engine, ctx: 0, kvInt8: init.kvInt8,
    agentHost: {
      publish: (topic, payload, flags) => { post({ type: "publish", topic: utf8.decode(topic), payload, flags }); return connected ? 0 : -1; },
      log: (line) => post({ type: "log", line }),
    },
  });
} catch (e) {
  post({ type: "fatal", error: (e as Error).message });
  throw e;
}
const x = engine.x;

// Measured speed for the capability announcement: a short greedy run, before the agent's
// buffers are allocated (generate's prompt scratch stays the only other allocation).
function probe(): number {
  const run = () => generate(engine, { prompt: "", steps: Math.min(64, engine.info.ctx), temperature: 0, topp: 1, seed: 1n }, () => undefined);
  run(); // warm-up: the first run includes the JIT's tiering
  const p = run();
  return p.tokens > 1 ? ((p.tokens - 1) / Math.max(p.elapsedMs, 1e-3)) * 1000 : 1;
}

function text(ptr: number, len: number): string { return utf8.decode(new Uint8Array(x.memory.buffer, ptr, len)); }

let tokPerSec = 0;
let refreshCaps: () => void = () => undefined;
let inbox = 0, topicBuf = 0, nameBuf = 0;
try {
  tokPerSec = probe();
  const a = init.agent;
  const fleet = Buffer.from(a.fleet), id = Buffer.from(a.id);
  check(x.agentInit(engine.copyIn(fleet), fleet.length, engine.copyIn(id), id.length, a.maxQueue, a.heartbeatMs, a.flushMs), "agent");
  const nonce = Buffer.from(a.nonce);
  check(x.agentSetNonce(engine.copyIn(nonce), nonce.length), "agent nonce");
  const model = Buffer.from(a.modelId), impl = Buffer.from(a.impl);
  const modelPtr = engine.copyIn(model), implPtr = engine.copyIn(impl);
  const setCaps = () => check(x.agentSetCapabilities(modelPtr, model.length, implPtr, impl.length, tokPerSec, Math.min(freemem(), 0xffffffff) | 0), "agent capabilities");
  setCaps();
  refreshCaps = setCaps;
  // Adapters: copied in and their links built once; the agent attaches a task's at its start.
  for (const ad of init.adapters) {
    const held = engine.holdAdapter(ad.bytes);
    const id = Buffer.from(ad.id);
    check(x.agentAddAdapter(engine.copyIn(id), id.length, held), `adapter ${ad.id}`);
  }
  // Commands tasks: the compiled grammar stays in linear memory; the agent prepares its tables once.
  if (init.commandGrammar) {
    const g = init.commandGrammar;
    check(x.grammarLoad(engine.copyIn(g), g.length), "command grammar");
    check(x.agentServeCommands(), "commands");
  }
  inbox = x.alloc(INBOX_BYTES);
  topicBuf = x.alloc(TOPIC_BYTES);
  nameBuf = x.alloc(NAME_BYTES);
  const sub = check(x.agentSubscription(topicBuf, TOPIC_BYTES), "agent subscription");
  const subscription = text(topicBuf, sub);
  const will = check(x.agentWill(topicBuf, TOPIC_BYTES, inbox, INBOX_BYTES), "agent will");
  const willTopic = text(topicBuf, will >>> 16);
  const willPayload = new Uint8Array(x.memory.buffer, inbox, will & 0xffff).slice();
  post({ type: "ready", tokPerSec, ctx: engine.info.ctx, vocab: engine.info.vocabSize, memoryBytes: engine.memoryBytes, subscription, willTopic, willPayload });
} catch (e) {
  post({ type: "fatal", error: (e as Error).message });
  throw e;
}

// ---- the tick loop ----------------------------------------------------------------------

let timer: NodeJS.Timeout | null = null;
let immediate: NodeJS.Immediate | null = null;
let stopped = false;
let lastRunning = "";
let lastHeld = 0;

// After every call into the agent: report a newly started task and a changed held count.
function observe(): void {
  const n = x.agentRunning(nameBuf, NAME_BYTES);
  const running = n > 0 ? text(nameBuf, n) : "";
  if (running !== lastRunning) {
    lastRunning = running;
    if (running) post({ type: "started", taskId: running });
  }
  const held = x.agentHeld();
  if (held !== lastHeld) { lastHeld = held; post({ type: "held", held }); }
}

function schedule(waitMs: number): void {
  if (stopped) return;
  if (timer) { clearTimeout(timer); timer = null; }
  if (waitMs <= 0) { if (!immediate) immediate = setImmediate(tick); }
  else if (!immediate) timer = setTimeout(tick, waitMs);
}

function tick(): void {
  immediate = null; timer = null;
  if (stopped) return;
  const wait = check(x.agentTick(now(), MAX_POSITIONS), "agent tick");
  observe();
  schedule(wait);
}

parentPort!.on("message", (m: RunnerIn) => {
  if (stopped) return;
  switch (m.type) {
    case "message": {
      const t = Buffer.from(m.topic, "utf8");
      // Over the limits the agent refuses a topic or payload by its length alone, unread.
      if (t.length <= TOPIC_BYTES) new Uint8Array(x.memory.buffer, topicBuf, t.length).set(t);
      if (m.payload.length <= INBOX_BYTES) new Uint8Array(x.memory.buffer, inbox, m.payload.length).set(m.payload);
      const rc = x.agentMessage(topicBuf, t.length, inbox, m.payload.length, now()); // a refusal is logged by the agent
      if (rc === E_DUPLICATE_ID) {
        stopped = true;
        post({ type: "fatal", error: `another process is online as peer ${init.agent.id} (it connected first): give each peer its own --id` });
        break;
      }
      observe();
      schedule(0);
      break;
    }
    case "connected":
      connected = true;
      refreshCaps(); // freeMem as of now
      check(x.agentConnected(now()), "agent connected");
      schedule(0);
      break;
    case "offline":
      connected = false;
      break;
    case "shutdown":
      stopped = true;
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      x.agentShutdown();
      post({ type: "shutdown" });
      break;
    default: {
      const never: never = m;
      throw new Error(`unknown runner message ${JSON.stringify(never)}`);
    }
  }
});
