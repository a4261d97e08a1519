// The protocol's shared test vectors (test/vectors/protocol/vectors.json) against the Node codec.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PROJECT_ROOT } from "../../host/engine/module.js";
import { FleetError } from "../../host/fleet/errors.js";
import { b64, decode, encode } from "../../host/fleet/messages.js";
import { parseTopic, topics } from "../../host/fleet/topics.js";

interface MessageVector {
  name: string; topic: string; payload?: unknown; payloadText?: string; payloadFill?: { byte: number; length: number };
  expect: "ok" | "reject"; kind?: string; reason?: string;
}
interface TopicVector { fn: keyof typeof topics; args: string[]; topic?: string; error?: string }

const vectors = JSON.parse(readFileSync(join(PROJECT_ROOT, "test", "vectors", "protocol", "vectors.json"), "utf8")) as { messages: MessageVector[]; topics: TopicVector[] };

function payloadOf(v: MessageVector): Buffer {
  if (v.payloadText !== undefined) return Buffer.from(v.payloadText, "utf8");
  if (v.payloadFill) return Buffer.alloc(v.payloadFill.length, v.payloadFill.byte);
  return Buffer.from(JSON.stringify(v.payload), "utf8");
}

test("message vectors: each is accepted or rejected with the documented reason", () => {
  assert.ok(vectors.messages.length >= 30);
  for (const v of vectors.messages) {
    const d = decode(v.topic, payloadOf(v));
    if (v.expect === "ok") {
      assert.ok(d.ok, `${v.name}: rejected: ${d.ok ? "" : d.reason}`);
      assert.equal(d.msg.kind, v.kind, v.name);
    } else {
      assert.ok(!d.ok, `${v.name}: accepted`);
      assert.ok(d.reason.includes(v.reason!), `${v.name}: reason '${d.reason}' lacks '${v.reason}'`);
    }
  }
});

test("accepted vectors re-encode to the same JSON (one writer, one reader)", () => {
  for (const v of vectors.messages.filter((x) => x.expect === "ok")) {
    const d = decode(v.topic, payloadOf(v));
    assert.ok(d.ok);
    const { v: _version, ...draft } = d.msg as unknown as Record<string, unknown>;
    assert.deepEqual(JSON.parse(encode(draft as never).toString("utf8")), v.payload, v.name);
  }
});

test("topic vectors: builders give the documented topics and parse back", () => {
  for (const v of vectors.topics) {
    const build = topics[v.fn] as (...a: string[]) => string;
    if (v.error) {
      assert.throws(() => build(...v.args), (e: unknown) => e instanceof FleetError && e.code === "E_FLEET_CONFIG" && e.message.includes(v.error!), `${v.fn}(${v.args})`);
      continue;
    }
    assert.equal(build(...v.args), v.topic);
    if (!v.topic!.includes("+")) assert.equal(typeof parseTopic(v.topic!), "object", v.topic);
  }
});

test("encode refuses to build an invalid message (a bug, caught before it is sent)", () => {
  assert.throws(() => encode({ kind: "accept", taskId: "bad id", attempt: 1 }), /encode accept/);
  assert.throws(() => encode({ kind: "tokens", taskId: "t", attempt: 1, offset: 0, data: "A".repeat(70000) }), /encode tokens/);
});

test("base64 carries arbitrary bytes, split UTF-8 included", () => {
  const bytes = new Uint8Array([0xe2, 0x80, 0x99, 0x00, 0xff]);
  assert.deepEqual(b64.to(b64.from(bytes)), bytes);
  assert.deepEqual(b64.to(b64.from(bytes.subarray(1, 2))), new Uint8Array([0x80]));
});
