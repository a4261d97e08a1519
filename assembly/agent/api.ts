// The agent's exports (wrapped one-to-one in assembly/index.ts; docs/module-abi.md): argument
// checks at the boundary, then the one Agent of this module instance.
import * as E from "../core/errors";
import { fitsFrom } from "../core/memory-cap";
import { runtime } from "../model/runtime";
import { Agent, MAX_QUEUE, namesOk } from "./peer";
import { FEDERATED } from "./features";

let agent: Agent | null = null;

export function init(fleet: usize, fleetLen: i32, id: usize, idLen: i32, maxQueue: i32, heartbeatMs: i32, flushMs: i32): i32 {
  if (agent != null) return E.E_ARGUMENT; // once per module instance: its buffers are never freed
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const s = rt.state;
  if (s == null) return E.E_NO_MODEL;
  const t = rt.tokenizer;
  if (t == null) return E.E_NO_TOKENIZER;
  if (!namesOk(fleet, fleetLen, id, idLen)) return E.E_NAME;
  if (maxQueue < 1 || maxQueue > MAX_QUEUE || heartbeatMs < 1 || flushMs < 0) return E.E_ARGUMENT;
  // The heap's top: a probe (one 16-byte block, once) returns its block's payload address; the
  // allocator's offset then sits 12 bytes further (4-byte header + 16-byte rounding).
  const top = heap.alloc(0) + 12;
  const need = Agent.heapBytes(s.ctx, maxQueue, t.maxTokenLength);
  if (!fitsFrom(top, need)) return E.E_OUT_OF_MEMORY;
  const a = new Agent(rt, s.ctx, fleet, fleetLen, id, idLen, maxQueue, heartbeatMs, flushMs);
  // The accounting must be exact: the next block starts where the agent's last one ended.
  assert(<i64>(heap.alloc(0) - 4 - top) == need, "agent heap accounting");
  agent = a;
  return E.OK;
}

export function setCapabilities(modelId: usize, modelIdLen: i32, impl: usize, implLen: i32, tokPerSec: f32, freeMem: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  return a.setCapabilities(modelId, modelIdLen, impl, implLen, tokPerSec, <u32>freeMem);
}

// The process's presence nonce (lower-case hex, 1-16 digits), before agentConnected: written in
// its status, it tells this process's presence from another one's with the same id.
export function setNonce(nonce: usize, n: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  return a.setNonce(nonce, n);
}

// Held adapter `heldIndex` (adapterHold) announced as id[n] (^[A-Za-z0-9_.-]{1,128}$): after
// init, before connected. Its entry in the agent's list, or E_NAME / E_ARGUMENT / E_OUT_OF_MEMORY.
export function addAdapter(id: usize, n: i32, heldIndex: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  return a.addAdapter(id, n, heldIndex);
}

// Serve commands tasks with the grammar loaded by grammarLoad: after init, before connected.
// E_NO_GRAMMAR (none loaded), E_OUT_OF_MEMORY.
export function serveCommands(): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  return a.serveCommands();
}

export function subscription(out: usize, cap: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  const n = a.subscription(out, cap);
  return n < 0 ? E.E_ARGUMENT : n;
}

// (topicLen << 16) | payloadLen; the topic is NUL-terminated when there is room.
export function will(topicOut: usize, topicCap: i32, payloadOut: usize, payloadCap: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  const tn = a.willTopic(topicOut, topicCap);
  if (tn < 0) return E.E_ARGUMENT;
  const pn = a.willPayload(payloadOut, payloadCap);
  if (pn < 0) return E.E_ARGUMENT;
  return (tn << 16) | pn;
}

export function connected(now: f64): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  a.connected(now);
  return E.OK;
}

export function message(topic: usize, topicLen: i32, payload: usize, payloadLen: i32, now: f64): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  return a.message(topic, topicLen, payload, payloadLen, now);
}

export function reason(out: usize, cap: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  const w = a.why;
  const n = min(w.n, max(cap, 0));
  memory.copy(out, w.buf, <usize>n);
  return n;
}

export function tick(now: f64, maxPositions: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  return a.tick(now, maxPositions);
}

export function shutdown(): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  a.shutdown();
  return E.OK;
}

export function held(): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  return a.held();
}

export function running(out: usize, cap: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  return a.runningId(out, cap);
}


// Take part in federated MeZO rounds with `examples` examples (env.exRead), each at most
// textCap bytes of sentence and label: after init and setNonce, before connected.
export function trainer(examples: i32, textCap: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  if (examples < 1 || textCap < 2 || textCap > 65535) return E.E_ARGUMENT;
  return a.trainer(examples, textCap);
}

export function trainerFilter(which: i32, out: usize, cap: i32): i32 {
  const a = agent;
  if (a == null) return E.E_NO_AGENT;
  const n = a.trainerFilter(which, out, cap);
  return n < 0 ? E.E_ARGUMENT : n;
}
