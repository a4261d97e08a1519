// JSON Schemas of every message kind (docs/protocol.md §3). Every payload is one JSON object
// with "v" (protocol version) and "kind"; unknown fields are rejected so that a typo is an error.
export const PROTOCOL_VERSION = 1;
export const MAX_PAYLOAD_BYTES = 65536;   // any message; checked before parsing
export const MAX_PROMPT_BYTES = 8192;     // UTF-8 bytes of a prompt
export const MAX_DATA_CHARS = 60000;      // base64 characters of generated text in one message
export const MAX_MODEL_ID_CHARS = 128;
export const MAX_PEER_QUEUE = 64;         // tasks a peer's agent holds at most (assembly/agent/peer.ts MAX_QUEUE)
// Adapters (docs/adapter-format.md) a peer holds and announces: ids are file stems with the
// model ids' characters and length; a peer holds at most MAX_PEER_ADAPTERS (assembly/model/lora.ts MAX_HELD).
export const MAX_PEER_ADAPTERS = 32;
export const ADAPTER_ID_PATTERN = "^[A-Za-z0-9_.-]{1,128}$";
export const MAX_ADAPTER_SCALE = 100;     // |scale| of a task's adapter
// Whole MQTT packets (payload, topic, headers): the brokers refuse larger ones and MQTT 5
// clients ask not to be sent any (deploy/mosquitto/mosquitto.conf's max_packet_size).
export const MAX_PACKET_BYTES = 70000;

const name = { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" } as const;
const u32 = { type: "integer", minimum: 0, maximum: 4294967295 } as const;
const base64 = { type: "string", maxLength: MAX_DATA_CHARS, pattern: "^[A-Za-z0-9+/]*={0,2}$" } as const;
const seed = { type: "string", pattern: "^[0-9]{1,20}$" } as const; // decimal u64 (JSON numbers lose bits)
const adapterId = { type: "string", pattern: ADAPTER_ID_PATTERN } as const;
// A task's adapter (an id the peer announced) and its scale (default 1; only with an adapter).
const adapterChoice = { adapter: adapterId, scale: { type: "number", minimum: -MAX_ADAPTER_SCALE, maximum: MAX_ADAPTER_SCALE } } as const;
const scaleNeedsAdapter = { scale: ["adapter"] } as const;
// What a task asks for (docs/protocol.md §3 "Task types"): "text" (the default: the prompt is
// continued as by `edgellm run`) or "commands" (the prompt is a sentence; the output is its
// home-command label, as `edgellm commands` prints it). Peers announce the types beyond "text"
// they serve in their status (`taskTypes`).
export const TASK_TYPES = ["text", "commands"] as const;
export type TaskType = typeof TASK_TYPES[number];
const taskType = { enum: [...TASK_TYPES] } as const;

function kind(k: string, props: Record<string, object>, required: string[]): object {
  return {
    type: "object",
    additionalProperties: false,
    properties: { v: { const: PROTOCOL_VERSION }, kind: { const: k }, ...props },
    required: ["v", "kind", ...required],
  };
}

const sampling = {
  prompt: { type: "string", maxLength: MAX_PROMPT_BYTES },
  steps: { type: "integer", minimum: 0, maximum: 65536 },
  temperature: { type: "number", minimum: 0, maximum: 100 },
  topp: { type: "number", minimum: 0, maximum: 1 },
  seed,
};
const samplingRequired = ["prompt", "steps", "temperature", "topp", "seed"];

// A process's presence nonce: tells its status from another process's with the same id.
const nonce = { type: "string", pattern: "^[0-9a-f]{1,16}$" };

// Federated rounds (docs/protocol.md §9): the coordinator's announcement, trainers' presence,
// the global adapter fetched in checksummed chunks, updates uploaded in parts, the verdict.
export const MAX_FED_CHUNK_BYTES = 32768;  // raw bytes in one chunk or update part (43,692 base64 characters)
export const MIN_FED_CHUNK_BYTES = 256;
export const ESP32_FED_CHUNK_BYTES = 2048; // fits the ESP32 peer's 4 KiB inbox with the JSON around it
export const MAX_FED_PARTS = 4096;         // chunks of one adapter or parts of one update
export const MAX_FED_FETCH = 64;           // chunks one fetch asks for
export const MAX_ROUND_CLIENTS = 1024;     // clients one announcement names
export const FED_REFUSALS = ["late", "early", "not-sampled", "duplicate", "shape", "non-finite", "examples", "checksum", "method", "malformed"] as const;

function FEDERATED_SCHEMAS() {
  const chunkData = { type: "string", maxLength: Math.ceil(MAX_FED_CHUNK_BYTES / 3) * 4, pattern: "^[A-Za-z0-9+/]*={0,2}$" };
  const round = { ...u32, minimum: 1 };
  const chunkBytes = { type: "integer", minimum: MIN_FED_CHUNK_BYTES, maximum: MAX_FED_CHUNK_BYTES };
  const parts = { type: "integer", minimum: 1, maximum: MAX_FED_PARTS };
  const method = { enum: ["backprop", "mezo"] };
  const recipe = {
    type: "object", additionalProperties: false,
    properties: {
      method, steps: { type: "integer", minimum: 1, maximum: 100000 }, lr: { type: "number", exclusiveMinimum: 0, maximum: 1 },
      batch: { type: "integer", minimum: 1, maximum: 4096 }, seq: { type: "integer", minimum: 8, maximum: 4096 }, seed: u32,
      localDp: { type: "object", additionalProperties: false, properties: { clip: { type: "number", exclusiveMinimum: 0 }, noise: { type: "number", minimum: 0, maximum: 1000 } }, required: ["clip", "noise"] },
      proxMu: { type: "number", minimum: 0, maximum: 1000 },
      keepState: { type: "object", additionalProperties: false, properties: { rounds: { type: "integer", minimum: 1, maximum: 100000 } }, required: ["rounds"] },
      mezo: { type: "object", additionalProperties: false, properties: { eps: { type: "number", exclusiveMinimum: 0, maximum: 1 }, pool: { type: "integer", minimum: 1, maximum: 1 << 20 }, poolSeed: u32 }, required: ["eps", "pool", "poolSeed"] },
    },
    required: ["method", "steps", "lr", "batch", "seq", "seed"],
    // Kept optimizer state is AdamW's: backprop clients only.
    if: { properties: { method: { const: "mezo" } } }, then: { required: ["mezo"], not: { required: ["keepState"] } },
  };
  return {
    round: {
      ...kind("round", {
        coordinator: name, open: { type: "boolean" }, round, ts: { type: "number", minimum: 0 }, nonce,
        deadlineMs: { type: "integer", minimum: 1, maximum: 86400000 },
        clients: { type: "array", maxItems: MAX_ROUND_CLIENTS, uniqueItems: true, items: name },
        global: { type: "object", additionalProperties: false, properties: { bytes: { ...u32, minimum: 1, maximum: MAX_FED_PARTS * MAX_FED_CHUNK_BYTES }, crc32: u32, base: u32 }, required: ["bytes", "crc32", "base"] },
        recipe,
      }, ["coordinator", "open"]),
      if: { properties: { open: { const: true } } }, then: { required: ["round", "ts", "deadlineMs", "clients", "global", "recipe"] },
    },
    trainer: {
      ...kind("trainer", {
        id: name, online: { type: "boolean" }, methods: { type: "array", minItems: 1, maxItems: 2, uniqueItems: true, items: method },
        base: u32, maxChunk: chunkBytes, nonce,
      }, ["id", "online"]),
      if: { properties: { online: { const: true } } }, then: { required: ["methods", "base", "maxChunk"] },
    },
    fetch: kind("fetch", { round, from: { ...u32, maximum: MAX_FED_PARTS - 1 }, count: { type: "integer", minimum: 1, maximum: MAX_FED_FETCH }, chunkBytes }, ["round", "from", "count", "chunkBytes"]),
    chunk: kind("chunk", { round, index: { ...u32, maximum: MAX_FED_PARTS - 1 }, chunks: parts, chunkBytes, bytes: u32, crc32: u32, data: chunkData }, ["round", "index", "chunks", "chunkBytes", "bytes", "crc32", "data"]),
    update: kind("update", {
      round, method, examples: { ...u32, minimum: 1 }, loss: { type: "number" },
      part: { ...u32, maximum: MAX_FED_PARTS - 1 }, parts, partBytes: chunkBytes, bytes: u32, crc32: u32, data: chunkData,
    }, ["round", "method", "examples", "part", "parts", "partBytes", "bytes", "crc32", "data"]),
    ack: kind("ack", {
      round, status: { enum: ["accepted", "refused", "incomplete"] }, reason: { enum: FED_REFUSALS }, detail: { type: "string", maxLength: 256 },
      missing: { type: "array", maxItems: MAX_FED_PARTS, uniqueItems: true, items: { ...u32, maximum: MAX_FED_PARTS - 1 } },
    }, ["round", "status"]),
  } as const;
}

export const SCHEMAS = {
  status: {
    type: "object",
    additionalProperties: false,
    properties: {
      v: { const: PROTOCOL_VERSION }, kind: { const: "status" }, id: name, online: { type: "boolean" },
      ts: { type: "number", minimum: 0 },
      impl: { type: "string", maxLength: 32 },
      model: {
        type: "object", additionalProperties: false,
        properties: { id: { type: "string", maxLength: MAX_MODEL_ID_CHARS }, quant: { type: "string", maxLength: 16 }, ctx: { ...u32, minimum: 1 }, vocab: u32 },
        required: ["id", "quant", "ctx", "vocab"],
      },
      tokPerSec: { type: "number", minimum: 0 },
      freeMem: { type: "number", minimum: 0 },
      queue: u32,
      maxQueue: { type: "integer", minimum: 1, maximum: 1024 },
      nonce: nonce, since: { type: "number", minimum: 0 },
      adapters: { type: "array", maxItems: MAX_PEER_ADAPTERS, uniqueItems: true, items: adapterId },
      taskTypes: { type: "array", maxItems: TASK_TYPES.length, uniqueItems: true, items: taskType },
    },
    required: ["v", "kind", "id", "online"],
    if: { properties: { online: { const: true } } },
    then: { required: ["ts", "model", "tokPerSec", "freeMem", "queue", "maxQueue"] },
  },
  heartbeat: kind("heartbeat", { id: name, ts: { type: "number", minimum: 0 }, queue: u32, tasks: { type: "array", maxItems: 1024, items: name } }, ["id", "ts", "queue", "tasks"]),
  accept: kind("accept", { taskId: name, attempt: u32 }, ["taskId", "attempt"]),
  reject: kind("reject", { taskId: name, attempt: u32, reason: { type: "string", maxLength: 256 } }, ["taskId", "attempt", "reason"]),
  tokens: kind("tokens", { taskId: name, attempt: u32, offset: u32, data: base64 }, ["taskId", "attempt", "offset", "data"]),
  result: kind("result", {
    taskId: name, attempt: u32,
    status: { enum: ["done", "cancelled", "expired", "failed"] },
    data: base64, tokens: u32, elapsedMs: { type: "number", minimum: 0 },
    error: { type: "string", maxLength: 256 },
  }, ["taskId", "attempt", "status", "data", "tokens", "elapsedMs"]),
  task: { ...kind("task", {
    taskId: name, attempt: u32, leaseMs: { type: "integer", minimum: 1, maximum: 3600000 },
    deadlineMs: { type: "integer", minimum: 0, maximum: 86400000 }, ...sampling, ...adapterChoice, task: taskType,
  }, ["taskId", "attempt", "leaseMs", "deadlineMs", ...samplingRequired]), dependencies: scaleNeedsAdapter },
  cancel: kind("cancel", { taskId: name, reason: { type: "string", maxLength: 256 } }, ["taskId", "reason"]),
  submit: { ...kind("submit", {
    taskId: name, client: name, ...sampling,
    deadlineMs: { type: "integer", minimum: 0, maximum: 86400000 },
    model: { type: "string", maxLength: MAX_MODEL_ID_CHARS }, ...adapterChoice, task: taskType,
  }, ["taskId", "client", ...samplingRequired]), dependencies: scaleNeedsAdapter },
  gateway: kind("gateway", { id: name, online: { type: "boolean" }, ts: { type: "number", minimum: 0 }, nonce, since: { type: "number", minimum: 0 } }, ["id", "online"]),
  queued: kind("queued", { taskId: name, position: u32 }, ["taskId", "position"]),
  reply: kind("reply", {
    taskId: name,
    status: { enum: ["done", "cancelled", "expired", "failed"] },
    data: base64, tokens: u32, elapsedMs: { type: "number", minimum: 0 },
    peer: { type: "string", maxLength: 64 }, attempts: u32,
    error: { type: "string", maxLength: 256 },
  }, ["taskId", "status", "data", "tokens", "elapsedMs", "attempts"]),
  ...FEDERATED_SCHEMAS(),
} as const;

export type MessageKind = keyof typeof SCHEMAS;
export const MESSAGE_KINDS = Object.keys(SCHEMAS) as MessageKind[];
