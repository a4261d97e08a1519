// The device side of the fleet protocol (docs/protocol.md §4 "Peer"), the same code on every
// peer (Node under V8, the firmware under wasm3). The host gives it the received messages and
// the time and calls tick(); it publishes through env.mqttPublish. State machine per task:
//
//   task ─► queued ─(FIFO, one at a time)─► running ─► result done/failed
//             │ cancel / deadline              │ cancel / deadline (checked before each position)
//             ▼                                ▼
//        result cancelled/expired        result cancelled/expired (with the output so far)
//
// Every buffer is allocated once by the constructor (the heap is a bump allocator that never
// frees), so serving any number of tasks leaves linear memory as it was.
import * as E from "../core/errors";
import { Runtime } from "../model/runtime";
import { base64Len } from "./base64";
import { blockBytes, objectBytes } from "../core/heap";
import { GEN_CANCELLED, GEN_DONE, GEN_EXPIRED, GEN_MORE, GEN_OVERFLOW, Generation } from "../gen/generation";
import { PromptEncoder, taskOutCap } from "./prompt";
import { agentLog, mqttPublish, QOS0, QOS1, RETAIN } from "./host";
import { Utf8Step, utf8Valid } from "./json";
import {
  Capabilities, Inbound, isNonce, MAX_NONCE_BYTES, STATUS_BASE_BYTES, MAX_REASON_CHARS, PRESENCE_EARLIER, PRESENCE_OTHER, PRESENCE_OURS, writeAccept, writeHeartbeatHead, writeHeartbeatTail, writeHeartbeatTask,
  writeReject, writeResult, writeStatusOffline, writeStatusOnline, writeTokens,
} from "./messages";
import { isName, KIND_CANCEL, KIND_TASK, MAX_NAME, MAX_TOPIC_BYTES, parseInbox, writeFedFilter, writeInboxFilter, writePeerTopic } from "./topics";
import { FedClient } from "./fed-client";
import { FEDERATED } from "./features";

// Federated rounds (agentTrainer, a module built with FEDERATED): null when this peer does not
// train. A module global, not a field: the agent's layout stays the same in every build.
let fed: FedClient | null = null;
import { Writer } from "./writer";
import { AdapterSet, MAX_ADAPTERS } from "./adapters";
import { useHeld } from "../model/lora";
import { fits } from "../core/memory-cap";
import { grammarAccepting, grammarMask, grammarSetInput } from "../grammar/api";
import { INPUT_CAP, normalizeCopyInput } from "../grammar/matcher";

export const MAX_QUEUE: i32 = 64;
// Tokens are streamed once this many bytes are waiting (or flushMs after the first of them).
const FLUSH_BYTES: i32 = 1024;
const TEXT_CAP: i32 = 512; // reasons and log lines
// Refused messages logged per second at most: a flood of bad input cannot flood the log.
const REFUSALS_LOGGED_PER_SECOND: i32 = 10;

// One held task (queued or running).
class Slot {
  used: bool = false;
  seq: u32 = 0;            // arrival order: the queue is FIFO
  taskId: usize = heap.alloc(<usize>MAX_NAME);
  taskIdLen: i32 = 0;
  attempt: u32 = 0;
  deadlineAt: f64 = 0;     // receipt nowMs + deadlineMs; 0: none
  steps: i32 = 0;
  temperature: f32 = 0;
  topp: f32 = 0;
  seed: u64 = 0;
  tokens: usize;           // i32 [ctx + 1] the prompt, tokenized on receipt (BOS first)
  nTokens: i32 = 0;
  promptBytes: i32 = 0;    // the prompt's UTF-8 length
  promptTooLong: bool = false; // more than 8·ctx bytes: fails when it would start, as generate() does
  cancelled: bool = false;
  commands: bool = false;  // a commands task: greedy, the grammar, output past the prompt only
  copyLen: i32 = -1;       // its copy input's length in the agent's copy buffer; -1: over INPUT_CAP
  adapter: i32 = -1;       // entry in the agent's AdapterSet; -1: none
  scale: f32 = 1;

  constructor(ctx: i32) { this.tokens = heap.alloc(<usize>(ctx + 1) << 2); }

  static heapBytes(ctx: i32): i64 { return objectBytes(offsetof<Slot>()) + blockBytes(MAX_NAME) + blockBytes((<i64>ctx + 1) * 4); }

  is(id: usize, n: i32): bool { return this.used && this.taskIdLen == n && memory.compare(this.taskId, id, <usize>n) == 0; }
}

export class Agent {
  fleet: usize = heap.alloc(<usize>MAX_NAME);
  fleetLen: i32;
  id: usize = heap.alloc(<usize>MAX_NAME);
  idLen: i32;
  maxQueue: i32;
  heartbeatMs: f64;
  flushMs: f64;
  ctx: i32;
  caps: Capabilities = new Capabilities();
  inbound: Inbound;
  slots: StaticArray<Slot>;
  gen: Generation;
  prompts: PromptEncoder;
  running: i32 = -1;        // slot index of the running task, -1: idle
  genStarted: bool = false; // the running task's generation began (a task failed before it has no output)
  startedAt: f64 = 0;
  sent: i32 = 0;            // output bytes already streamed as tokens
  pendingSince: f64 = -1;   // nowMs when the first unsent byte appeared; -1: none
  nextBeat: f64 = -1;       // nowMs of the next heartbeat; -1: not yet scheduled
  seq: u32 = 0;
  closed: bool = false;
  refusalWindow: f64 = -1e300; // nowMs when the current one-second logging window began
  refusalsLogged: i32 = 0;     // in that window
  refusalsQuiet: u32 = 0;      // refused since the last logged one, not logged
  // Presence (our retained status): restored when anything else shows up on its topic.
  nonce: usize = heap.alloc(<usize>MAX_NONCE_BYTES); // u8 [nonceLen] hex; 0 long: none set
  nonceLen: i32 = 0;
  since: f64 = -1;             // nowMs of the first connection (the order of two processes)
  restoreAt: f64 = 0;          // nowMs before which a restore waits (one a second)
  restorePending: bool = false;
  earlierSeen: i32 = 0;        // presences of an earlier process with our id seen
  // Adapters held (allocated by the first addAdapter) and the one attached now (entry, scale).
  adapters: AdapterSet | null = null;
  activeAdapter: i32 = -1;
  activeScale: f32 = 1;
  // Commands tasks (serveCommands): the loaded grammar, and each slot's copy input
  // (u8 [maxQueue][INPUT_CAP], normalized on receipt: the grammar holds one input at a time).
  commands: bool = false;
  copyInputs: usize = 0;
  topic: Writer = Writer.alloc(MAX_TOPIC_BYTES);
  msg: Writer;              // the outbound payload being built
  why: Writer = Writer.alloc(TEXT_CAP);  // last rejection reason
  line: Writer = Writer.alloc(TEXT_CAP); // log lines, result errors
  private utf8: Utf8Step = new Utf8Step();

  constructor(rt: Runtime, ctx: i32, fleet: usize, fleetLen: i32, id: usize, idLen: i32, maxQueue: i32, heartbeatMs: i32, flushMs: i32) {
    this.fleetLen = fleetLen;
    this.idLen = idLen;
    this.maxQueue = maxQueue;
    this.heartbeatMs = <f64>heartbeatMs;
    this.flushMs = <f64>flushMs;
    this.ctx = ctx;
    this.inbound = new Inbound(Generation.promptCap(ctx));
    const slots = new StaticArray<Slot>(maxQueue);
    for (let i = 0; i < maxQueue; i++) slots[i] = new Slot(ctx);
    this.slots = slots;
    const gen = new Generation(rt, ctx, taskOutCap(ctx, rt.tokenizer!.maxTokenLength), false);
    gen.blockLimit = 0x7fffffff; // batched prefill: tick() counts the positions a next() ran
    this.gen = gen;
    this.prompts = new PromptEncoder(rt, ctx);
    const cap = Agent.messageCap(gen.outCap, maxQueue, ctx);
    this.msg = Writer.alloc(cap);
    memory.copy(this.fleet, fleet, <usize>fleetLen);
    memory.copy(this.id, id, <usize>idLen);
    const c = this.caps;
    c.ctx = ctx;
    c.vocab = rt.config.vocabSize;
    c.quant = rt.weights.layerQuantName;
  }

  // The largest payload: a result carrying the whole output (base64) and an escaped error,
  // or a heartbeat listing maxQueue task ids; at least the tokenizer's scratch for the longest
  // prompt (PromptEncoder borrows this buffer while a received task is tokenized).
  static messageCap(outCap: i32, maxQueue: i32, ctx: i32): i32 {
    const resultBytes = base64Len(outCap) + 512 + 6 * MAX_REASON_CHARS;
    const beatBytes = 256 + maxQueue * (MAX_NAME + 3);
    return max(max(resultBytes, PromptEncoder.scratchBytes(ctx)), max(beatBytes, 2048));
  }

  // Exactly what the constructor allocates (agentInit checks it against the memory cap first).
  static heapBytes(ctx: i32, maxQueue: i32, maxTokenLength: i32): i64 {
    const outCap = taskOutCap(ctx, maxTokenLength);
    return objectBytes(offsetof<Agent>()) + 2 * blockBytes(MAX_NAME) + blockBytes(MAX_NONCE_BYTES) + Capabilities.heapBytes()
      + Writer.heapBytes(MAX_TOPIC_BYTES) + 2 * Writer.heapBytes(TEXT_CAP) + objectBytes(offsetof<Utf8Step>())
      + Inbound.heapBytes(Generation.promptCap(ctx))
      + objectBytes(<i64>maxQueue * 4) + <i64>maxQueue * Slot.heapBytes(ctx)
      + Generation.heapBytes(outCap) + PromptEncoder.heapBytes()
      + Writer.heapBytes(Agent.messageCap(outCap, maxQueue, ctx));
  }

  held(): i32 {
    let n = 0;
    for (let i = 0; i < this.maxQueue; i++) if (this.slots[i].used) n++;
    return n;
  }

  setCapabilities(modelId: usize, modelIdLen: i32, impl: usize, implLen: i32, tokPerSec: f32, freeMem: u32): i32 {
    if (modelIdLen < 1 || modelIdLen > 128 || implLen < 0 || implLen > 32) return E.E_ARGUMENT;
    if (!utf8Valid(modelId, modelIdLen, this.utf8) || !utf8Valid(impl, implLen, this.utf8)) return E.E_ARGUMENT;
    const c = this.caps;
    memory.copy(c.modelId, modelId, <usize>modelIdLen);
    c.modelIdLen = modelIdLen;
    memory.copy(c.impl, impl, <usize>implLen);
    c.implLen = implLen;
    c.tokPerSec = tokPerSec >= 0 && tokPerSec < 1e9 ? <f64>tokPerSec : 0; // NaN, negative → 0
    c.freeMem = freeMem;
    return E.OK;
  }

  // Adapter `heldIndex` (model/lora.ts) announced as id[n]: its entry, or an error. Before
  // agentConnected: the status announces the list. The message buffer grows (once, at start) when
  // a status with the list would not fit it.
  addAdapter(id: usize, n: i32, heldIndex: i32): i32 {
    if (this.adapters == null) {
      if (!fits(objectBytes(offsetof<AdapterSet>()) + 3 * objectBytes(<i64>MAX_ADAPTERS * 4))) return E.E_OUT_OF_MEMORY;
      this.adapters = new AdapterSet();
    }
    const set = this.adapters!;
    const r = set.add(id, n, heldIndex);
    if (r < 0) return r;
    const need = STATUS_BASE_BYTES + set.jsonBytes();
    if (need > this.msg.cap) {
      if (!fits(Writer.heapBytes(need) + 64)) return E.E_OUT_OF_MEMORY;
      this.msg = Writer.alloc(need);
    }
    return r;
  }

  // Serves commands tasks with the loaded grammar (grammarLoad first): the status announces
  // taskTypes ["commands"]. Before agentConnected. Allocates, once, a copy input per slot, the
  // generation's mask and the grammar's token pieces (built here by one mask, not while serving).
  serveCommands(): i32 {
    if (this.commands) return E.OK;
    const g = grammarAccepting();
    if (g < 0) return g; // no grammar loaded
    const rt = this.gen.rt, t = rt.tokenizer!;
    const need = <i64>this.maxQueue * INPUT_CAP + <i64>t.vocabSize * (6 + <i64>t.maxTokenLength) + 1024;
    if (!fits(need)) return E.E_OUT_OF_MEMORY;
    this.copyInputs = heap.alloc(<usize>this.maxQueue * <usize>INPUT_CAP);
    let r = this.gen.constrain(true);
    if (r >= 0) r = grammarMask(this.gen.mask);
    this.gen.constrain(false);
    if (r < 0) return r;
    this.commands = true;
    return E.OK;
  }

  // Takes part in federated MeZO rounds (fed-client.ts) with `examples` examples the host
  // reads out through env.exRead, none longer than textCap bytes: after init, before connected.
  trainer(examples: i32, textCap: i32): i32 {
    if (FEDERATED) { // (a constant: the other build compiles none of this)
      if (fed != null) return E.E_ARGUMENT;
      const rt = this.gen.rt;
      const need = FedClient.heapBytes(textCap) + (this.msg.cap < FedClient.messageCap() ? Writer.heapBytes(FedClient.messageCap()) : 0) + 64;
      if (!fits(need)) return E.E_OUT_OF_MEMORY;
      if (this.msg.cap < FedClient.messageCap()) this.msg = Writer.alloc(FedClient.messageCap());
      fed = new FedClient(rt, this.ctx, this.fleet, this.fleetLen, this.id, this.idLen, examples, textCap, this.msg, rt.checksum);
      return E.OK;
    }
    return E.E_NO_TRAINER;
  }

  // ---- publishing ---------------------------------------------------------------------

  private publish(kind: string, flags: i32): void {
    const t = writePeerTopic(this.topic.reset(), this.fleet, this.fleetLen, this.id, this.idLen, kind);
    if (this.msg.overflow || t.overflow) { this.log(this.line.reset().ascii("bug: ").ascii(kind).ascii(" message does not fit its buffer")); return; }
    mqttPublish(t.buf, t.n, this.msg.buf, this.msg.n, flags);
  }

  private log(w: Writer): void { agentLog(w.buf, w.n); }

  statusOnline(now: f64): void {
    writeStatusOnline(this.msg.reset(), this.id, this.idLen, now, this.caps, this.held(), this.maxQueue, this.nonce, this.nonceLen, this.since, this.adapters, this.commands);
    this.publish("status", QOS1 | RETAIN);
  }

  // The offline status: the last will, and what a graceful stop publishes itself.
  statusOffline(w: Writer): void { writeStatusOffline(w, this.id, this.idLen); }

  private heartbeat(now: f64): void {
    const w = this.msg.reset();
    writeHeartbeatHead(w, this.id, this.idLen, now, this.held());
    let first = true;
    // The queued tasks (in slot order: the protocol gives the list no order), then the running one.
    for (let i = 0; i < this.maxQueue; i++) {
      const s = this.slots[i];
      if (s.used && i != this.running) { writeHeartbeatTask(w, first, s.taskId, s.taskIdLen); first = false; }
    }
    if (this.running >= 0) { const s = this.slots[this.running]; writeHeartbeatTask(w, first, s.taskId, s.taskIdLen); }
    writeHeartbeatTail(w);
    this.publish("heartbeat", QOS0);
  }

  private result(s: Slot, status: string, data: usize, n: i32, tokens: i32, elapsedMs: f64, error: Writer | null): void {
    writeResult(this.msg.reset(), s.taskId, s.taskIdLen, s.attempt, status, data, n, <u32>tokens, elapsedMs,
      error != null ? error.buf : 0, error != null ? error.n : 0);
    this.publish("result", QOS1);
  }

  // ---- inbound ------------------------------------------------------------------------

  // One received message; E.OK when handled (answered, or a cancel of nothing held), else
  // E_REJECTED with the reason in `why` and one log line.
  message(topic: usize, topicLen: i32, payload: usize, payloadLen: i32, now: f64): i32 {
    const why = this.why.reset();
    if (this.closed) return this.reject(why.ascii("the agent has shut down"), now);
    if (topicLen < 0 || topicLen > MAX_TOPIC_BYTES) {
      return this.reject(why.ascii("topic of ").i32(topicLen).ascii(" bytes is over the ").i32(MAX_TOPIC_BYTES).ascii("-byte limit"), now);
    }
    if (this.isOwnStatusTopic(topic, topicLen)) return this.onPresence(payload, payloadLen, now);
    const kind = parseInbox(topic, topicLen, this.fleet, this.fleetLen, this.id, this.idLen, why);
    if (kind < 0) return this.reject(why, now);
    why.reset().bytes(topic, topicLen);
    if (FEDERATED) {
      if (kind != KIND_TASK && kind != KIND_CANCEL) {
        const f = fed;
        if (f == null) return this.reject(why.ascii(": this peer does not train (federated rounds)"), now);
        if (payloadLen < 0 || f.inbound.decode(kind, payload, payloadLen, this.id, this.idLen, why) < 0) return this.reject(why, now);
        why.reset();
        f.onMessage(kind, now);
        return E.OK;
      }
    }
    if (payloadLen < 0 || this.inbound.decode(kind, payload, payloadLen, why) < 0) return this.reject(why, now);
    why.reset();
    if (kind == KIND_TASK) this.onTask(now); else this.onCancel();
    return E.OK;
  }

  // ---- presence -----------------------------------------------------------------------
  // The host subscribes our status topic too (agentWill's topic). Whatever shows up there that
  // is not our own online presence (garbage, an offline status, an old session's, another
  // process's) is overwritten with ours at once, at most once a second, with a log line, so no
  // retained message can hide this peer. Another process online with our id (a different nonce)
  // is the duplicate: the one that connected later stops (E_DUPLICATE_ID) when it sees the
  // earlier one's presence a second time; once could be a stale retained status.

  setNonce(nonce: usize, n: i32): i32 {
    if (!isNonce(nonce, n)) return E.E_ARGUMENT;
    memory.copy(this.nonce, nonce, <usize>n);
    this.nonceLen = n;
    return E.OK;
  }

  private isOwnStatusTopic(topic: usize, n: i32): bool {
    const t = writePeerTopic(this.topic.reset(), this.fleet, this.fleetLen, this.id, this.idLen, "status");
    return t.n == n && memory.compare(t.buf, topic, <usize>n) == 0;
  }

  private onPresence(p: usize, n: i32, now: f64): i32 {
    if (this.closed) return E.OK;
    const what = this.inbound.presence(p, n, this.nonce, this.nonceLen, this.since);
    if (what == PRESENCE_OURS) return E.OK;
    if (what == PRESENCE_EARLIER && ++this.earlierSeen >= 2) {
      this.log(this.line.reset().ascii("another process has been online as peer ").bytes(this.id, this.idLen)
        .ascii(" since before this one (its presence is not ours): stopping; give each peer its own --id"));
      return E.E_DUPLICATE_ID;
    }
    const l = this.line.reset().ascii("presence: ").ascii(what == PRESENCE_OTHER ? "a status that is not ours" : "another process's status")
      .ascii(" is on our status topic; restoring ours");
    if (now >= this.restoreAt) this.restore(now, l);
    else if (!this.restorePending) { this.restorePending = true; this.log(l.ascii(" within a second")); }
    return E.OK;
  }

  private restore(now: f64, l: Writer): void {
    this.restorePending = false;
    this.restoreAt = now + 1000;
    this.log(l);
    this.statusOnline(now);
  }

  // A refused message: one log line.
  private reject(why: Writer, now: f64): i32 {
    this.logRefusal(this.line.reset().ascii("ignored message: ").bytes(why.buf, why.n), now);
    return E.E_REJECTED;
  }

  // Lines about refused messages and rejected tasks: at most REFUSALS_LOGGED_PER_SECOND a
  // second, the next logged line counting the ones left out, so a flood cannot flood the log.
  private logRefusal(l: Writer, now: f64): void {
    if (now - this.refusalWindow >= 1000 || now < this.refusalWindow) { this.refusalWindow = now; this.refusalsLogged = 0; }
    if (this.refusalsLogged >= REFUSALS_LOGGED_PER_SECOND) { this.refusalsQuiet++; return; }
    this.refusalsLogged++;
    if (this.refusalsQuiet > 0) { l.ascii(" (and ").u32(this.refusalsQuiet).ascii(" more not logged)"); this.refusalsQuiet = 0; }
    this.log(l);
  }

  private find(id: usize, n: i32): i32 {
    for (let i = 0; i < this.maxQueue; i++) if (this.slots[i].is(id, n)) return i;
    return -1;
  }

  private onTask(now: f64): void {
    const t = this.inbound.task;
    const same = this.find(t.taskId, t.taskIdLen);
    if (same >= 0) {
      // The gateway gave it to us again (a reassignment back, or a new gateway): keep the
      // work, answer under the new attempt.
      this.slots[same].attempt = t.attempt;
      writeAccept(this.msg.reset(), t.taskId, t.taskIdLen, t.attempt);
      this.publish("accept", QOS1);
      return;
    }
    const held = this.held();
    if (held >= this.maxQueue) {
      this.answerReject(this.line.reset().ascii("queue full (").i32(this.maxQueue).byte(0x29), now);
      return;
    }
    if (t.steps > this.ctx) {
      this.answerReject(this.line.reset().ascii("steps ").i32(t.steps).ascii(" exceed context ").i32(this.ctx), now);
      return;
    }
    let adapter = -1;
    if (t.adapterLen > 0) {
      const set = this.adapters;
      adapter = set != null ? set.find(t.adapter, t.adapterLen) : -1;
      if (adapter < 0) {
        this.answerReject(this.line.reset().ascii("adapter '").bytes(t.adapter, t.adapterLen).ascii("' is not held by this peer"), now);
        return;
      }
    }
    if (t.commands && !this.commands) {
      this.answerReject(this.line.reset().ascii("commands tasks are not served by this peer"), now);
      return;
    }
    let free = 0;
    while (this.slots[free].used) free++;
    const s = this.slots[free];
    memory.copy(s.taskId, t.taskId, <usize>t.taskIdLen);
    s.taskIdLen = t.taskIdLen;
    s.attempt = t.attempt;
    s.deadlineAt = t.deadlineMs > 0 ? now + <f64>t.deadlineMs : 0;
    s.steps = t.steps;
    s.temperature = t.temperature;
    s.topp = t.topp;
    s.seed = t.seed;
    s.cancelled = false;
    s.adapter = adapter;
    s.scale = t.scale;
    s.promptBytes = t.promptBytes;
    s.promptTooLong = t.promptBytes > t.promptCap;
    s.nTokens = 0;
    s.commands = t.commands;
    let promptLen = t.promptBytes;
    if (t.commands && !s.promptTooLong) promptLen = this.commandPrompt(t.prompt, t.promptBytes, t.promptCap, s, free);
    if (!s.promptTooLong) {
      const n = this.prompts.encode(t.prompt, promptLen, s.tokens, this.msg.buf, this.msg.cap); // msg is free until the answer
      if (n < 1) { // no tokenizer (agentInit checks it): answer instead of holding a task it cannot run
        this.answerReject(this.line.reset().ascii("cannot tokenize the prompt (error ").i32(n).byte(0x29), now);
        return;
      }
      s.nTokens = n;
    }
    s.used = true;
    s.seq = ++this.seq;
    writeAccept(this.msg.reset(), t.taskId, t.taskIdLen, t.attempt);
    this.publish("accept", QOS1);
  }

  // A commands task's prompt, as host/commands/prompt.ts writes it: the sentence trimmed of
  // ASCII white space, then "\n", rewritten in place in p[cap]; its length. The sentence's copy
  // input goes to slot `index`'s buffer (copyLen -1: over INPUT_CAP; 0 words: an empty sentence,
  // both failed when the task would start). A prompt with no room for the "\n" is too long.
  private commandPrompt(p: usize, n: i32, cap: i32, s: Slot, index: i32): i32 {
    let a = 0, b = n;
    while (a < b && isSpace(load<u8>(p + <usize>a))) a++;
    while (b > a && isSpace(load<u8>(p + <usize>(b - 1)))) b--;
    const len = b - a;
    if (a > 0) memory.copy(p, p + <usize>a, <usize>len);
    const r = normalizeCopyInput(p, len, this.copyInputs + <usize>index * <usize>INPUT_CAP, 0);
    s.copyLen = r < 0 ? -1 : r & 0xffff;
    if (len == 0) s.copyLen = 0;
    if (len + 1 > cap) { s.promptTooLong = true; s.promptBytes = len + 1; return 0; }
    store<u8>(p + <usize>len, 0x0a);
    s.promptBytes = len + 1;
    return len + 1;
  }

  private answerReject(reason: Writer, now: f64): void {
    const t = this.inbound.task;
    writeReject(this.msg.reset(), t.taskId, t.taskIdLen, t.attempt, reason);
    this.publish("reject", QOS1);
    this.logRefusal(this.why.reset().ascii("rejected task ").bytes(t.taskId, t.taskIdLen).ascii(": ").bytes(reason.buf, reason.n), now);
    this.why.reset();
  }

  private onCancel(): void {
    const c = this.inbound.cancel;
    const i = this.find(c.taskId, c.taskIdLen);
    if (i < 0) return; // nothing held: already done, or never here
    const s = this.slots[i];
    if (i != this.running) {
      this.log(this.line.reset().ascii("task ").bytes(s.taskId, s.taskIdLen).ascii(" cancelled while queued: ").bytes(c.reason, c.reasonLen));
      this.result(s, "cancelled", 0, 0, 0, 0, null);
      s.used = false;
      return;
    }
    if (!s.cancelled) {
      s.cancelled = true;
      this.gen.cancel(); // stops before its next position
      this.log(this.line.reset().ascii("task ").bytes(s.taskId, s.taskIdLen).ascii(" cancelled while running: ").bytes(c.reason, c.reasonLen));
    }
  }

  // ---- work ---------------------------------------------------------------------------

  connected(now: f64): void {
    if (this.closed) return;
    if (this.since < 0) this.since = now;
    this.statusOnline(now);
    if (this.nextBeat < 0) this.nextBeat = now + this.heartbeatMs;
    if (FEDERATED) { const f = fed; if (f != null) f.connected(now, this.nonce, this.nonceLen); }
  }

  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.statusOffline(this.msg.reset());
    this.publish("status", QOS1 | RETAIN);
    if (FEDERATED) { const f = fed; if (f != null) f.shutdown(); }
  }

  // Heartbeat, deadlines of queued tasks, then up to maxPositions positions of generation
  // (starting queued tasks as the running one ends). Returns 0 when there is more work now,
  // else the milliseconds until the next heartbeat.
  tick(now: f64, maxPositions: i32): i32 {
    if (this.closed) return 1 << 30;
    if (this.nextBeat < 0) this.nextBeat = now + this.heartbeatMs;
    if (now >= this.nextBeat) {
      this.heartbeat(now);
      this.nextBeat += this.heartbeatMs;
      if (this.nextBeat <= now) this.nextBeat = now + this.heartbeatMs; // after a stall: no burst
    }
    this.expireQueued(now);
    if (this.restorePending && now >= this.restoreAt) this.restore(now, this.line.reset().ascii("presence: restored"));
    let positions = 0;
    for (;;) {
      if (this.running < 0 && !this.startNext(now)) break;
      if (positions >= maxPositions) break;
      const s = this.slots[this.running];
      const before = this.gen.pos;
      const r = this.gen.next(now);
      if (r == GEN_CANCELLED) { this.finish(now, "cancelled", null); continue; }
      if (r == GEN_EXPIRED) { this.finish(now, "expired", null); continue; }
      positions += max(1, this.gen.pos - before); // a prefill block runs several
      if (r == GEN_MORE || r == GEN_DONE) {
        const unsent = this.gen.outLen - this.sent;
        if (unsent >= FLUSH_BYTES) this.flush();
        else if (unsent > 0 && this.pendingSince < 0) this.pendingSince = now;
        if (r == GEN_DONE) this.finish(now, "done", null);
      } else if (r == GEN_OVERFLOW) {
        this.finish(now, "failed", this.line.reset().ascii("output of more than ").i32(this.gen.outCap).ascii(" bytes is over the message limit"));
      } else {
        this.finish(now, "failed", this.line.reset().ascii("forward pass failed (error ").i32(r).byte(0x29));
      }
    }
    if (this.pendingSince >= 0 && now - this.pendingSince >= this.flushMs) this.flush();
    if (this.running >= 0 || this.held() > 0) return 0;
    // Federated work only while no task is held: a step runs the forward pass from position 0.
    if (FEDERATED) {
      const f = fed;
      if (f != null) {
        if (f.work(now)) this.activeAdapter = -1; // a step detached every adapter
        if (f.busy()) return 0;
      }
    }
    const wait = Math.ceil(this.nextBeat - now);
    return wait < 1 ? 1 : <i32>min(wait, this.heartbeatMs);
  }

  private expireQueued(now: f64): void {
    for (let i = 0; i < this.maxQueue; i++) {
      const s = this.slots[i];
      if (s.used && i != this.running && s.deadlineAt != 0 && now > s.deadlineAt) {
        this.result(s, "expired", 0, 0, 0, 0, null);
        s.used = false;
      }
    }
  }

  // Starts the oldest queued task; false when none is queued.
  private startNext(now: f64): bool {
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.maxQueue; i++) {
        const s = this.slots[i];
        if (s.used && (best < 0 || s.seq < this.slots[best].seq)) best = i;
      }
      if (best < 0) return false;
      const s = this.slots[best];
      this.running = best;
      this.startedAt = now;
      this.sent = 0;
      this.pendingSince = -1;
      this.genStarted = false;
      if (s.promptTooLong) {
        const cap = this.inbound.task.promptCap;
        this.finish(now, "failed", this.line.reset().ascii("prompt is ").i32(s.promptBytes).ascii(" bytes; at most ")
          .i32(cap).ascii(" fit a context of ").i32(this.ctx).ascii(" positions"));
        continue;
      }
      if (s.commands && s.copyLen <= 0) {
        this.finish(now, "failed", s.copyLen == 0 ? this.line.reset().ascii("empty sentence")
          : this.line.reset().ascii("the sentence's words are over the ").i32(INPUT_CAP).ascii(" bytes the command grammar copies from"));
        continue;
      }
      this.useAdapter(s.adapter, s.scale);
      if (s.commands) {
        // As `edgellm commands`: greedy, the grammar copying from the sentence, ending at the newline.
        this.gen.rt.sampler.configure(0, 1, 0);
        grammarSetInput(this.copyInputs + <usize>best * <usize>INPUT_CAP, s.copyLen); // normalized on receipt: fits
      } else {
        this.gen.rt.sampler.configure(s.temperature, s.topp, s.seed);
      }
      this.gen.constrain(s.commands);
      this.gen.echoPrompt = !s.commands;
      this.gen.start(s.tokens, s.nTokens, s.steps);
      this.genStarted = true;
      this.gen.deadlineAt = s.deadlineAt;
      return true;
    }
    return false; // unreachable
  }

  // The task's adapter attached (or none), unless it already is: the base stays loaded, the
  // held links are re-pointed (model/lora.ts useHeld), nothing is allocated.
  private useAdapter(entry: i32, scale: f32): void {
    if (entry == this.activeAdapter && (entry < 0 || scale == this.activeScale)) return;
    const held = entry >= 0 ? this.adapters!.held[entry] : -1;
    useHeld(held, scale); // entries and scales were checked on receipt: it cannot refuse them
    this.activeAdapter = entry;
    this.activeScale = scale;
  }

  // Streams the output not yet sent as one tokens message (QoS 0: the result carries it all).
  private flush(): void {
    this.pendingSince = -1;
    const g = this.gen;
    if (this.running < 0 || g.outLen == this.sent) return;
    const s = this.slots[this.running];
    writeTokens(this.msg.reset(), s.taskId, s.taskIdLen, s.attempt, <u32>this.sent, g.out + <usize>this.sent, g.outLen - this.sent);
    this.publish("tokens", QOS0);
    this.sent = g.outLen;
  }

  private finish(now: f64, status: string, error: Writer | null): void {
    const s = this.slots[this.running];
    const g = this.gen;
    const started = this.genStarted;
    if (started) this.flush();
    const n = started ? g.outLen : 0;
    this.result(s, status, g.out, n, started ? g.pos : 0, now - this.startedAt, error);
    s.used = false;
    this.running = -1;
    this.pendingSince = -1;
  }

  // The running task's id into out[cap]; its length, 0 when idle.
  runningId(out: usize, cap: i32): i32 {
    if (this.running < 0) return 0;
    const s = this.slots[this.running];
    if (s.taskIdLen > cap) return E.E_ARGUMENT;
    memory.copy(out, s.taskId, <usize>s.taskIdLen);
    return s.taskIdLen;
  }

  willTopic(out: usize, cap: i32): i32 {
    return writePeerTopic(this.topic.reset(), this.fleet, this.fleetLen, this.id, this.idLen, "status").copyTo(out, cap);
  }

  willPayload(out: usize, cap: i32): i32 {
    const w = this.msg.reset();
    this.statusOffline(w);
    return w.copyTo(out, cap);
  }

  // The trainer's subscriptions (which 0: announcements, 1: its inbox); -1 when it does not train.
  trainerFilter(which: i32, out: usize, cap: i32): i32 {
    if (FEDERATED) {
      if (fed == null || which < 0 || which > 1) return -1;
      return writeFedFilter(this.topic.reset(), which, this.fleet, this.fleetLen, this.id, this.idLen).copyTo(out, cap);
    }
    return -1;
  }

  subscription(out: usize, cap: i32): i32 {
    return writeInboxFilter(this.topic.reset(), this.fleet, this.fleetLen, this.id, this.idLen).copyTo(out, cap);
  }
}

// Validates agentInit's names: ^[A-Za-z0-9_-]{1,64}$.
export function namesOk(fleet: usize, fleetLen: i32, id: usize, idLen: i32): bool {
  return isName(fleet, fleetLen) && isName(id, idLen);
}

// ASCII white space, as the label tools trim it.
@inline function isSpace(c: u8): bool { return c == 0x20 || (c >= 0x09 && c <= 0x0d); }
