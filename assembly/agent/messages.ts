// The peer's side of the message codec (docs/protocol.md §3): the two inbound kinds (task,
// cancel) checked exactly as host/fleet/schemas.ts checks them, with reasons worded as ajv
// words them, and writers for the six outbound kinds. Everything works in buffers allocated
// once by the constructor.
import { blockBytes, objectBytes } from "../core/heap";
import { FlatObject, J_NUMBER, J_STRING, J_TRUE, JSON_NOT_OBJECT, JSON_OK, JSON_SYNTAX } from "./json";
import { isName, KIND_CANCEL, KIND_TASK, MAX_NAME } from "./topics";
import { Writer } from "./writer";
import { AdapterSet, isAdapterId, MAX_ADAPTER_ID } from "./adapters";

export const PROTOCOL_VERSION: i32 = 1;
export const MAX_PAYLOAD_BYTES: i32 = 65536;   // any message; checked before parsing
export const MAX_PROMPT_CHARS: i32 = 8192;     // the schema's maxLength (JavaScript code points)
export const MAX_DATA_CHARS: i32 = 60000;      // base64 characters of generated text in one message
export const MAX_REASON_CHARS: i32 = 256;      // reject/cancel reason, result error
export const MAX_ADAPTER_SCALE: f64 = 100;     // |scale| of a task's adapter

// Members of task and cancel, in the schemas' property order (ajv reports the first failing).
const F_V = 0, F_KIND = 1, F_TASK_ID = 2, F_ATTEMPT = 3, F_LEASE = 4, F_DEADLINE = 5, F_PROMPT = 6,
  F_STEPS = 7, F_TEMPERATURE = 8, F_TOPP = 9, F_SEED = 10, F_REASON = 11, F_ONLINE = 12, F_NONCE = 13, F_SINCE = 14,
  F_ADAPTER = 15, F_SCALE = 16, F_TASK = 17;
const FIELD_NAMES: StaticArray<string> = ["v", "kind", "taskId", "attempt", "leaseMs", "deadlineMs", "prompt", "steps", "temperature", "topp", "seed", "reason", "online", "nonce", "since", "adapter", "scale", "task"];
const KINDS: StaticArray<string> = ["status", "heartbeat", "accept", "reject", "tokens", "result", "task", "cancel", "submit", "gateway", "queued", "reply"];
const TASK_REQUIRED: StaticArray<i32> = [F_TASK_ID, F_ATTEMPT, F_LEASE, F_DEADLINE, F_PROMPT, F_STEPS, F_TEMPERATURE, F_TOPP, F_SEED];

export class TaskMsg {
  taskId: usize = heap.alloc(<usize>MAX_NAME);
  taskIdLen: i32 = 0;
  attempt: u32 = 0;
  leaseMs: i32 = 0;
  deadlineMs: i32 = 0;  // time left at receipt; 0: none
  steps: i32 = 0;
  temperature: f32 = 0;
  topp: f32 = 0;
  seed: u64 = 0;
  prompt: usize;        // u8 [promptCap] UTF-8
  promptCap: i32;
  promptBytes: i32 = 0; // the whole prompt's UTF-8 length, even when over promptCap (then not all stored)
  adapter: usize = heap.alloc(<usize>MAX_ADAPTER_ID); // the adapter's id; adapterLen 0: none
  adapterLen: i32 = 0;
  scale: f32 = 1;
  commands: bool = false; // task "commands": the prompt is a sentence to label (docs/protocol.md §3)

  constructor(promptCap: i32) {
    this.promptCap = promptCap;
    this.prompt = heap.alloc(<usize>max(promptCap, 1));
  }

  static heapBytes(promptCap: i32): i64 {
    return objectBytes(offsetof<TaskMsg>()) + blockBytes(MAX_NAME) + blockBytes(MAX_ADAPTER_ID) + blockBytes(max(promptCap, 1));
  }
}

export class CancelMsg {
  taskId: usize = heap.alloc(<usize>MAX_NAME);
  taskIdLen: i32 = 0;
  reason: usize = heap.alloc(<usize>(MAX_REASON_CHARS * 4)); // 256 code points of UTF-8
  reasonLen: i32 = 0;

  static heapBytes(): i64 { return objectBytes(offsetof<CancelMsg>()) + blockBytes(MAX_NAME) + blockBytes(MAX_REASON_CHARS * 4); }
}

export class Inbound {
  obj: FlatObject = new FlatObject(FIELD_NAMES);
  task: TaskMsg;
  cancel: CancelMsg = new CancelMsg();
  private kindBuf: usize = heap.alloc(16);
  private nonceBuf: usize = heap.alloc(MAX_NONCE_BYTES);
  private seedBuf: usize = heap.alloc(24);

  constructor(promptCap: i32) { this.task = new TaskMsg(promptCap); }

  static heapBytes(promptCap: i32): i64 {
    return objectBytes(offsetof<Inbound>()) + FlatObject.heapBytes(FIELD_NAMES.length) + TaskMsg.heapBytes(promptCap)
      + CancelMsg.heapBytes() + blockBytes(16) + blockBytes(24) + blockBytes(MAX_NONCE_BYTES);
  }

  // Decodes payload p[n] received on a topic of kind topicKind (KIND_TASK / KIND_CANCEL) into
  // task or cancel; returns the kind, or -1 with the reason appended to `why` (which already
  // holds the topic). n over the limit is refused before a byte is read.
  decode(topicKind: i32, p: usize, n: i32, why: Writer): i32 {
    const o = this.obj;
    if (!openPayload(o, p, n, why)) return -1;
    let kind = -1; // index in KINDS
    if (o.type[F_KIND] == J_STRING) {
      const k = o.stringOf(F_KIND, this.kindBuf, 16);
      if (k <= 16) for (let i = 0; i < KINDS.length; i++) if (bytesEq(this.kindBuf, k, KINDS[i])) kind = i;
    }
    if (kind < 0) {
      why.ascii(": unknown kind ");
      if (o.has(F_KIND)) rawValue(why, o, F_KIND); else why.ascii("undefined");
      return -1;
    }
    const isTask = kind == 6, isCancel = kind == 7;
    if (isTask && !this.checkTask(why)) return -1;
    if (isCancel && !this.checkCancel(why)) return -1;
    const want = topicKind == KIND_TASK ? 6 : 7;
    if (kind != want) { why.ascii(": kind '").ascii(KINDS[kind]).ascii("' does not match the topic"); return -1; }
    return topicKind;
  }

  // What a payload on this peer's own status topic is, against its own presence (nonce[nonceLen],
  // online since `since`): PRESENCE_OURS (online with our nonce: ours, now or earlier),
  // PRESENCE_EARLIER / PRESENCE_LATER (online with another nonce: another process with our id,
  // started before / after us; ties broken by the nonces), else PRESENCE_OTHER (an offline
  // status, one without a nonce, or anything unreadable).
  presence(p: usize, n: i32, nonce: usize, nonceLen: i32, since: f64): i32 {
    if (n > MAX_PAYLOAD_BYTES || nonceLen == 0) return PRESENCE_OTHER;
    const o = this.obj;
    if (o.parse(p, n) != JSON_OK || o.type[F_KIND] != J_STRING || o.type[F_ONLINE] != J_TRUE || o.type[F_NONCE] != J_STRING) return PRESENCE_OTHER;
    const k = o.stringOf(F_KIND, this.kindBuf, 16);
    if (!bytesEq(this.kindBuf, k, "status")) return PRESENCE_OTHER;
    const m = o.stringOf(F_NONCE, this.nonceBuf, MAX_NONCE_BYTES);
    if (m <= 0 || m > MAX_NONCE_BYTES) return PRESENCE_OTHER;
    const cmpNonce = compareBytes(this.nonceBuf, m, nonce, nonceLen);
    if (cmpNonce == 0) return PRESENCE_OURS;
    const theirs = o.type[F_SINCE] == J_NUMBER ? o.numberOf(F_SINCE) : 0;
    return theirs < since || (theirs == since && cmpNonce < 0) ? PRESENCE_EARLIER : PRESENCE_LATER;
  }

  private checkTask(why: Writer): bool {
    const o = this.obj;
    for (let i = 0; i < TASK_REQUIRED.length; i++) if (!o.has(TASK_REQUIRED[i])) return missing(why, "task", TASK_REQUIRED[i]);
    if (o.unknown > 0 || o.has(F_REASON) || o.has(F_ONLINE) || o.has(F_NONCE) || o.has(F_SINCE)) { why.ascii(": task: / must NOT have additional properties"); return false; }
    if (o.has(F_SCALE) && !o.has(F_ADAPTER)) { why.ascii(": task: / must have property adapter when property scale is present"); return false; }
    const t = this.task;
    if (!nameField(why, o, "task", F_TASK_ID, t.taskId)) return false;
    t.taskIdLen = o.strBytes;
    if (!intField(why, o, "task", F_ATTEMPT, 0, 4294967295)) return false;
    if (!intField(why, o, "task", F_LEASE, 1, 3600000)) return false;
    if (!intField(why, o, "task", F_DEADLINE, 0, 86400000)) return false;
    if (o.type[F_PROMPT] != J_STRING) return typeError(why, "task", F_PROMPT, "string");
    t.promptBytes = o.stringOf(F_PROMPT, t.prompt, t.promptCap);
    if (o.strChars > MAX_PROMPT_CHARS) return maxLengthError(why, "task", F_PROMPT, MAX_PROMPT_CHARS);
    if (!intField(why, o, "task", F_STEPS, 0, 65536)) return false;
    if (!numField(why, o, "task", F_TEMPERATURE, 0, 100)) return false;
    if (!numField(why, o, "task", F_TOPP, 0, 1)) return false;
    if (o.type[F_SEED] != J_STRING) return typeError(why, "task", F_SEED, "string");
    // A decimal u64: BigInt(seed) & (2^64 - 1) on the Node side, the same wrap here.
    const sb = o.stringOf(F_SEED, this.seedBuf, 24);
    let digitsOk = sb >= 1 && sb <= 20;
    let seed: u64 = 0;
    for (let i = 0; digitsOk && i < sb; i++) {
      const c = <u32>load<u8>(this.seedBuf + <usize>i);
      if (c < 0x30 || c > 0x39) digitsOk = false;
      else seed = seed * 10 + <u64>(c - 0x30);
    }
    if (!digitsOk) { why.ascii(": task: /seed must match pattern \"^[0-9]{1,20}$\""); return false; }
    t.adapterLen = 0;
    t.scale = 1;
    if (o.has(F_ADAPTER)) {
      if (o.type[F_ADAPTER] != J_STRING) return typeError(why, "task", F_ADAPTER, "string");
      const n = o.stringOf(F_ADAPTER, t.adapter, MAX_ADAPTER_ID);
      if (n > MAX_ADAPTER_ID || !isAdapterId(t.adapter, n)) { prefix(why, "task", F_ADAPTER).ascii(" must match pattern \"^[A-Za-z0-9_.-]{1,128}$\""); return false; }
      t.adapterLen = n;
    }
    if (o.has(F_SCALE)) {
      if (o.type[F_SCALE] != J_NUMBER) return typeError(why, "task", F_SCALE, "number");
      const v = o.numberOf(F_SCALE);
      if (v < -MAX_ADAPTER_SCALE) { prefix(why, "task", F_SCALE).ascii(" must be >= -").u64(<u64>MAX_ADAPTER_SCALE); return false; }
      if (v > MAX_ADAPTER_SCALE) { prefix(why, "task", F_SCALE).ascii(" must be <= ").u64(<u64>MAX_ADAPTER_SCALE); return false; }
      t.scale = <f32>v;
    }
    t.commands = false;
    if (o.has(F_TASK)) {
      // host/fleet/schemas.ts TASK_TYPES: "text" (the default) or "commands".
      const k = o.type[F_TASK] == J_STRING ? o.stringOf(F_TASK, this.kindBuf, 16) : -1;
      const isText = k >= 0 && k <= 16 && bytesEq(this.kindBuf, k, "text"), isCommands = k >= 0 && k <= 16 && bytesEq(this.kindBuf, k, "commands");
      if (!isText && !isCommands) { prefix(why, "task", F_TASK).ascii(" must be equal to one of the allowed values"); return false; }
      t.commands = isCommands;
    }
    t.attempt = <u32>o.numberOf(F_ATTEMPT);
    t.leaseMs = <i32>o.numberOf(F_LEASE);
    t.deadlineMs = <i32>o.numberOf(F_DEADLINE);
    t.steps = <i32>o.numberOf(F_STEPS);
    t.temperature = <f32>o.numberOf(F_TEMPERATURE);
    t.topp = <f32>o.numberOf(F_TOPP);
    t.seed = seed;
    return true;
  }

  private checkCancel(why: Writer): bool {
    const o = this.obj;
    if (!o.has(F_TASK_ID)) return missing(why, "cancel", F_TASK_ID);
    if (!o.has(F_REASON)) return missing(why, "cancel", F_REASON);
    let extra = o.unknown > 0;
    for (let i = F_ATTEMPT; i <= F_SEED; i++) if (o.has(i)) extra = true;
    for (let i = F_ONLINE; i <= F_TASK; i++) if (o.has(i)) extra = true;
    if (extra) { why.ascii(": cancel: / must NOT have additional properties"); return false; }
    const c = this.cancel;
    if (!nameField(why, o, "cancel", F_TASK_ID, c.taskId)) return false;
    c.taskIdLen = o.strBytes;
    if (o.type[F_REASON] != J_STRING) return typeError(why, "cancel", F_REASON, "string");
    c.reasonLen = o.stringOf(F_REASON, c.reason, MAX_REASON_CHARS * 4);
    if (o.strChars > MAX_REASON_CHARS) return maxLengthError(why, "cancel", F_REASON, MAX_REASON_CHARS);
    return true;
  }
}

// Every inbound kind's first checks (§1): the size before a byte is read, JSON, an object, and
// member 0 ("v" in every kind's name list) the protocol's version; false with the reason in why.
export function openPayload(o: FlatObject, p: usize, n: i32, why: Writer): bool {
  if (n > MAX_PAYLOAD_BYTES) {
    why.ascii(": ").i32(n).ascii("-byte payload is over the ").i32(MAX_PAYLOAD_BYTES).ascii("-byte limit");
    return false;
  }
  const r = o.parse(p, n);
  if (r == JSON_SYNTAX) { why.ascii(": payload is not JSON"); return false; }
  if (r == JSON_NOT_OBJECT) { why.ascii(": payload is not a JSON object"); return false; }
  if (o.type[F_V] != J_NUMBER || o.numberOf(F_V) != <f64>PROTOCOL_VERSION) {
    why.ascii(": unsupported protocol version ");
    if (o.has(F_V)) rawValue(why, o, F_V); else why.ascii("undefined");
    return false;
  }
  return true;
}

export function bytesEq(p: usize, n: i32, s: string): bool {
  if (n != s.length) return false;
  for (let i = 0; i < n; i++) if (<u32>load<u8>(p + <usize>i) != <u32>s.charCodeAt(i)) return false;
  return true;
}

// The member's JSON text as received, at most 32 bytes of it (for "unsupported version 2").
function rawValue(w: Writer, o: FlatObject, f: i32): void {
  const isStr = o.type[f] == J_STRING;
  const s = <usize>o.start[f] - (isStr ? 1 : 0);
  const n = <i32>(<usize>o.end[f] - s) + (isStr ? 1 : 0);
  w.bytes(s, min(n, 32));
  if (n > 32) w.ascii("...");
}

function prefix(w: Writer, kind: string, f: i32): Writer {
  return w.ascii(": ").ascii(kind).ascii(": /").ascii(FIELD_NAMES[f]);
}

function missing(w: Writer, kind: string, f: i32): bool {
  w.ascii(": ").ascii(kind).ascii(": / must have required property '").ascii(FIELD_NAMES[f]).byte(0x27);
  return false;
}

function typeError(w: Writer, kind: string, f: i32, type: string): bool {
  prefix(w, kind, f).ascii(" must be ").ascii(type);
  return false;
}

function maxLengthError(w: Writer, kind: string, f: i32, n: i32): bool {
  prefix(w, kind, f).ascii(" must NOT have more than ").i32(n).ascii(" characters");
  return false;
}

// A name member (^[A-Za-z0-9_-]{1,64}$), decoded into out[MAX_NAME].
function nameField(w: Writer, o: FlatObject, kind: string, f: i32, out: usize): bool {
  if (o.type[f] != J_STRING) return typeError(w, kind, f, "string");
  const n = o.stringOf(f, out, MAX_NAME);
  if (n > MAX_NAME || !isName(out, n)) { prefix(w, kind, f).ascii(" must match pattern \"^[A-Za-z0-9_-]{1,64}$\""); return false; }
  return true;
}

function rangeError(w: Writer, kind: string, f: i32, v: f64, lo: f64, hi: f64): bool {
  if (v < lo) { prefix(w, kind, f).ascii(" must be >= ").u64(<u64>lo); return false; }
  if (v > hi) { prefix(w, kind, f).ascii(" must be <= ").u64(<u64>hi); return false; }
  return true;
}

function intField(w: Writer, o: FlatObject, kind: string, f: i32, lo: f64, hi: f64): bool {
  if (o.type[f] != J_NUMBER) return typeError(w, kind, f, "integer");
  const v = o.numberOf(f);
  if (v != Math.floor(v)) return typeError(w, kind, f, "integer");
  return rangeError(w, kind, f, v, lo, hi);
}

function numField(w: Writer, o: FlatObject, kind: string, f: i32, lo: f64, hi: f64): bool {
  if (o.type[f] != J_NUMBER) return typeError(w, kind, f, "number");
  return rangeError(w, kind, f, o.numberOf(f), lo, hi);
}

// ---- outbound ---------------------------------------------------------------------------

function head(w: Writer, kind: string): Writer {
  return w.ascii("{\"v\":1,\"kind\":").jsonAscii(kind);
}

function taskHead(w: Writer, kind: string, taskId: usize, taskIdLen: i32, attempt: u32): Writer {
  return head(w, kind).ascii(",\"taskId\":").jsonString(taskId, taskIdLen).ascii(",\"attempt\":").u32(attempt);
}

export function writeAccept(w: Writer, taskId: usize, taskIdLen: i32, attempt: u32): void {
  taskHead(w, "accept", taskId, taskIdLen, attempt).byte(0x7d);
}

export function writeReject(w: Writer, taskId: usize, taskIdLen: i32, attempt: u32, reason: Writer): void {
  taskHead(w, "reject", taskId, taskIdLen, attempt).ascii(",\"reason\":").jsonString(reason.buf, reason.n).byte(0x7d);
}

export function writeTokens(w: Writer, taskId: usize, taskIdLen: i32, attempt: u32, offset: u32, data: usize, n: i32): void {
  taskHead(w, "tokens", taskId, taskIdLen, attempt).ascii(",\"offset\":").u32(offset).ascii(",\"data\":").jsonBase64(data, n).byte(0x7d);
}

// status: "done" | "cancelled" | "expired" | "failed"; error: omitted when its length is 0.
export function writeResult(w: Writer, taskId: usize, taskIdLen: i32, attempt: u32, status: string, data: usize, n: i32,
  tokens: u32, elapsedMs: f64, error: usize, errorLen: i32): void {
  taskHead(w, "result", taskId, taskIdLen, attempt).ascii(",\"status\":").jsonAscii(status)
    .ascii(",\"data\":").jsonBase64(data, n).ascii(",\"tokens\":").u32(tokens)
    .ascii(",\"elapsedMs\":").fixed(elapsedMs, 3);
  if (errorLen > 0) w.ascii(",\"error\":").jsonString(error, errorLen);
  w.byte(0x7d);
}

// heartbeat: writeHeartbeatHead, then writeHeartbeatTask per held task, then "]}".
export function writeHeartbeatHead(w: Writer, id: usize, idLen: i32, ts: f64, queue: i32): void {
  head(w, "heartbeat").ascii(",\"id\":").jsonString(id, idLen).ascii(",\"ts\":").fixed(ts, 3)
    .ascii(",\"queue\":").i32(queue).ascii(",\"tasks\":[");
}

export function writeHeartbeatTask(w: Writer, first: bool, taskId: usize, taskIdLen: i32): void {
  if (!first) w.byte(0x2c);
  w.jsonString(taskId, taskIdLen);
}

export function writeHeartbeatTail(w: Writer): void { w.ascii("]}"); }

export function writeStatusOffline(w: Writer, id: usize, idLen: i32): void {
  head(w, "status").ascii(",\"id\":").jsonString(id, idLen).ascii(",\"online\":false}");
}

// A process's presence nonce: 16 hex digits (agentSetNonce).
export const MAX_NONCE_BYTES: i32 = 16;

// ^[0-9a-f]{1,16}$: a presence nonce (the schemas' pattern).
export function isNonce(p: usize, n: i32): bool {
  if (n <= 0 || n > MAX_NONCE_BYTES) return false;
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}
export const PRESENCE_OURS: i32 = 0;
export const PRESENCE_EARLIER: i32 = 1;
export const PRESENCE_LATER: i32 = 2;
export const PRESENCE_OTHER: i32 = 3;

function compareBytes(a: usize, an: i32, b: usize, bn: i32): i32 {
  const n = min(an, bn);
  for (let i = 0; i < n; i++) {
    const x = <i32>load<u8>(a + <usize>i), y = <i32>load<u8>(b + <usize>i);
    if (x != y) return x < y ? -1 : 1;
  }
  return an == bn ? 0 : an < bn ? -1 : 1;
}

export class Capabilities {
  modelId: usize = heap.alloc(128);
  modelIdLen: i32 = 0;
  impl: usize = heap.alloc(32);
  implLen: i32 = 0;     // 0: the status has no impl
  quant: string = "f32";
  ctx: i32 = 0;
  vocab: i32 = 0;
  tokPerSec: f64 = 0;
  freeMem: u32 = 0;

  static heapBytes(): i64 { return objectBytes(offsetof<Capabilities>()) + blockBytes(128) + blockBytes(32); }
}

// The longest online status without its adapter list (ids, impl and model id escaped at worst).
export const STATUS_BASE_BYTES: i32 = 1600;

export function writeStatusOnline(w: Writer, id: usize, idLen: i32, ts: f64, caps: Capabilities, queue: i32, maxQueue: i32,
                                  nonce: usize, nonceLen: i32, since: f64, adapters: AdapterSet | null, commands: bool): void {
  head(w, "status").ascii(",\"id\":").jsonString(id, idLen).ascii(",\"online\":true,\"ts\":").fixed(ts, 3);
  if (nonceLen > 0) w.ascii(",\"nonce\":\"").bytes(nonce, nonceLen).ascii("\",\"since\":").fixed(since, 3);
  if (caps.implLen > 0) w.ascii(",\"impl\":").jsonString(caps.impl, caps.implLen);
  w.ascii(",\"model\":{\"id\":").jsonString(caps.modelId, caps.modelIdLen).ascii(",\"quant\":").jsonAscii(caps.quant)
    .ascii(",\"ctx\":").i32(caps.ctx).ascii(",\"vocab\":").i32(caps.vocab)
    .ascii("},\"tokPerSec\":").fixed(caps.tokPerSec, 1).ascii(",\"freeMem\":").u32(caps.freeMem)
    .ascii(",\"queue\":").i32(queue).ascii(",\"maxQueue\":").i32(maxQueue);
  if (adapters != null) adapters.writeJson(w);
  if (commands) w.ascii(",\"taskTypes\":[\"commands\"]");
  w.byte(0x7d);
}
