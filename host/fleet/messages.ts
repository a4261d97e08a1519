// Message types and the one encoder/decoder: size, JSON, version, kind, schema and topic checks.
import { Ajv, type ValidateFunction } from "ajv";
import { FED_REFUSALS, MAX_PAYLOAD_BYTES, PROTOCOL_VERSION, SCHEMAS, type MessageKind, type TaskType } from "./schemas.js";
import { parseTopic, type Route } from "./topics.js";

export type TaskStatus = "done" | "cancelled" | "expired" | "failed";

export interface ModelCaps { id: string; quant: string; ctx: number; vocab: number }
export interface Sampling { prompt: string; steps: number; temperature: number; topp: number; seed: string }
// A task's adapter: an id its peer announced, at a scale (default 1).
export interface AdapterChoice { adapter?: string; scale?: number }
// What a task asks for: text (the default) or a home-command label of the prompt (schemas.ts TASK_TYPES).
export interface TaskTypeChoice { task?: TaskType }

export interface StatusOnline {
  v: 1; kind: "status"; id: string; online: true; ts: number; impl?: string; model: ModelCaps;
  tokPerSec: number; freeMem: number; queue: number; maxQueue: number;
  nonce?: string; since?: number; // this process's presence nonce and when it first connected
  adapters?: string[];             // ids of the adapters it holds (a task may name one)
  taskTypes?: TaskType[];          // task types beyond "text" it serves ("commands")
}
export interface StatusOffline { v: 1; kind: "status"; id: string; online: false }
export type Status = StatusOnline | StatusOffline;
export interface Heartbeat { v: 1; kind: "heartbeat"; id: string; ts: number; queue: number; tasks: string[] }
export interface Accept { v: 1; kind: "accept"; taskId: string; attempt: number }
export interface Reject { v: 1; kind: "reject"; taskId: string; attempt: number; reason: string }
export interface Tokens { v: 1; kind: "tokens"; taskId: string; attempt: number; offset: number; data: string }
export interface Result {
  v: 1; kind: "result"; taskId: string; attempt: number; status: TaskStatus; data: string;
  tokens: number; elapsedMs: number; error?: string;
}
export interface Task extends Sampling, AdapterChoice, TaskTypeChoice { v: 1; kind: "task"; taskId: string; attempt: number; leaseMs: number; deadlineMs: number }
export interface Cancel { v: 1; kind: "cancel"; taskId: string; reason: string }
export interface Submit extends Sampling, AdapterChoice, TaskTypeChoice { v: 1; kind: "submit"; taskId: string; client: string; deadlineMs?: number; model?: string }
export interface GatewayPresence { v: 1; kind: "gateway"; id: string; online: boolean; ts?: number; nonce?: string; since?: number }
export interface Queued { v: 1; kind: "queued"; taskId: string; position: number }
export interface Reply {
  v: 1; kind: "reply"; taskId: string; status: TaskStatus; data: string; tokens: number;
  elapsedMs: number; attempts: number; peer?: string; error?: string;
}

// Federated rounds (docs/protocol.md §9).
export type TrainMethod = "backprop" | "mezo";
export type FedRefusal = (typeof FED_REFUSALS)[number]; // = the Coordinator's RefusalReason (round-driver.ts checks it)
export interface Recipe {
  method: TrainMethod; steps: number; lr: number; batch: number; seq: number; seed: number;
  localDp?: { clip: number; noise: number };              // clip + noise on the device before the update leaves
  mezo?: { eps: number; pool: number; poolSeed: number }; // the shared seed pool (method mezo)
  proxMu?: number;                                        // FedProx: μ/2·‖θ − θ_global‖² in the local loss (backprop)
  keepState?: { rounds: number };                         // backprop clients keep their AdamW state between rounds, one cosine over rounds × steps
}
export interface RoundOpen {
  v: 1; kind: "round"; coordinator: string; open: true; round: number; ts: number; deadlineMs: number;
  nonce?: string; // the coordinator process's: a restarted one has none of the round's updates
  clients: string[]; global: { bytes: number; crc32: number; base: number }; recipe: Recipe;
}
export interface RoundClosed { v: 1; kind: "round"; coordinator: string; open: false; round?: number }
export type Round = RoundOpen | RoundClosed;
export interface TrainerOnline { v: 1; kind: "trainer"; id: string; online: true; methods: TrainMethod[]; base: number; maxChunk: number; nonce?: string }
export interface TrainerOffline { v: 1; kind: "trainer"; id: string; online: false }
export type Trainer = TrainerOnline | TrainerOffline;
export interface Fetch { v: 1; kind: "fetch"; round: number; from: number; count: number; chunkBytes: number }
export interface Chunk { v: 1; kind: "chunk"; round: number; index: number; chunks: number; chunkBytes: number; bytes: number; crc32: number; data: string }
export interface Update {
  v: 1; kind: "update"; round: number; method: TrainMethod; examples: number; loss?: number;
  part: number; parts: number; partBytes: number; bytes: number; crc32: number; data: string;
}
export interface Ack { v: 1; kind: "ack"; round: number; status: "accepted" | "refused" | "incomplete"; reason?: FedRefusal; detail?: string; missing?: number[] }

export type Message = Status | Heartbeat | Accept | Reject | Tokens | Result | Task | Cancel | Submit | GatewayPresence | Queued | Reply
  | Round | Trainer | Fetch | Chunk | Update | Ack;
export type MessageOf<K extends MessageKind> = Extract<Message, { kind: K }>;
// What callers build: everything but the version, which encode() adds.
export type Draft<M extends Message> = M extends Message ? Omit<M, "v"> : never;

const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true });
const validators = new Map<string, ValidateFunction>(
  Object.entries(SCHEMAS).map(([k, s]) => [k, ajv.compile(s as object)]),
);

// What is wrong with a message we are about to send, or null: for drafts built from user input.
export function draftProblem(m: Draft<Message>): string | null {
  return validate({ v: PROTOCOL_VERSION, ...m });
}

export function encode(m: Draft<Message>): Buffer {
  const full = { v: PROTOCOL_VERSION, ...m };
  const bytes = Buffer.from(JSON.stringify(full), "utf8");
  const err = validate(full);
  if (err) throw new Error(`encode ${m.kind}: ${err}`); // a bug in our own code, not bad input
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new Error(`encode ${m.kind}: ${bytes.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`);
  return bytes;
}

function validate(obj: unknown): string | null {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return "payload is not a JSON object";
  const o = obj as { v?: unknown; kind?: unknown };
  if (o.v !== PROTOCOL_VERSION) return `unsupported protocol version ${JSON.stringify(o.v)}`;
  const check = typeof o.kind === "string" ? validators.get(o.kind) : undefined;
  if (!check) return `unknown kind ${JSON.stringify(o.kind)}`;
  if (!check(obj)) {
    const e = check.errors?.[0];
    return `${o.kind}: ${e ? `${e.instancePath || "/"} ${e.message}` : "invalid"}`;
  }
  return null;
}

export type Decoded = { ok: true; route: Route; msg: Message } | { ok: false; reason: string };

// Everything received goes through here; a failure carries a reason for one log line.
export function decode(topic: string, payload: Uint8Array): Decoded {
  const route = parseTopic(topic);
  if (typeof route === "string") return { ok: false, reason: route };
  if (payload.length > MAX_PAYLOAD_BYTES) return { ok: false, reason: `${topic}: ${payload.length}-byte payload is over the ${MAX_PAYLOAD_BYTES}-byte limit` };
  let obj: unknown;
  try {
    obj = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString("utf8"));
  } catch {
    return { ok: false, reason: `${topic}: payload is not JSON` };
  }
  const err = validate(obj);
  if (err) return { ok: false, reason: `${topic}: ${err}` };
  const msg = obj as Message;
  if (msg.kind !== route.kind) return { ok: false, reason: `${topic}: kind '${msg.kind}' does not match the topic` };
  if ((msg.kind === "status" || msg.kind === "heartbeat" || msg.kind === "trainer") && (route.dir === "peer" || route.dir === "fedpeer") && msg.id !== route.id) {
    return { ok: false, reason: `${topic}: id '${msg.id}' does not match the topic's peer id` };
  }
  return { ok: true, route, msg };
}

export const b64 = {
  from: (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64"),
  to: (s: string) => new Uint8Array(Buffer.from(s, "base64")),
};
