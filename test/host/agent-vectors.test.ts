// The protocol's shared vectors (test/vectors/protocol/vectors.json) through the module's agent
// (assembly/agent/), and the agent's verdict against the TS decoder's on further edge cases.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { generate } from "../../host/engine/generate.js";
import { decode } from "../../host/fleet/messages.js";
import { E_REJECTED, haveShared, TestAgent } from "./agent-helpers.js";
import { ROOT } from "./helpers.js";

interface MessageVector {
  name: string; topic: string; payload?: unknown; payloadText?: string; payloadFill?: { byte: number; length: number };
  expect: "ok" | "reject"; kind?: string; reason?: string;
}
const vectors = JSON.parse(readFileSync(join(ROOT, "test", "vectors", "protocol", "vectors.json"), "utf8")) as { messages: MessageVector[] };

function payloadOf(v: MessageVector): Buffer {
  if (v.payloadText !== undefined) return Buffer.from(v.payloadText, "utf8");
  if (v.payloadFill) return Buffer.alloc(v.payloadFill.length, v.payloadFill.byte);
  return Buffer.from(JSON.stringify(v.payload), "utf8");
}

const INBOX = /^edgellm\/v1\/f1\/to\/p1\/(task|cancel)$/;
const skip = skipUnless(haveShared, "../shared/models");

test("every inbox vector: accepted or rejected by the agent as documented, with the reason", { skip }, () => {
  const inbox = vectors.messages.filter((v) => INBOX.test(v.topic));
  assert.ok(inbox.length >= 15, `${inbox.length} inbox vectors`);
  assert.ok(inbox.some((v) => v.expect === "ok") && inbox.some((v) => v.expect === "reject"));
  const a = new TestAgent({ maxQueue: 64, ctx: 64 });
  for (const v of inbox) {
    a.now += 1000; // a new second: every refusal logged (at most 10 a second are)
    const before = a.pubs.length;
    const heldBefore = a.x.agentHeld();
    const r = a.send(v.topic, payloadOf(v));
    if (v.expect === "ok") {
      assert.equal(r.rc, 0, `${v.name}: rejected: ${r.reason}`);
      if (v.kind === "task") {
        const p = v.payload as { taskId: string; attempt: number; steps: number; adapter?: string; task?: string };
        const last = a.pubs.at(-1)!;
        if (p.task === "commands") {
          // A valid commands task on a peer that does not serve them: answered, with a reject saying so.
          assert.deepEqual(last.msg, { v: 1, kind: "reject", taskId: p.taskId, attempt: p.attempt, reason: "commands tasks are not served by this peer" }, v.name);
          continue;
        }
        if (p.adapter) {
          // A valid task for an adapter this peer does not hold: answered, with a reject naming it.
          assert.deepEqual(last.msg, { v: 1, kind: "reject", taskId: p.taskId, attempt: p.attempt, reason: `adapter '${p.adapter}' is not held by this peer` }, v.name);
          continue;
        }
        // steps 64 fits ctx 64, so each accepted task is answered with accept
        assert.equal(last.msg.kind, "accept", v.name);
        assert.deepEqual(last.msg, { v: 1, kind: "accept", taskId: p.taskId, attempt: p.attempt }, v.name);
      }
    } else {
      assert.equal(r.rc, E_REJECTED, `${v.name}: accepted`);
      assert.ok(r.reason.includes(v.reason!), `${v.name}: reason '${r.reason}' lacks '${v.reason}'`);
      assert.equal(a.pubs.length, before, `${v.name}: a rejected message published something`);
      assert.equal(a.x.agentHeld(), heldBefore, `${v.name}: a rejected message changed state`);
      assert.ok(a.logs.at(-1)!.startsWith("ignored message: ") && a.logs.at(-1)!.includes(v.reason!), `${v.name}: log line`);
    }
  }
  assert.deepEqual(a.invalid, []);
});

test("topics other than this peer's inbox are rejected, valid payloads included", { skip }, () => {
  const a = new TestAgent({ ctx: 64 });
  // The peer's own status topic is its presence, guarded rather than refused (agent-presence.test.ts).
  const others = vectors.messages.filter((v) => !INBOX.test(v.topic) && v.topic !== "edgellm/v1/f1/peer/p1/status");
  assert.ok(others.length >= 20);
  for (const v of others) {
    const r = a.send(v.topic, payloadOf(v));
    assert.equal(r.rc, E_REJECTED, `${v.name} on ${v.topic}: accepted`);
    assert.ok(r.reason.startsWith(`topic '${v.topic}'`), `${v.name}: reason '${r.reason}'`);
  }
  const task = { v: 1, kind: "task", taskId: "t-1", attempt: 1, leaseMs: 5000, deadlineMs: 0, prompt: "x", steps: 8, temperature: 0, topp: 0.9, seed: "1" };
  for (const [topic, why] of [
    ["edgellm/v1/f1/to/p2/task", "not this peer's inbox"],
    ["edgellm/v1/f2/to/p1/task", "not this peer's inbox"],
    ["edgellm/v1/f1/peer/p1/task", "unknown kind 'task' under 'peer'"],
    ["edgellm/v1/f1/gw/submit", "not a peer inbox"],
    ["edgellm/v1/f1/to/p1/submit", "unknown kind 'submit' under 'to'"],
    ["edgellm/v1/f1/to/p1", "expected to/<id>/<kind>"],
    ["edgellm/v1/f1/to/p1/task/x", "expected to/<id>/<kind>"],
    ["edgellm/v1/f1/to/p 1/task", "expected to/<id>/<kind>"],
    ["edgellm/v1", "bad fleet name"],
    ["edgellm", "unsupported protocol version ''"],
    ["", "is outside edgellm/"],
    [`edgellm/v1/f1/to/p1/${"k".repeat(300)}`, "over the 256-byte limit"],
  ] as const) {
    const r = a.send(topic, task);
    assert.equal(r.rc, E_REJECTED, topic);
    assert.ok(r.reason.includes(why), `${topic}: '${r.reason}' lacks '${why}'`);
  }
  assert.equal(a.pubs.length, 0);
  assert.equal(a.x.agentHeld(), 0);
});

// Edge cases of JSON, UTF-8 and the schema: the agent's verdict must equal the TS decoder's.
test("the agent's verdict equals the TS decoder's on JSON, UTF-8 and schema edge cases", { skip }, () => {
  const topic = "edgellm/v1/f1/to/p1/task";
  const base = `"v":1,"kind":"task","attempt":1,"leaseMs":5000,"deadlineMs":0,"steps":8,"temperature":0,"topp":0.9,"seed":"7"`;
  const withPrompt = (p: string, id = "t") => `{"taskId":"${id}","prompt":${p},${base}}`;
  const cases: (string | Buffer)[] = [
    withPrompt(`"plain"`), withPrompt(`"\\u00e9\\u2603\\ud83d\\ude00"`), withPrompt(`"lone \\ud800 high"`), withPrompt(`"lone \\udc00 low"`),
    withPrompt(`"\\ud83d\\u0041"`), withPrompt(`"bad \\x escape"`), withPrompt(`"short \\u12"`), withPrompt(`"tab\there"`),
    withPrompt(`"\\/\\b\\f\\n\\r\\t\\"\\\\"`), withPrompt(`["nested",{"deep":[1,2,{"x":null}]}]`), withPrompt(`null`), withPrompt(`true`),
    withPrompt(`12`), withPrompt(`"x"`, "t\\u002d1"), withPrompt(`"x"`, "t\\u002f1"), withPrompt(`"x"`, "a".repeat(64)), withPrompt(`"x"`, "a".repeat(65)),
    `{"taskId":"t","prompt":"x",${base},"steps":9}`, // duplicate key: the last wins
    `{"taskId":"t","prompt":"x",${base},"steps":1e2}`, `{"taskId":"t","prompt":"x",${base},"steps":1.5}`, `{"taskId":"t","prompt":"x",${base},"steps":-0}`,
    `{"taskId":"t","prompt":"x",${base},"steps":01}`, `{"taskId":"t","prompt":"x",${base},"steps":1.}`, `{"taskId":"t","prompt":"x",${base},"steps":.5}`,
    `{"taskId":"t","prompt":"x",${base},"steps":65537}`, `{"taskId":"t","prompt":"x",${base},"attempt":4294967296}`, `{"taskId":"t","prompt":"x",${base},"attempt":4294967295}`,
    `{"taskId":"t","prompt":"x",${base},"topp":1.0000001}`, `{"taskId":"t","prompt":"x",${base},"temperature":1E2}`, `{"taskId":"t","prompt":"x",${base},"temperature":-1e-300}`,
    `{"taskId":"t","prompt":"x",${base},"leaseMs":0}`, `{"taskId":"t","prompt":"x",${base},"seed":"00000000000000000001"}`, `{"taskId":"t","prompt":"x",${base},"seed":"\\u0031"}`,
    `{"taskId":"t","prompt":"x",${base},"seed":""}`, `{"taskId":"t","prompt":"x",${base},"reason":"x"}`, `{"taskId":"t","prompt":"x",${base},"x":[[[[]]]]}`,
    `{"taskId":"t","prompt":"x",${base},"v":1.0}`, `{"taskId":"t","prompt":"x",${base},"v":"1"}`, `{"taskId":"t","prompt":"x",${base},"kind":"cancel"}`,
    `{"taskId":"t","prompt":"x",${base},"kind":"status"}`, `{"taskId":"t","prompt":"x",${base},"kind":7}`,
    // adapters: id pattern and length, scale range and type, scale only with an adapter
    `{"taskId":"t","prompt":"x",${base},"adapter":"home"}`, `{"taskId":"t","prompt":"x",${base},"adapter":"a.b-c_D9","scale":-100}`,
    `{"taskId":"t","prompt":"x",${base},"adapter":"${"a".repeat(128)}"}`, `{"taskId":"t","prompt":"x",${base},"adapter":"${"a".repeat(129)}"}`,
    `{"taskId":"t","prompt":"x",${base},"adapter":"h\u006fme"}`, `{"taskId":"t","prompt":"x",${base},"adapter":"h/me"}`, `{"taskId":"t","prompt":"x",${base},"adapter":"é"}`,
    `{"taskId":"t","prompt":"x",${base},"adapter":null}`, `{"taskId":"t","prompt":"x",${base},"adapter":"h","scale":1e2}`, `{"taskId":"t","prompt":"x",${base},"adapter":"h","scale":100.0001}`,
    `{"taskId":"t","prompt":"x",${base},"adapter":"h","scale":-1e-300}`, `{"taskId":"t","prompt":"x",${base},"adapter":"h","scale":true}`, `{"taskId":"t","prompt":"x",${base},"scale":1}`,
    `{"taskId":"t","prompt":"x",${base},"scale":1,"x":2}`, `{"taskId":"t","scale":1,${base}}`, `{"taskId":"t","prompt":"x",${base},"adapter":"h","scale":1,"steps":-1}`,
    `{"taskId":"t","prompt":"x",${base},"scale":"y","steps":-1}`,
    ` \r\n\t{"taskId" : "t" , "prompt":"x",${base}} \n`, `{"taskId":"t","prompt":"x",${base}} x`, `{"taskId":"t","prompt":"x",${base},}`,
    `{"taskId":"t","prompt":"x",${base}`, `\ufeff{"taskId":"t","prompt":"x",${base}}`, `{}`, `[]`, `"str"`, `42`, ``, ` `, `{"a":}`,
    `{"t\\u0061skId":"t","prompt":"x",${base}}`, `{"taskId":"t","prompt":"${"é".repeat(8192)}",${base}}`, `{"taskId":"t","prompt":"${"é".repeat(8193)}",${base}}`,
    `{"taskId":"t","prompt":"${"😀".repeat(8192)}",${base}}`, `{"taskId":"t","prompt":"${"😀".repeat(8193)}",${base}}`,
    `${"[".repeat(300)}${"]".repeat(300)}`, `{"x":${"[".repeat(200)}${"]".repeat(200)},"taskId":"t","prompt":"x",${base}}`,
    Buffer.concat([Buffer.from(`{"taskId":"t","prompt":"a`), Buffer.from([0xff, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x98]), Buffer.from(`b",${base}}`)]),
    Buffer.concat([Buffer.from(`{"taskId":"t","prompt":"`), Buffer.from([0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xc0, 0xaf]), Buffer.from(`",${base}}`)]),
    Buffer.concat([Buffer.from(`{"taskId":"t","prompt":"x",${base},`), Buffer.from([0xff]), Buffer.from(`:1}`)]),
  ];
  const cancelCases = [
    `{"v":1,"kind":"cancel","taskId":"t","reason":"${"r".repeat(256)}"}`, `{"v":1,"kind":"cancel","taskId":"t","reason":"${"r".repeat(257)}"}`,
    `{"v":1,"kind":"cancel","taskId":"t","reason":"x","attempt":1}`, `{"v":1,"kind":"cancel","taskId":"t","reason":5}`, `{"v":1,"kind":"cancel","reason":"x"}`,
    `{"v":1,"kind":"cancel","taskId":"t","reason":"x","adapter":"h"}`, `{"v":1,"kind":"cancel","taskId":"t","reason":"x","scale":1}`,
  ];
  const a = new TestAgent({ maxQueue: 64, ctx: 64 });
  let i = 0, accepted = 0;
  const check = (t: string, p: string | Buffer) => {
    const payload = Buffer.isBuffer(p) ? p : Buffer.from(p, "utf8");
    const ts = decode(t, payload);
    // a fresh task id per case, so that every accepted task is a new one (none adopted)
    const r = a.send(t, payload);
    const what = `${payload.toString("utf8").slice(0, 120)}: agent ${r.rc === 0 ? "accepted" : `rejected (${r.reason})`}, TS ${ts.ok ? "accepted" : `rejected (${ts.reason})`}`;
    assert.equal(r.rc === 0, ts.ok, what);
    i++;
    if (r.rc === 0) accepted++;
    // drop what was accepted so the queue never fills
    for (const acc of a.of("accept")) a.cancel(acc.taskId);
    a.pubs.length = 0;
  };
  for (const c of cases) check(topic, c);
  for (const c of cancelCases) check("edgellm/v1/f1/to/p1/cancel", c);
  assert.equal(i, cases.length + cancelCases.length);
  assert.ok(accepted >= 20 && i - accepted >= 30, `${accepted} of ${i} accepted`);
  assert.deepEqual(a.invalid, []);
});

test("prompts decode to the bytes JavaScript gives them: escapes, surrogates, invalid UTF-8", { skip }, () => {
  // The agent tokenizes the prompt it decoded; the same text through the engine's encode must give
  // the same tokens: the output of greedy generation (prompt forced first) shows them.
  const prompts: (string | Buffer)[] = [
    `"caf\\u00e9 \\ud83d\\ude00 \\ud800 end"`,
    Buffer.concat([Buffer.from(`"a`), Buffer.from([0xff, 0xe2, 0x82, 0xf0, 0x9f, 0x98, 0x80]), Buffer.from(`b"`)]),
  ];
  for (const p of prompts) {
    const a = new TestAgent({ ctx: 48 });
    const raw = Buffer.concat([Buffer.from(`{"v":1,"kind":"task","taskId":"t","attempt":1,"leaseMs":5000,"deadlineMs":0,"steps":48,"temperature":0,"topp":0.9,"seed":"7","prompt":`), Buffer.isBuffer(p) ? p : Buffer.from(p), Buffer.from("}")]);
    assert.equal(a.send("edgellm/v1/f1/to/p1/task", raw).rc, 0);
    a.runUntilIdle();
    const result = a.of("result")[0];
    assert.equal(result.status, "done");
    const text = (JSON.parse(raw.toString("utf8")) as { prompt: string }).prompt;
    const out: Buffer[] = [];
    generate(a.e, { prompt: text, steps: 48, temperature: 0, topp: 0.9, seed: 7n }, (b) => out.push(Buffer.from(b)));
    assert.equal(Buffer.from(result.data, "base64").toString("hex"), Buffer.concat(out).toString("hex"));
  }
});
