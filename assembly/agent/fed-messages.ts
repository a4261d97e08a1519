// The trainer's side of the federated-round codec (docs/protocol.md §9): the three kinds a
// trainer receives (round, chunk, ack) checked as host/fleet/schemas.ts checks them, reasons
// worded as ajv words them, and writers for the three it sends (trainer, fetch, update).
// Nested members (global, recipe, recipe.mezo, recipe.localDp) are parsed with FlatObjects of
// their own over the member's span; arrays (clients, missing) are walked in place. Every buffer
// is allocated once by the constructor.
import { blockBytes, objectBytes } from "../core/heap";
import { ArrayWalk, FlatObject, J_ARRAY, J_FALSE, J_NUMBER, J_OBJECT, J_STRING, J_TRUE, parseNumber } from "./json";
import { base64Valid } from "./base64";
import { isName, KIND_FED_CHUNK, KIND_FED_ROUND, MAX_NAME } from "./topics";
import { Writer } from "./writer";
import { bytesEq, isNonce, MAX_NONCE_BYTES, openPayload } from "./messages";

export const MAX_FED_CHUNK_BYTES: i32 = 32768;
export const MIN_FED_CHUNK_BYTES: i32 = 256;
export const MAX_FED_PARTS: i32 = 4096;
export const MAX_FED_FETCH: i32 = 64;
export const MAX_ROUND_CLIENTS: i32 = 1024;
const MAX_CHUNK_DATA_CHARS: i32 = 43692; // base64 of MAX_FED_CHUNK_BYTES
const MAX_GLOBAL_BYTES: f64 = 4096.0 * 32768.0;
const U32_MAX: f64 = 4294967295;
// Member names live in the FlatObjects (built by FedInbound's constructor), not in module
// constants: a module built without the trainer then holds none of these strings.
const N_TOP = 21, N_GLOBAL = 3, N_RECIPE = 10, N_KEEP = 1, N_MEZO = 3, N_LOCAL_DP = 2;

// Members of the top-level objects, in the schemas' property order.
const F_V = 0, F_KIND = 1, F_COORDINATOR = 2, F_OPEN = 3, F_ROUND = 4, F_TS = 5, F_NONCE = 6, F_DEADLINE = 7, F_CLIENTS = 8,
  F_GLOBAL = 9, F_RECIPE = 10, F_INDEX = 11, F_CHUNKS = 12, F_CHUNK_BYTES = 13, F_BYTES = 14, F_CRC = 15, F_DATA = 16,
  F_STATUS = 17, F_REASON = 18, F_DETAIL = 19, F_MISSING = 20;
const G_BYTES = 0, G_CRC = 1, G_BASE = 2;
const R_METHOD = 0, R_STEPS = 1, R_LR = 2, R_BATCH = 3, R_SEQ = 4, R_SEED = 5, R_LOCAL_DP = 6, R_PROX = 7, R_MEZO = 8, R_KEEP = 9;
const M_EPS = 0, M_POOL = 1, M_POOL_SEED = 2;
const D_CLIP = 0, D_NOISE = 1;

export const ACK_ACCEPTED: i32 = 0;
export const ACK_REFUSED: i32 = 1;
export const ACK_INCOMPLETE: i32 = 2;

export class RoundMsg {
  open: bool = false;
  round: u32 = 0;           // 0: none given (a closed announcement may omit it)
  deadlineMs: i32 = 0;
  sampled: bool = false;    // this trainer's id is among `clients`
  nonce: usize = heap.alloc(<usize>MAX_NONCE_BYTES);
  nonceLen: i32 = 0;
  bytes: u32 = 0;           // global: the adapter file's size, CRC-32 and base model checksum
  crc: u32 = 0;
  base: u32 = 0;
  mezo: bool = false;       // recipe.method
  steps: i32 = 0;
  lr: f32 = 0;
  batch: i32 = 0;
  seq: i32 = 0;
  seed: u32 = 0;
  localDp: bool = false;
  eps: f32 = 0;             // recipe.mezo
  pool: u32 = 0;
  poolSeed: u32 = 0;
}

export class ChunkMsg {
  round: u32 = 0;
  index: i32 = 0;
  chunks: i32 = 0;
  chunkBytes: i32 = 0;
  bytes: u32 = 0;
  crc: u32 = 0;
  data: usize = 0;          // the base64 text in the payload (checked against the alphabet)
  dataLen: i32 = 0;
}

export class AckMsg {
  round: u32 = 0;
  status: i32 = 0;
  reason: usize = heap.alloc(16);
  reasonLen: i32 = 0;       // 0: none
  missing: usize = heap.alloc(<usize>(MAX_FED_PARTS / 8)); // u8 bitset [4096]: the parts an incomplete ack names
}

export class FedInbound {
  top: FlatObject = new FlatObject(["v", "kind", "coordinator", "open", "round", "ts", "nonce", "deadlineMs", "clients", "global", "recipe",
  "index", "chunks", "chunkBytes", "bytes", "crc32", "data", "status", "reason", "detail", "missing"]);
  sub: FlatObject = new FlatObject(["method", "steps", "lr", "batch", "seq", "seed", "localDp", "proxMu", "mezo", "keepState"]); // recipe
  leaf: FlatObject = new FlatObject(["eps", "pool", "poolSeed"]); // recipe.mezo
  dp: FlatObject = new FlatObject(["clip", "noise"]);
  glob: FlatObject = new FlatObject(["bytes", "crc32", "base"]);
  keep: FlatObject = new FlatObject(["rounds"]);
  private openRequired: StaticArray<i32> = [F_ROUND, F_TS, F_DEADLINE, F_CLIENTS, F_GLOBAL, F_RECIPE];
  private chunkRequired: StaticArray<i32> = [F_ROUND, F_INDEX, F_CHUNKS, F_CHUNK_BYTES, F_BYTES, F_CRC, F_DATA];
  private refusals: StaticArray<string> = ["late", "early", "not-sampled", "duplicate", "shape", "non-finite", "examples", "checksum", "method", "malformed"];
  round: RoundMsg = new RoundMsg();
  chunk: ChunkMsg = new ChunkMsg();
  ack: AckMsg = new AckMsg();
  private name: usize = heap.alloc(<usize>MAX_NAME + 4);
  private small: usize = heap.alloc(32);
  private c: Check = new Check();
  private walk: ArrayWalk = new ArrayWalk();
  private walk2: ArrayWalk = new ArrayWalk();

  static heapBytes(): i64 {
    return objectBytes(offsetof<FedInbound>()) + FlatObject.heapBytes(N_TOP) + FlatObject.heapBytes(N_RECIPE)
      + FlatObject.heapBytes(N_MEZO) + FlatObject.heapBytes(N_LOCAL_DP) + FlatObject.heapBytes(N_GLOBAL) + FlatObject.heapBytes(N_KEEP) + 3 * objectBytes(64)
      + objectBytes(offsetof<RoundMsg>()) + blockBytes(MAX_NONCE_BYTES) + objectBytes(offsetof<ChunkMsg>())
      + objectBytes(offsetof<AckMsg>()) + blockBytes(16) + blockBytes(MAX_FED_PARTS / 8) + blockBytes(MAX_NAME + 4) + blockBytes(32)
      + objectBytes(offsetof<Check>()) + 2 * objectBytes(offsetof<ArrayWalk>());
  }

  // Decodes payload p[n] received on a topic of kind topicKind (KIND_FED_*) for trainer id[idLen];
  // returns the kind, or -1 with the reason appended to `why` (which already holds the topic).
  decode(topicKind: i32, p: usize, n: i32, id: usize, idLen: i32, why: Writer): i32 {
    const o = this.top;
    if (!openPayload(o, p, n, why)) return -1;
    const kind = topicKind == KIND_FED_ROUND ? "round" : topicKind == KIND_FED_CHUNK ? "chunk" : "ack";
    if (o.type[F_KIND] != J_STRING) { why.ascii(": unknown kind"); return -1; }
    const k = o.stringOf(F_KIND, this.small, 32);
    if (!bytesEq(this.small, k, kind)) { why.ascii(": kind '").bytes(this.small, min(k, 32)).ascii("' does not match the topic"); return -1; }
    const c = this.c.reset(why, kind);
    const ok = topicKind == KIND_FED_ROUND ? this.checkRound(c, id, idLen) : topicKind == KIND_FED_CHUNK ? this.checkChunk(c) : this.checkAck(c);
    return ok ? topicKind : -1;
  }

  private checkRound(c: Check, id: usize, idLen: i32): bool {
    const o = this.top, m = this.round;
    if (!o.has(F_COORDINATOR)) return c.required("", "coordinator");
    if (!o.has(F_OPEN)) return c.required("", "open");
    if (o.unknown > 0 || extraBeyond(o, F_RECIPE)) return c.additional("");
    if (!c.name(o, F_COORDINATOR, "/coordinator", this.name)) return false;
    if (o.type[F_OPEN] != J_TRUE && o.type[F_OPEN] != J_FALSE) return c.type("/open", "boolean");
    m.open = o.type[F_OPEN] == J_TRUE;
    m.round = 0;
    if (o.has(F_ROUND)) { if (!c.int(o, F_ROUND, "/round", 1, U32_MAX)) return false; m.round = <u32>o.numberOf(F_ROUND); }
    if (o.has(F_TS) && !c.num(o, F_TS, "/ts", 0, Infinity)) return false;
    m.nonceLen = 0;
    if (o.has(F_NONCE)) {
      if (o.type[F_NONCE] != J_STRING) return c.type("/nonce", "string");
      const k = o.stringOf(F_NONCE, m.nonce, MAX_NONCE_BYTES);
      if (k > MAX_NONCE_BYTES || !isNonce(m.nonce, k)) return c.pattern("/nonce", "^[0-9a-f]{1,16}$");
      m.nonceLen = k;
    }
    if (o.has(F_DEADLINE)) { if (!c.int(o, F_DEADLINE, "/deadlineMs", 1, 86400000)) return false; m.deadlineMs = <i32>o.numberOf(F_DEADLINE); }
    m.sampled = false;
    if (o.has(F_CLIENTS) && !this.clients(c, id, idLen)) return false;
    if (o.has(F_GLOBAL) && !this.global(c)) return false;
    if (o.has(F_RECIPE) && !this.recipe(c)) return false;
    if (m.open) {
      const need = this.openRequired;
      for (let i = 0; i < need.length; i++) if (!o.has(need[i])) return c.required("", o.names[need[i]]);
    }
    return true;
  }

  // clients: ≤ 1,024 names, no duplicates; sets round.sampled when id[idLen] is one of them.
  private clients(c: Check, id: usize, idLen: i32): bool {
    const o = this.top;
    if (o.type[F_CLIENTS] != J_ARRAY) return c.type("/clients", "array");
    const a = this.walk.reset(<usize>o.start[F_CLIENTS], <usize>o.end[F_CLIENTS]);
    let i = 0;
    while (a.next()) {
      if (i >= MAX_ROUND_CLIENTS) { c.at("/clients").ascii(" must NOT have more than ").i32(MAX_ROUND_CLIENTS).ascii(" items"); return false; }
      if (a.type != J_STRING) { c.at("/clients/").i32(i).ascii(" must be string"); return false; }
      o.readString(a.start + 1, a.end, this.name, MAX_NAME);
      const n = o.strBytes;
      if (n > MAX_NAME || !isName(this.name, n)) { c.at("/clients/").i32(i).ascii(" must match pattern \"^[A-Za-z0-9_-]{1,64}$\""); return false; }
      const b = this.walk2.reset(<usize>o.start[F_CLIENTS], <usize>o.end[F_CLIENTS]);
      for (let j = 0; j < i && b.next(); j++) {
        if (b.end - b.start == a.end - a.start && memory.compare(b.start, a.start, a.end - a.start) == 0) {
          c.at("/clients").ascii(" must NOT have duplicate items (items ## ").i32(j).ascii(" and ").i32(i).ascii(" are identical)");
          return false;
        }
      }
      if (n == idLen && memory.compare(this.name, id, <usize>n) == 0) this.round.sampled = true;
      i++;
    }
    return true;
  }

  private global(c: Check): bool {
    const o = this.top, g = this.glob, m = this.round;
    if (!nested(c, o, F_GLOBAL, g, "/global")) return false;
    if (!c.int(g, G_BYTES, "/global/bytes", 1, MAX_GLOBAL_BYTES) || !c.int(g, G_CRC, "/global/crc32", 0, U32_MAX) || !c.int(g, G_BASE, "/global/base", 0, U32_MAX)) return false;
    m.bytes = <u32>g.numberOf(G_BYTES);
    m.crc = <u32>g.numberOf(G_CRC);
    m.base = <u32>g.numberOf(G_BASE);
    return true;
  }

  private recipe(c: Check): bool {
    const o = this.top, r = this.sub, m = this.round;
    if (o.type[F_RECIPE] != J_OBJECT) return c.type("/recipe", "object");
    r.parse(<usize>o.start[F_RECIPE], <i32>(o.end[F_RECIPE] - o.start[F_RECIPE]));
    for (let i = R_METHOD; i <= R_SEED; i++) if (!r.has(i)) return c.required("/recipe", r.names[i]);
    if (r.unknown > 0) return c.additional("/recipe");
    const k = r.type[R_METHOD] == J_STRING ? r.stringOf(R_METHOD, this.small, 32) : -1;
    const backprop = bytesEq(this.small, k, "backprop"), mezo = bytesEq(this.small, k, "mezo");
    if (!backprop && !mezo) { c.at("/recipe/method").ascii(" must be equal to one of the allowed values"); return false; }
    m.mezo = mezo;
    if (!c.int(r, R_STEPS, "/recipe/steps", 1, 100000)) return false;
    if (r.type[R_LR] != J_NUMBER) return c.type("/recipe/lr", "number");
    const lr = r.numberOf(R_LR);
    if (!(lr > 0)) { c.at("/recipe/lr").ascii(" must be > 0"); return false; }
    if (lr > 1) { c.at("/recipe/lr").ascii(" must be <= 1"); return false; }
    if (!c.int(r, R_BATCH, "/recipe/batch", 1, 4096) || !c.int(r, R_SEQ, "/recipe/seq", 8, 4096) || !c.int(r, R_SEED, "/recipe/seed", 0, U32_MAX)) return false;
    m.steps = <i32>r.numberOf(R_STEPS);
    m.lr = <f32>lr;
    m.batch = <i32>r.numberOf(R_BATCH);
    m.seq = <i32>r.numberOf(R_SEQ);
    m.seed = <u32>r.numberOf(R_SEED);
    m.localDp = r.has(R_LOCAL_DP);
    if (m.localDp) {
      const d = this.dp;
      if (!nested(c, r, R_LOCAL_DP, d, "/recipe/localDp")) return false;
      if (d.type[D_CLIP] != J_NUMBER) return c.type("/recipe/localDp/clip", "number");
      if (!(d.numberOf(D_CLIP) > 0)) { c.at("/recipe/localDp/clip").ascii(" must be > 0"); return false; }
      if (!c.num(d, D_NOISE, "/recipe/localDp/noise", 0, 1000)) return false;
    }
    if (r.has(R_PROX) && !c.num(r, R_PROX, "/recipe/proxMu", 0, 1000)) return false;
    if (r.has(R_KEEP)) { // backprop clients keep their AdamW state over `rounds` rounds: not for MeZO
      const q = this.keep;
      if (!nested(c, r, R_KEEP, q, "/recipe/keepState")) return false;
      if (!c.int(q, 0, "/recipe/keepState/rounds", 1, 100000)) return false;
      if (mezo) { c.at("/recipe").ascii(" must NOT be valid (keepState is for backprop clients)"); return false; }
    }
    if (r.has(R_MEZO)) {
      const z = this.leaf;
      if (!nested(c, r, R_MEZO, z, "/recipe/mezo")) return false;
      if (z.type[M_EPS] != J_NUMBER) return c.type("/recipe/mezo/eps", "number");
      const eps = z.numberOf(M_EPS);
      if (!(eps > 0)) { c.at("/recipe/mezo/eps").ascii(" must be > 0"); return false; }
      if (eps > 1) { c.at("/recipe/mezo/eps").ascii(" must be <= 1"); return false; }
      if (!c.int(z, M_POOL, "/recipe/mezo/pool", 1, 1048576) || !c.int(z, M_POOL_SEED, "/recipe/mezo/poolSeed", 0, U32_MAX)) return false;
      m.eps = <f32>eps;
      m.pool = <u32>z.numberOf(M_POOL);
      m.poolSeed = <u32>z.numberOf(M_POOL_SEED);
    } else if (mezo) return c.required("/recipe", "mezo");
    return true;
  }

  private checkChunk(c: Check): bool {
    const o = this.top, m = this.chunk;
    const need = this.chunkRequired;
    for (let i = 0; i < need.length; i++) if (!o.has(need[i])) return c.required("", o.names[need[i]]);
    for (let f = F_COORDINATOR; f <= F_MISSING; f++) if (o.has(f) && !isIn(f, need)) return c.additional("");
    if (o.unknown > 0) return c.additional("");
    if (!c.int(o, F_ROUND, "/round", 1, U32_MAX) || !c.int(o, F_INDEX, "/index", 0, MAX_FED_PARTS - 1) || !c.int(o, F_CHUNKS, "/chunks", 1, MAX_FED_PARTS)
      || !c.int(o, F_CHUNK_BYTES, "/chunkBytes", MIN_FED_CHUNK_BYTES, MAX_FED_CHUNK_BYTES) || !c.int(o, F_BYTES, "/bytes", 0, U32_MAX)
      || !c.int(o, F_CRC, "/crc32", 0, U32_MAX)) return false;
    if (o.type[F_DATA] != J_STRING) return c.type("/data", "string");
    const s = <usize>o.start[F_DATA], n = <i32>(o.end[F_DATA] - o.start[F_DATA]);
    if (n > MAX_CHUNK_DATA_CHARS) { c.at("/data").ascii(" must NOT have more than ").i32(MAX_CHUNK_DATA_CHARS).ascii(" characters"); return false; }
    if (!base64Valid(s, n)) return c.pattern("/data", "^[A-Za-z0-9+/]*={0,2}$");
    m.round = <u32>o.numberOf(F_ROUND);
    m.index = <i32>o.numberOf(F_INDEX);
    m.chunks = <i32>o.numberOf(F_CHUNKS);
    m.chunkBytes = <i32>o.numberOf(F_CHUNK_BYTES);
    m.bytes = <u32>o.numberOf(F_BYTES);
    m.crc = <u32>o.numberOf(F_CRC);
    m.data = s;
    m.dataLen = n;
    return true;
  }

  private checkAck(c: Check): bool {
    const o = this.top, m = this.ack;
    if (!o.has(F_ROUND)) return c.required("", "round");
    if (!o.has(F_STATUS)) return c.required("", "status");
    for (let f = F_COORDINATOR; f <= F_DATA; f++) if (f != F_ROUND && o.has(f)) return c.additional("");
    if (o.unknown > 0) return c.additional("");
    if (!c.int(o, F_ROUND, "/round", 1, U32_MAX)) return false;
    const k = o.type[F_STATUS] == J_STRING ? o.stringOf(F_STATUS, this.small, 32) : -1;
    m.status = bytesEq(this.small, k, "accepted") ? ACK_ACCEPTED : bytesEq(this.small, k, "refused") ? ACK_REFUSED : bytesEq(this.small, k, "incomplete") ? ACK_INCOMPLETE : -1;
    if (m.status < 0) { c.at("/status").ascii(" must be equal to one of the allowed values"); return false; }
    m.reasonLen = 0;
    if (o.has(F_REASON)) {
      const r = o.type[F_REASON] == J_STRING ? o.stringOf(F_REASON, m.reason, 16) : -1;
      let known = false;
      for (let i = 0; i < this.refusals.length; i++) if (bytesEq(m.reason, r, this.refusals[i])) known = true;
      if (!known) { c.at("/reason").ascii(" must be equal to one of the allowed values"); return false; }
      m.reasonLen = r;
    }
    if (o.has(F_DETAIL)) {
      if (o.type[F_DETAIL] != J_STRING) return c.type("/detail", "string");
      o.stringOf(F_DETAIL, 0, 0);
      if (o.strChars > 256) { c.at("/detail").ascii(" must NOT have more than 256 characters"); return false; }
    }
    memory.fill(m.missing, 0, <usize>(MAX_FED_PARTS / 8));
    if (o.has(F_MISSING)) {
      if (o.type[F_MISSING] != J_ARRAY) return c.type("/missing", "array");
      const a = this.walk.reset(<usize>o.start[F_MISSING], <usize>o.end[F_MISSING]);
      let i = 0;
      while (a.next()) {
        if (a.type != J_NUMBER) { c.at("/missing/").i32(i).ascii(" must be integer"); return false; }
        const v = parseNumber(a.start, a.end);
        if (v != Math.floor(v)) { c.at("/missing/").i32(i).ascii(" must be integer"); return false; }
        if (v < 0) { c.at("/missing/").i32(i).ascii(" must be >= 0"); return false; }
        if (v > <f64>(MAX_FED_PARTS - 1)) { c.at("/missing/").i32(i).ascii(" must be <= ").i32(MAX_FED_PARTS - 1); return false; }
        if (bitAt(m.missing, <i32>v)) { c.at("/missing").ascii(" must NOT have duplicate items"); return false; }
        setBit(m.missing, <i32>v);
        i++;
      }
    }
    m.round = <u32>o.numberOf(F_ROUND);
    return true;
  }
}

// ajv-worded reasons: ": <kind>: <path> must …".
class Check {
  w: Writer | null = null;
  kind: string = "";
  reset(w: Writer, kind: string): Check { this.w = w; this.kind = kind; return this; }
  at(path: string): Writer { return this.w!.ascii(": ").ascii(this.kind).ascii(": ").ascii(path.length > 0 ? path : "/"); }
  required(path: string, name: string): bool { this.at(path).ascii(" must have required property '").ascii(name).byte(0x27); return false; }
  additional(path: string): bool { this.at(path).ascii(" must NOT have additional properties"); return false; }
  type(path: string, t: string): bool { this.at(path).ascii(" must be ").ascii(t); return false; }
  pattern(path: string, p: string): bool { this.at(path).ascii(" must match pattern \"").ascii(p).byte(0x22); return false; }
  range(path: string, v: f64, lo: f64, hi: f64): bool {
    if (v < lo) { this.at(path).ascii(" must be >= ").u64(<u64>lo); return false; }
    if (v > hi) { this.at(path).ascii(" must be <= ").u64(<u64>hi); return false; }
    return true;
  }
  int(o: FlatObject, f: i32, path: string, lo: f64, hi: f64): bool {
    if (o.type[f] != J_NUMBER) return this.type(path, "integer");
    const v = o.numberOf(f);
    if (v != Math.floor(v)) return this.type(path, "integer");
    return this.range(path, v, lo, hi);
  }
  num(o: FlatObject, f: i32, path: string, lo: f64, hi: f64): bool {
    if (o.type[f] != J_NUMBER) return this.type(path, "number");
    return this.range(path, o.numberOf(f), lo, hi);
  }
  name(o: FlatObject, f: i32, path: string, out: usize): bool {
    if (o.type[f] != J_STRING) return this.type(path, "string");
    const n = o.stringOf(f, out, MAX_NAME);
    if (n > MAX_NAME || !isName(out, n)) return this.pattern(path, "^[A-Za-z0-9_-]{1,64}$");
    return true;
  }
}

// ---- outbound ---------------------------------------------------------------------------

function head(w: Writer, kind: string): Writer { return w.ascii("{\"v\":1,\"kind\":").jsonAscii(kind); }

// The retained presence: online with what it runs (MeZO only: the module trains forward-only).
export function writeTrainerOnline(w: Writer, id: usize, idLen: i32, base: u32, maxChunk: i32, nonce: usize, nonceLen: i32): void {
  head(w, "trainer").ascii(",\"id\":").jsonString(id, idLen).ascii(",\"online\":true,\"methods\":[\"mezo\"],\"base\":").u32(base)
    .ascii(",\"maxChunk\":").i32(maxChunk);
  if (nonceLen > 0) w.ascii(",\"nonce\":").jsonString(nonce, nonceLen);
  w.byte(0x7d);
}

export function writeTrainerOffline(w: Writer, id: usize, idLen: i32): void {
  head(w, "trainer").ascii(",\"id\":").jsonString(id, idLen).ascii(",\"online\":false}");
}

export function writeFetch(w: Writer, round: u32, from: i32, count: i32, chunkBytes: i32): void {
  head(w, "fetch").ascii(",\"round\":").u32(round).ascii(",\"from\":").i32(from).ascii(",\"count\":").i32(count)
    .ascii(",\"chunkBytes\":").i32(chunkBytes).byte(0x7d);
}

// One part of a seed-and-scalar update: data[n] is part `part` of `bytes` cut every partBytes.
export function writeUpdatePart(w: Writer, round: u32, examples: u32, loss: f64, part: i32, parts: i32, partBytes: i32, bytes: i32, crc: u32, data: usize, n: i32): void {
  head(w, "update").ascii(",\"round\":").u32(round).ascii(",\"method\":\"mezo\",\"examples\":").u32(examples);
  if (loss >= 0 && loss < 1e9) w.ascii(",\"loss\":").fixed(loss, 6);
  w.ascii(",\"part\":").i32(part).ascii(",\"parts\":").i32(parts).ascii(",\"partBytes\":").i32(partBytes).ascii(",\"bytes\":").i32(bytes)
    .ascii(",\"crc32\":").u32(crc).ascii(",\"data\":").jsonBase64(data, n).byte(0x7d);
}

// The largest update part for partBytes raw bytes.
export function updatePartCap(partBytes: i32): i32 { return ((partBytes + 2) / 3) * 4 + 320; }

// ---- helpers ----------------------------------------------------------------------------

// Bit i of the bitset at p.
export function bitAt(p: usize, i: i32): bool { return ((<u32>load<u8>(p + <usize>(i >> 3)) >> <u32>(i & 7)) & 1) != 0; }
export function setBit(p: usize, i: i32): void { store<u8>(p + <usize>(i >> 3), <u8>(<u32>load<u8>(p + <usize>(i >> 3)) | (1 << <u32>(i & 7)))); }

// Member f of parent, an object whose members are all of child's names and no other, parsed into child.
function nested(c: Check, parent: FlatObject, f: i32, child: FlatObject, path: string): bool {
  if (parent.type[f] != J_OBJECT) return c.type(path, "object");
  child.parse(<usize>parent.start[f], <i32>(parent.end[f] - parent.start[f]));
  for (let i = 0; i < child.names.length; i++) if (!child.has(i)) return c.required(path, child.names[i]);
  if (child.unknown > 0) return c.additional(path);
  return true;
}

function extraBeyond(o: FlatObject, last: i32): bool {
  for (let f = last + 1; f < o.names.length; f++) if (o.has(f)) return true;
  return false;
}

function isIn(f: i32, a: StaticArray<i32>): bool {
  for (let i = 0; i < a.length; i++) if (a[i] == f) return true;
  return false;
}
