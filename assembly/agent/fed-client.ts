// A peer's part in federated MeZO rounds (docs/protocol.md §9 "Trainer", docs/federated.md), in
// the module so that every host that runs the agent trains the same way: the firmware under
// wasm3 (an ESP32 with no memory for backpropagation) and any other. The Node trainer
// (host/federated/trainer.ts) is the model; this one runs MeZO only.
//
//   round naming us ─► fetch ─(every chunk's CRC, then the file's)─► train ─► upload ─► done
//        │               │ no chunk for 5 s: ask again from the first missing one   │
//        │               └ the file's CRC differs: fetch it all again             verdict (ack)
//        └ another round, or this one closed: the job is dropped         incomplete: the missing parts
//                                                                        no verdict in 10 s: all again
//
// Train: `steps` MeZO steps (assembly/mezo) on the global adapter, directions from the round's
// shared seed pool and examples from the host's file (env.exRead: its examples never enter a
// message), one step per call of work(), so tasks and messages are served between steps. The
// pairs (u32 pool index, f32 projected gradient) are what the Node trainer computes for the
// same id (host/federated/local-round.ts clientSeed, seed-scalar.ts SeedPool and localRound).
//
// Memory: the global adapter's image, the pairs and one batch of records are allocated at the
// first round and kept; a later round that needs more allocates more (the heap never frees).
// The image is held (model/lora.ts) once per layout and trained in place.
import * as E from "../core/errors";
import { crc32Update } from "../core/crc32";
import { fitsFrom } from "../core/memory-cap";
import { blockBytes, objectBytes } from "../core/heap";
import { adapterChecksum } from "../adapter/file";
import { holdAdapter, trainHeld, useHeld } from "../model/lora";
import { Runtime } from "../model/runtime";
import { mezoStep, pick } from "../mezo/mezo";
import { encodeExample, RECORD_HEADER } from "../text/example";
import { base64Decode } from "./base64";
import { agentLog, exRead, mqttPublish, QOS1, RETAIN } from "./host";
import {
  ACK_ACCEPTED, ACK_INCOMPLETE, bitAt, FedInbound, setBit, MAX_FED_PARTS, updatePartCap, writeFetch,
  writeTrainerOffline, writeTrainerOnline, writeUpdatePart,
} from "./fed-messages";
import { KIND_FED_CHUNK, KIND_FED_ROUND, MAX_TOPIC_BYTES, writeFedPeerTopic } from "./topics";
import { Writer } from "./writer";

// An ESP32 with a 4 KiB inbox takes a 2,048-byte chunk (2,732 base64 characters) with its JSON.
export const FED_CHUNK_BYTES: i32 = 2048;
const FETCH_WINDOW: i32 = 4;          // chunks asked for at once: what the inbox queue holds
const FETCH_RETRY_MS: f64 = 5000;
const ACK_WAIT_MS: f64 = 10000;
const PAIR_BYTES: i32 = 8;
const HOLD_ROOM: i64 = 3072; // a hold's fixed part (CRC table, parse records); bytes/16 covers its links and table copy

const IDLE = 0, FETCH = 1, TRAIN = 2, UPLOAD = 3, DONE = 4;

export class FedClient {
  inbound: FedInbound = new FedInbound();
  topic: Writer = Writer.alloc(MAX_TOPIC_BYTES);
  line: Writer = Writer.alloc(256);
  msg: Writer;
  // The job: one round at a time.
  phase: i32 = IDLE;
  round: u32 = 0;
  nonce: usize = heap.alloc(16);
  nonceLen: i32 = 0;
  bytes: i32 = 0;            // the global adapter file: size, CRC-32
  crc: u32 = 0;
  steps: i32 = 0; lr: f32 = 0; batch: i32 = 0; seq: i32 = 0; seed: u32 = 0; eps: f32 = 0; pool: u32 = 0; poolSeed: u32 = 0;
  chunks: i32 = 0;
  have: usize = heap.alloc(<usize>(MAX_FED_PARTS / 8)); // u8 bitset [4096]: chunks received
  windowEnd: i32 = 0;
  lastChunkAt: f64 = 0;
  lastSendAt: f64 = 0;
  hasResult: bool = false;
  // Training: the step, the client's streams, the loss so far.
  done: i32 = 0;
  clientSeed: u32 = 0;
  pickState: u32 = 0;
  lossSum: f64 = 0;
  loss: f64 = 0;
  // Buffers kept across rounds.
  image: usize = 0; imageCap: i32 = 0;
  held: i32 = -1;            // the image's held adapter (model/lora.ts)
  layout: usize = 0; layoutBytes: i32 = 0; // the held image's header and table (a later global with the same ones reuses the hold)
  pairs: usize = 0; pairsCap: i32 = 0;     // (u32 index, f32 g) [steps]
  records: usize = 0; recordsCap: i32 = 0; // i32 records of one batch
  text: usize; textCap: i32;                // one example's sentence and label (env.exRead)
  out: usize = heap.alloc(16);              // f32 [ℓ₊, ℓ₋, g] of a step

  constructor(public rt: Runtime, public ctx: i32, public fleet: usize, public fleetLen: i32, public id: usize, public idLen: i32,
    public examples: i32, textCap: i32, msg: Writer, public base: u32) {
    this.textCap = textCap;
    this.text = heap.alloc(<usize>max(textCap, 1));
    this.msg = msg;
  }

  static heapBytes(textCap: i32): i64 {
    return objectBytes(offsetof<FedClient>()) + FedInbound.heapBytes() + 2 * Writer.heapBytes(0) + blockBytes(MAX_TOPIC_BYTES) + blockBytes(256)
      + blockBytes(16) * 2 + blockBytes(MAX_FED_PARTS / 8) + blockBytes(max(textCap, 1));
  }

  static messageCap(): i32 { return updatePartCap(FED_CHUNK_BYTES); }

  // ---- presence ---------------------------------------------------------------------------

  // On every connection: the trainer's presence, with the process's presence nonce.
  connected(now: f64, nonce: usize, nonceLen: i32): void {
    writeTrainerOnline(this.msg.reset(), this.id, this.idLen, this.base, FED_CHUNK_BYTES, nonce, nonceLen);
    this.publish("trainer", QOS1 | RETAIN);
    this.resume(now);
  }

  shutdown(): void {
    writeTrainerOffline(this.msg.reset(), this.id, this.idLen);
    this.publish("trainer", QOS1 | RETAIN);
    this.phase = IDLE;
  }

  // ---- inbound ----------------------------------------------------------------------------

  // A decoded message (FedInbound.decode) of kind `kind`.
  onMessage(kind: i32, now: f64): void {
    if (kind == KIND_FED_ROUND) this.onRound(now);
    else if (kind == KIND_FED_CHUNK) this.onChunk(now);
    else this.onAck(now);
  }

  private onRound(now: f64): void {
    const m = this.inbound.round;
    if (!m.open) {
      if (this.phase != IDLE && (m.round == 0 || m.round >= this.round)) this.drop(m.round == 0 ? "the coordinator went away" : "the round closed");
      return;
    }
    if (this.phase != IDLE && this.round == m.round && this.crc == m.crc && this.bytes == <i32>m.bytes) {
      // The same round again; from another coordinator process (a restart that lost the round's
      // updates) a verdict already heard no longer holds: the update goes again.
      const other = m.nonceLen != this.nonceLen || memory.compare(m.nonce, this.nonce, <usize>m.nonceLen) != 0;
      if (this.phase == DONE && this.hasResult && other) this.phase = UPLOAD;
      this.takeNonce();
      this.resume(now);
      return;
    }
    if (this.phase != IDLE) this.drop("another round was announced");
    if (!m.sampled) return;
    const l = this.line.reset().ascii("round ").u32(m.round).ascii(": ");
    if (m.base != this.base) { this.log(l.ascii("the global adapter is for another base model; not taking part")); return; }
    if (!m.mezo) { this.log(l.ascii("method backprop is not one this trainer runs (mezo only)")); return; }
    if (m.localDp) { this.log(l.ascii("local DP is not defined for seed-and-scalar updates; not taking part")); return; }
    if (!this.reserve(<i32>m.bytes, m.steps, m.batch)) {
      this.log(l.ascii("no memory for a ").u32(m.bytes).ascii("-byte adapter, ").i32(m.steps).ascii(" steps and batch ").i32(m.batch).ascii("; not taking part"));
      return;
    }
    this.round = m.round; this.bytes = <i32>m.bytes; this.crc = m.crc;
    this.steps = m.steps; this.lr = m.lr; this.batch = m.batch; this.seq = m.seq; this.seed = m.seed;
    this.eps = m.eps; this.pool = m.pool; this.poolSeed = m.poolSeed;
    this.takeNonce();
    this.chunks = max(1, (this.bytes + FED_CHUNK_BYTES - 1) / FED_CHUNK_BYTES);
    memory.fill(this.have, 0, <usize>(MAX_FED_PARTS / 8));
    this.hasResult = false;
    this.phase = FETCH;
    this.log(l.ascii("sampled; fetching the global adapter (").i32(this.bytes).ascii(" bytes)"));
    this.fetch(now);
  }

  private onChunk(now: f64): void {
    const c = this.inbound.chunk;
    if (this.phase != FETCH || c.round != this.round) return; // stale: a window asked for before
    this.lastChunkAt = now;
    const l = this.line.reset().ascii("round ").u32(c.round).ascii(": chunk ").i32(c.index);
    if (c.bytes != <u32>this.bytes || c.chunkBytes != FED_CHUNK_BYTES || c.chunks != this.chunks || c.index >= this.chunks) {
      this.log(l.ascii(" describes another object (").u32(c.bytes).ascii(" bytes in ").i32(c.chunks).ascii(" chunks of ").i32(c.chunkBytes).byte(0x29));
      return;
    }
    const at = c.index * FED_CHUNK_BYTES, want = min(FED_CHUNK_BYTES, this.bytes - at);
    const n = base64Decode(c.data, c.dataLen, this.image + <usize>at, want);
    if (n != want || crc32Update(0, this.image + <usize>at, <usize>n) != c.crc) {
      this.log(l.ascii(n != want ? " has the wrong length" : " does not match its CRC-32"));
      return; // still missing: asked for again
    }
    setBit(this.have, c.index);
    const first = this.firstMissing();
    if (first < this.chunks) { if (first >= this.windowEnd) this.fetch(now); return; }
    if (crc32Update(0, this.image, <usize>this.bytes) != this.crc) {
      this.log(this.line.reset().ascii("round ").u32(this.round).ascii(": the assembled global adapter's CRC-32 differs from the announced one; fetching again"));
      memory.fill(this.have, 0, <usize>(MAX_FED_PARTS / 8));
      this.fetch(now);
      return;
    }
    const r = this.holdImage();
    if (r < 0) {
      this.log(this.line.reset().ascii("round ").u32(this.round).ascii(": the global adapter cannot be trained here (error ").i32(r).ascii("); not taking part"));
      this.phase = DONE;
      return;
    }
    this.startTraining();
  }

  private onAck(now: f64): void {
    const a = this.inbound.ack;
    if (this.phase != UPLOAD || a.round != this.round) return;
    if (a.status == ACK_INCOMPLETE) { this.upload(now, a.missing); return; }
    this.phase = DONE;
    const l = this.line.reset().ascii("round ").u32(a.round).ascii(": update ");
    if (a.status == ACK_ACCEPTED) this.log(l.ascii("accepted"));
    else this.log(l.ascii("refused (").bytes(a.reason, a.reasonLen).byte(0x29));
  }

  // ---- work -------------------------------------------------------------------------------

  // Whether there is work to do now (a training step).
  busy(): bool { return this.phase == TRAIN; }

  // Timers, then at most one MeZO step. The caller runs it only when no task is held (a step
  // runs the forward pass over its own positions: the KV cache is the running task's otherwise).
  // True when a step ran (every adapter is detached after it).
  work(now: f64): bool {
    if (this.phase == FETCH && now - this.lastChunkAt > FETCH_RETRY_MS) this.fetch(now);
    else if (this.phase == UPLOAD && now - this.lastSendAt > ACK_WAIT_MS) this.upload(now, 0);
    else if (this.phase == TRAIN) { this.step(now); return true; }
    return false;
  }

  private step(now: f64): void {
    const t = <u32>(this.done + 1);
    let at = this.records;
    const cap = RECORD_HEADER + min(this.seq, this.ctx);
    for (let b = 0; b < this.batch; b++) {
      const i = <i32>pick(<u64>this.clientSeed, t, <u32>b, <u32>this.examples);
      const r = exRead(i, this.text, this.textCap);
      if (r < 0) { this.fail("the host could not read example ", i); return; }
      const sLen = r >>> 16, lLen = r & 0xffff;
      const n = encodeExample(this.rt.tokenizer!, this.text, sLen, this.text + <usize>sLen, lLen, at, cap);
      if (n < 0) { this.fail("example cannot be encoded: ", i); return; }
      at += <usize>(RECORD_HEADER + load<i32>(at)) << 2; // cut at the context, as the module wrote it
    }
    const j = <u32>((<u64>nextPick(this) * <u64>this.pool) >> 32);
    trainHeld(this.held, this.image, <usize>this.bytes);
    const err = mezoStep(poolSeedAt(this.poolSeed, j), 0, this.eps, this.lr, this.records, this.batch, this.out);
    useHeld(-1, 1); // detached again: tasks attach their own
    if (err != E.OK) { this.fail("a MeZO step failed, error ", err); return; }
    const p = this.pairs + (<usize>this.done << 3);
    store<u32>(p, j);
    store<f32>(p, load<f32>(this.out, 8), 4);
    this.lossSum += (<f64>load<f32>(this.out) + <f64>load<f32>(this.out, 4)) / 2;
    this.done++;
    if (this.done < this.steps) return;
    this.loss = this.lossSum / <f64>this.steps;
    this.hasResult = true;
    this.phase = UPLOAD;
    this.log(this.line.reset().ascii("round ").u32(this.round).ascii(": trained ").i32(this.steps).ascii(" mezo steps, loss ")
      .fixed(this.loss, 4).ascii("; uploading ").i32(this.steps * PAIR_BYTES).ascii(" bytes"));
    this.upload(now, 0);
  }

  private fail(what: string, v: i32): void {
    this.log(this.line.reset().ascii("round ").u32(this.round).ascii(": cannot train: ").ascii(what).i32(v));
    this.phase = DONE;
  }

  // Every part, or (only ≠ 0) the parts set in the bitset only[4096].
  private upload(now: f64, only: usize): void {
    this.lastSendAt = now;
    const total = this.steps * PAIR_BYTES;
    const parts = max(1, (total + FED_CHUNK_BYTES - 1) / FED_CHUNK_BYTES);
    for (let part = 0; part < parts; part++) {
      if (only != 0 && !bitAt(only, part)) continue;
      const at = part * FED_CHUNK_BYTES, n = min(FED_CHUNK_BYTES, total - at);
      const crc = crc32Update(0, this.pairs + <usize>at, <usize>n);
      writeUpdatePart(this.msg.reset(), this.round, <u32>this.examples, this.loss, part, parts, FED_CHUNK_BYTES, total, crc, this.pairs + <usize>at, n);
      this.publish("update", QOS1);
    }
  }

  private fetch(now: f64): void {
    const from = this.firstMissing();
    const count = min(FETCH_WINDOW, this.chunks - from);
    this.lastChunkAt = now;
    this.windowEnd = from + count;
    writeFetch(this.msg.reset(), this.round, from, count, FED_CHUNK_BYTES);
    this.publish("fetch", QOS1);
  }

  private resume(now: f64): void {
    if (this.phase == FETCH) this.fetch(now);
    else if (this.phase == UPLOAD) this.upload(now, 0);
  }

  private drop(why: string): void {
    if (this.phase != DONE) this.log(this.line.reset().ascii("round ").u32(this.round).ascii(": dropped (").ascii(why).byte(0x29));
    this.phase = IDLE;
  }

  private startTraining(): void {
    this.phase = TRAIN;
    this.done = 0;
    this.lossSum = 0;
    this.clientSeed = this.seed ^ <u32>(this.round * 0x27d4eb2d) ^ fnv1a(this.id, this.idLen);
    this.pickState = this.clientSeed ^ 0x9e3779b9;
  }

  private firstMissing(): i32 {
    let i = 0;
    while (i < this.chunks && bitAt(this.have, i)) i++;
    return i;
  }

  private takeNonce(): void {
    const m = this.inbound.round;
    memory.copy(this.nonce, m.nonce, <usize>m.nonceLen);
    this.nonceLen = m.nonceLen;
  }

  // Buffers for a round of this size; false when linear memory has no room for them. Checked
  // exactly against the heap's top (a device's cap leaves no page to spare), with room for what
  // holding a new image takes (its links, parse records, the layout copy, the CRC table).
  private reserve(bytes: i32, steps: i32, batch: i32): bool {
    const recs = batch * (RECORD_HEADER + this.ctx);
    const need = (bytes > this.imageCap ? <i64>bytes + 64 + HOLD_ROOM + <i64>bytes / 16 : 0) + (steps > this.pairsCap ? <i64>steps * PAIR_BYTES + 64 : 0)
      + (recs > this.recordsCap ? <i64>recs * 4 + 64 : 0);
    if (need > 0 && !fitsFrom(heap.alloc(0) + 12, need)) return false;
    if (bytes > this.imageCap) { this.image = heap.alloc(<usize>bytes); this.imageCap = bytes; this.held = -1; }
    if (steps > this.pairsCap) { this.pairs = heap.alloc(<usize>steps * PAIR_BYTES); this.pairsCap = steps; }
    if (recs > this.recordsCap) { this.records = heap.alloc(<usize>recs << 2); this.recordsCap = recs; }
    return true;
  }

  // The fetched image held for training: the hold kept when its header and table equal the held
  // one's (then only its checksum and values are checked here), else held anew.
  private holdImage(): i32 {
    const p = this.image, n = this.bytes;
    if (this.held >= 0 && n >= 128) {
      const tableEnd = 128 + <i32>load<u32>(p, 52) * 32;
      if (tableEnd == this.layoutBytes && tableEnd <= n && sameLayout(p, this.layout, tableEnd)) {
        if (adapterChecksum(p, <usize>n) != load<u32>(p, 124)) return E.E_CHECKSUM;
        for (let at = tableEnd; at + 4 <= n; at += 4) if ((load<u32>(p + <usize>at) & 0x7f800000) == 0x7f800000) return E.E_TENSOR;
        return this.held;
      }
    }
    const rt = this.rt;
    const h = holdAdapter(rt.weights, rt.config, rt.checksum, p, <usize>n);
    if (h < 0) return h;
    const tableEnd = 128 + <i32>load<u32>(p, 52) * 32;
    if (tableEnd > this.layoutBytes) { this.layout = heap.alloc(<usize>tableEnd); }
    memory.copy(this.layout, p, <usize>tableEnd);
    this.layoutBytes = tableEnd;
    this.held = h;
    return h;
  }

  private publish(kind: string, flags: i32): void {
    const t = writeFedPeerTopic(this.topic.reset(), this.fleet, this.fleetLen, this.id, this.idLen, kind);
    if (this.msg.overflow || t.overflow) { this.log(this.line.reset().ascii("bug: ").ascii(kind).ascii(" message does not fit its buffer")); return; }
    mqttPublish(t.buf, t.n, this.msg.buf, this.msg.n, flags);
  }

  private log(w: Writer): void { agentLog(w.buf, w.n); }
}

// Header and table equal but for the checksum (bytes 124..128).
function sameLayout(p: usize, q: usize, n: i32): bool {
  return memory.compare(p, q, 124) == 0 && memory.compare(p + 128, q + 128, <usize>(n - 128)) == 0;
}

// FNV-1a over the id's bytes (host/federated/local-round.ts hashId: the ids are ASCII).
function fnv1a(p: usize, n: i32): u32 {
  let h: u32 = 2166136261;
  for (let i = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 16777619;
  return h;
}

// mulberry32, as host/train/corpus.ts prng: the next u32 of the stream (the f64 draw × 2³²).
function mulberry(state: u32): u32 {
  let t = state;
  t = (t ^ (t >>> 15)) * (t | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return t ^ (t >>> 14);
}

function nextPick(c: FedClient): u32 {
  c.pickState += 0x6d2b79f5;
  return mulberry(c.pickState);
}

// Seed j of the pool (host/federated/seed-scalar.ts SeedPool): the 2j-th and (2j+1)-th draws of
// prng(poolSeed ^ 0x5eed5eed), high word first. Regenerated per step (no 8 MiB table on a device).
function poolSeedAt(poolSeed: u32, j: u32): u64 {
  let a = (poolSeed ^ 0x5eed5eed) + 2 * j * 0x6d2b79f5; // the state after 2j draws
  const hi = mulberry(a += 0x6d2b79f5);
  const lo = mulberry(a += 0x6d2b79f5);
  return (<u64>hi << 32) | <u64>lo;
}
