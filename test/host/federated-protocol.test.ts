// The federated round messages (docs/protocol.md §9) against the Node codec: the shared vectors
// (test/vectors/protocol/federated.json), and the size rules the protocol promises: a chunk or
// update part of the largest size still fits one payload, and the ESP32's chunks fit its inbox.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PROJECT_ROOT } from "../../host/engine/module.js";
import { FleetError } from "../../host/fleet/errors.js";
import { b64, decode, encode } from "../../host/fleet/messages.js";
import { ESP32_FED_CHUNK_BYTES, MAX_FED_CHUNK_BYTES, MAX_FED_PARTS, MAX_PAYLOAD_BYTES, MAX_ROUND_CLIENTS } from "../../host/fleet/schemas.js";
import { parseTopic, topics } from "../../host/fleet/topics.js";

interface MessageVector {
  name: string; topic: string; payload?: unknown; payloadText?: string; payloadFill?: { byte: number; length: number };
  expect: "ok" | "reject"; kind?: string; reason?: string;
}
interface TopicVector { fn: keyof typeof topics; args: string[]; topic?: string; error?: string }
const vectors = JSON.parse(readFileSync(join(PROJECT_ROOT, "test", "vectors", "protocol", "federated.json"), "utf8")) as { messages: MessageVector[]; topics: TopicVector[] };

const payloadOf = (v: MessageVector): Buffer =>
  v.payloadText !== undefined ? Buffer.from(v.payloadText, "utf8") : v.payloadFill ? Buffer.alloc(v.payloadFill.length, v.payloadFill.byte) : Buffer.from(JSON.stringify(v.payload), "utf8");

test("federated vectors: each message is accepted or rejected with the documented reason", () => {
  assert.ok(vectors.messages.length >= 30);
  for (const kind of ["round", "trainer", "fetch", "chunk", "update", "ack"]) {
    assert.ok(vectors.messages.some((v) => v.expect === "ok" && v.kind === kind), `an accepted ${kind}`);
  }
  for (const v of vectors.messages) {
    const d = decode(v.topic, payloadOf(v));
    if (v.expect === "ok") {
      assert.ok(d.ok, `${v.name}: rejected: ${d.ok ? "" : d.reason}`);
      assert.equal(d.msg.kind, v.kind, v.name);
      const { v: _version, ...draft } = d.msg as unknown as Record<string, unknown>;
      assert.deepEqual(JSON.parse(encode(draft as never).toString("utf8")), v.payload, `${v.name}: re-encoded`);
    } else {
      assert.ok(!d.ok, `${v.name}: accepted`);
      assert.ok(d.reason.includes(v.reason!), `${v.name}: reason '${d.reason}' lacks '${v.reason}'`);
    }
  }
});

test("federated topic vectors: builders give the documented topics and parse back", () => {
  for (const v of vectors.topics) {
    const build = topics[v.fn] as (...a: string[]) => string;
    if (v.error) {
      assert.throws(() => build(...v.args), (e: unknown) => e instanceof FleetError && e.message.includes(v.error!), `${v.fn}(${v.args})`);
      continue;
    }
    assert.equal(build(...v.args), v.topic);
    if (!v.topic!.includes("+")) assert.equal(typeof parseTopic(v.topic!), "object", v.topic);
  }
});

test("the largest chunk, update part and announcement fit one payload; an ESP32 chunk fits its 4 KiB inbox", () => {
  const data = (n: number) => b64.from(new Uint8Array(n).fill(0xff));
  const big = { round: 4294967295, index: MAX_FED_PARTS - 1, chunks: MAX_FED_PARTS, chunkBytes: MAX_FED_CHUNK_BYTES, bytes: 4294967295, crc32: 4294967295 };
  assert.ok(encode({ kind: "chunk", ...big, data: data(MAX_FED_CHUNK_BYTES) }).length <= MAX_PAYLOAD_BYTES);
  assert.ok(encode({ kind: "update", round: 4294967295, method: "backprop", examples: 4294967295, loss: -1.2345678901234567e-300, part: MAX_FED_PARTS - 1, parts: MAX_FED_PARTS, partBytes: MAX_FED_CHUNK_BYTES, bytes: 4294967295, crc32: 4294967295, data: data(MAX_FED_CHUNK_BYTES) }).length <= MAX_PAYLOAD_BYTES);
  assert.ok(encode({ kind: "chunk", ...big, chunkBytes: ESP32_FED_CHUNK_BYTES, data: data(ESP32_FED_CHUNK_BYTES) }).length <= 4096);
  const clients = Array.from({ length: MAX_ROUND_CLIENTS }, (_, i) => `home-${i}-${"x".repeat(40)}`);
  const round = encode({ kind: "round", coordinator: "c".repeat(64), open: true, round: 4294967295, ts: 1e13, deadlineMs: 86400000, nonce: "f".repeat(16), clients,
    global: { bytes: 1, crc32: 1, base: 1 }, recipe: { method: "mezo", steps: 100000, lr: 1, batch: 4096, seq: 4096, seed: 4294967295, mezo: { eps: 1, pool: 1 << 20, poolSeed: 4294967295 } } });
  assert.ok(round.length <= MAX_PAYLOAD_BYTES, `${round.length} bytes`);
  assert.throws(() => encode({ kind: "chunk", ...big, data: data(MAX_FED_CHUNK_BYTES + 3) }), /chunk/);
});
