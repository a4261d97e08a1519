// The coordinator's round logic on the fleet (host/federated/round-driver.ts) with fake time and
// a recording sink: rounds start when enough trainers are online, the global is served in
// checksummed chunks from any index, updates are put back together from parts in any order, and
// whatever cannot make a valid update (bad CRC, wrong size, NaN, late, unsampled, a second
// upload) is refused with a reason and never reaches the average; a re-sent update gets its
// first verdict again; a vanished trainer costs the round its own update only.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Assembler, bytesToF32, chunkAt, f32ToBytes } from "../../host/federated/chunks.js";
import { Coordinator } from "../../host/federated/coordinator.js";
import type { GlobalModel } from "../../host/federated/global-model.js";
import { RoundDriver, type FedRoundResult } from "../../host/federated/round-driver.js";
import { FakeClock } from "../../host/fleet/clock.js";
import { silentLogger } from "../../host/fleet/log.js";
import { b64, type Ack, type Chunk, type Draft, type Round, type RoundOpen, type Update } from "../../host/fleet/messages.js";
import { crc32 } from "../../host/format/crc32.js";

const N = 300; // parameters: 1,200 bytes of update, 3 parts of 512
const PART = 512;

// The global "adapter file" is its parameters' bytes: enough to check what is served.
function model(): GlobalModel {
  return {
    method: "backprop", describe: "test", initial: new Float32Array(N).fill(0.5),
    expectedBytes: (n) => (n === 4 * N ? null : `${n} bytes, expected ${4 * N}`),
    bytes: (c) => f32ToBytes(c.global), decode: (b) => ({ ok: true, delta: bytesToF32(b) }), afterClose: () => undefined, evaluate: () => undefined,
  };
}

function setUp(o: { clientsPerRound?: number; roundMs?: number } = {}) {
  const clock = new FakeClock();
  const c = new Coordinator(new Float32Array(N).fill(0.5), { clientsPerRound: o.clientsPerRound ?? 3, roundMs: o.roundMs ?? 10_000, server: "fedavg", seed: 3 });
  const announced: Draft<Round>[] = [];
  const sent: { to: string; m: Draft<Chunk> | Draft<Ack> }[] = [];
  const d = new RoundDriver(c, model(), { announce: (m) => announced.push(m), toTrainer: (to, m) => sent.push({ to, m }) }, clock, silentLogger,
    { id: "coord", nonce: "ab", rounds: 5, clientsPerRound: o.clientsPerRound ?? 3, roundMs: o.roundMs ?? 10_000, gatherMs: 5000, base: 77, recipe: { method: "backprop", steps: 1, lr: 0.1, batch: 1, seq: 8, seed: 1 } });
  const closed: FedRoundResult[] = [];
  d.on("closed", (r) => closed.push(r));
  d.start();
  const online = (id: string) => d.onTrainer({ v: 1, kind: "trainer", id, online: true, methods: ["backprop"], base: 77, maxChunk: PART });
  const open = () => announced.filter((m): m is Draft<RoundOpen> => m.open).at(-1)!;
  const acks = (to: string) => sent.filter((s) => s.to === to && s.m.kind === "ack").map((s) => s.m as Draft<Ack>);
  return { clock, c, d, announced, sent, closed, online, open, acks };
}

function parts(round: number, delta: Float32Array, examples: number, over: Partial<Update> = {}): Update[] {
  const bytes = f32ToBytes(delta), n = Math.ceil(bytes.length / PART);
  return Array.from({ length: n }, (_, i) => {
    const ch = chunkAt(bytes, i, PART);
    return { v: 1, kind: "update", round, method: "backprop", examples, part: i, parts: n, partBytes: PART, bytes: bytes.length, crc32: ch.crc32, data: b64.from(ch.data), ...over } as Update;
  });
}

test("a round starts when K trainers are online (or after the gather time with fewer), on the same base only", () => {
  const t = setUp();
  t.online("a"); t.online("b");
  t.d.onTrainer({ v: 1, kind: "trainer", id: "other", online: true, methods: ["backprop"], base: 78, maxChunk: PART });
  assert.equal(t.announced.length, 0, "2 of 3 eligible: waiting");
  t.clock.advance(5000);
  assert.equal(t.open().round, 1);
  assert.deepEqual(t.open().clients, ["a", "b"], "the trainer on another base is never sampled");
  assert.deepEqual(t.open().global, { bytes: 4 * N, crc32: crc32(f32ToBytes(new Float32Array(N).fill(0.5))), base: 77 });
});

test("the global is served in checksummed chunks from any index and reassembles to the announced CRC", () => {
  const t = setUp();
  for (const id of ["a", "b", "c"]) t.online(id);
  const m = t.open();
  t.d.onFetch("a", { v: 1, kind: "fetch", round: 1, from: 1, count: 64, chunkBytes: 256 });
  t.d.onFetch("a", { v: 1, kind: "fetch", round: 1, from: 0, count: 1, chunkBytes: 256 });
  const chunks = t.sent.filter((s) => s.m.kind === "chunk").map((s) => s.m as Draft<Chunk>);
  assert.deepEqual(chunks.map((c) => c.index), [1, 2, 3, 4, 0]);
  const asm = new Assembler(5, m.global.bytes, 256);
  for (const c of chunks) assert.equal(asm.add(c.index, c.chunks, c.bytes, b64.to(c.data), c.crc32), null);
  assert.equal(crc32(asm.result()), m.global.crc32);
  t.d.onFetch("x", { v: 1, kind: "fetch", round: 1, from: 0, count: 1, chunkBytes: 256 });
  t.d.onFetch("a", { v: 1, kind: "fetch", round: 2, from: 0, count: 1, chunkBytes: 256 });
  assert.equal(t.sent.length, chunks.length, "no chunks for an unsampled trainer or another round");
});

test("refused updates never reach the average: the global moves by the weighted mean of the accepted ones", () => {
  const t = setUp({ clientsPerRound: 4 });
  for (const id of ["a", "b", "c", "d", "e"]) t.online(id);
  const [a, b, c, d] = t.open().clients;
  const outsider = ["a", "b", "c", "d", "e"].find((k) => !t.open().clients.includes(k))!;
  const good = (v: number) => new Float32Array(N).fill(v);
  // a: accepted, its parts in reverse order, one part sent twice.
  for (const u of parts(1, good(1), 10).reverse()) t.d.onUpdate(a, u);
  assert.equal(t.acks(a).at(-1)?.status, "accepted");
  // b: a part whose data does not match its CRC.
  const pb = parts(1, good(100), 10); pb[1] = { ...pb[1], crc32: pb[1].crc32 ^ 1 };
  for (const u of pb) t.d.onUpdate(b, u);
  assert.deepEqual([t.acks(b).at(-1)?.status, t.acks(b).at(-1)?.reason], ["refused", "checksum"]);
  // c: a NaN in the update.
  const nan = good(1); nan[17] = NaN;
  for (const u of parts(1, nan, 10)) t.d.onUpdate(c, u);
  assert.deepEqual([t.acks(c).at(-1)?.reason, t.acks(c).at(-1)?.detail], ["non-finite", "number 17 of the update is NaN"]);
  // the outsider, and a wrong size that is refused at its first part (nothing buffered).
  for (const u of parts(1, good(100), 10)) t.d.onUpdate(outsider, u);
  assert.equal(t.acks(outsider).at(-1)?.reason, "not-sampled");
  t.d.onUpdate(d, { ...parts(1, good(100), 10)[0], bytes: 4 * N + 4, parts: 3 });
  assert.equal(t.acks(d).at(-1)?.reason, "shape");
  // d again, now right: its first verdict stands (a refused client does not get a second try).
  for (const u of parts(1, good(3), 30)) t.d.onUpdate(d, u);
  t.clock.advance(1500);
  for (const u of parts(1, good(3), 30)) t.d.onUpdate(d, u);
  assert.ok(t.acks(d).every((x) => x.reason === "shape"));
  // a re-sends its accepted update (a lost ack): the same verdict, no second submit.
  for (const u of parts(1, good(1), 10)) t.d.onUpdate(a, u);
  assert.deepEqual(t.acks(a).map((x) => x.status), ["accepted", "accepted"]);
  assert.equal(t.closed.length, 0);
  t.clock.advance(10_000);
  assert.equal(t.closed.length, 1);
  const r = t.closed[0];
  assert.equal(r.accepted, 1);
  assert.deepEqual(r.refused.map((x) => x.reason).sort(), ["checksum", "non-finite", "not-sampled", "shape"]);
  assert.ok([...t.c.global].every((v) => v === 1.5), "0.5 + the one accepted update");
  // a's and c's whole updates and b's first part: repeats and refused pieces are not counted.
  assert.equal(r.bytesUp, 4 * N + PART + 4 * N);
});

test("FedAvg over two accepted trainers weights by |D_k|; a late update is refused; the next round starts at once", () => {
  const t = setUp({ clientsPerRound: 2 });
  t.online("a"); t.online("b");
  for (const u of parts(1, new Float32Array(N).fill(1), 10)) t.d.onUpdate("a", u);
  for (const u of parts(1, new Float32Array(N).fill(-1), 30)) t.d.onUpdate("b", u);
  assert.equal(t.closed.length, 1, "every sampled client answered: closed without waiting for the deadline");
  const want = Math.fround(0.5 + (10 * 1 + 30 * -1) / 40);
  assert.ok(t.c.global.every((v) => Math.abs(v - want) < 1e-6));
  t.clock.advance(100);
  assert.equal(t.open().round, 2, "round 2 announced at the next tick");
  t.clock.advance(1000);
  t.online("c");
  for (const u of parts(1, new Float32Array(N).fill(9), 10)) t.d.onUpdate("c", u);
  assert.equal(t.acks("c").at(-1)?.reason, "late");
  assert.ok(t.c.global.every((v) => Math.abs(v - want) < 1e-6), "the late update did not move the global");
});

test("an update in parts missing one: a re-sent part is answered with what is missing; a vanished trainer costs only its update", () => {
  const t = setUp({ clientsPerRound: 2 });
  t.online("a"); t.online("b");
  const pa = parts(1, new Float32Array(N).fill(2), 5);
  t.d.onUpdate("a", pa[0]); t.d.onUpdate("a", pa[2]);
  t.clock.advance(1000);
  t.d.onUpdate("a", pa[0]);
  assert.deepEqual(t.acks("a").at(-1), { kind: "ack", round: 1, status: "incomplete", missing: [1] });
  t.d.onUpdate("a", pa[1]);
  assert.equal(t.acks("a").at(-1)?.status, "accepted");
  t.d.onTrainer({ v: 1, kind: "trainer", id: "b", online: false });
  t.clock.advance(10_000);
  assert.equal(t.closed[0].accepted, 1);
  assert.equal(t.closed[0].sampled, 2);
  assert.ok(t.c.global.every((v) => v === 2.5));
  t.clock.advance(5000);
  assert.deepEqual(t.open().clients, ["a"], "round 2 samples the trainers still online, after the gather time");
});

test("an update re-sent after its round closed (a slow ack) gets its verdict again, not a late refusal", () => {
  const t = setUp({ clientsPerRound: 2 });
  t.online("a"); t.online("b");
  for (const u of parts(1, new Float32Array(N).fill(1), 10)) t.d.onUpdate("a", u);
  for (const u of parts(1, new Float32Array(N).fill(1), 10)) t.d.onUpdate("b", u);
  assert.equal(t.closed.length, 1);
  t.clock.advance(1000);
  for (const u of parts(1, new Float32Array(N).fill(1), 10)) t.d.onUpdate("b", u);
  assert.deepEqual(t.acks("b").map((a) => a.status), ["accepted", "accepted"]);
  t.clock.advance(10_000);
  assert.deepEqual(t.closed[1]?.refused ?? [], [], "nothing refused in round 2 for it");
});
