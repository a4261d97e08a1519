// Chunks of the global adapter and parts of an update (host/federated/chunks.ts): cut and put
// back in any order, each piece checked against its CRC and against what the first one said;
// the wire forms of dense and seed-and-scalar updates keep every value, NaN included (so the
// coordinator, not the wire, refuses it).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Assembler, bytesToF32, bytesToPairs, chunkAt, chunkCount, f32ToBytes, pairsToBytes } from "../../host/federated/chunks.js";

const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff);

test("cut into chunks and reassembled in any order, repeats ignored", () => {
  assert.equal(chunkCount(1000, 256), 4);
  const asm = new Assembler(4, 1000, 256);
  for (const i of [3, 1, 1, 0, 2]) {
    const c = chunkAt(bytes, i, 256);
    assert.equal(asm.add(i, c.chunks, 1000, c.data, c.crc32), null);
  }
  assert.ok(asm.complete);
  assert.deepEqual(asm.result(), bytes);
  assert.equal(chunkAt(bytes, 3, 256).data.length, 1000 - 768);
  assert.throws(() => chunkAt(bytes, 4, 256), /chunk 4 of 4/);
  assert.throws(() => chunkAt(bytes, 0, 100), /outside 256/);
});

test("a piece that does not match its CRC, the others or its size is refused and not held", () => {
  const asm = new Assembler(4, 1000, 256);
  const c = chunkAt(bytes, 1, 256);
  assert.match(asm.add(1, 4, 1000, c.data, c.crc32 ^ 1)!, /CRC-32/);
  assert.match(asm.add(1, 5, 1000, c.data, c.crc32)!, /says 5 pieces/);
  assert.match(asm.add(1, 4, 1000, c.data.subarray(1), c.crc32)!, /has 255 bytes, expected 256/);
  assert.deepEqual(asm.missing(), [0, 1, 2, 3]);
  assert.equal(asm.firstMissing(), 0);
  assert.throws(() => asm.result(), /4 of 4 pieces missing/);
  assert.throws(() => new Assembler(3, 1000, 256), /are 4 pieces, not 3/);
});

test("update wire forms keep every value, NaN and infinities included", () => {
  const d = Float32Array.from([0, -1.5, 3.4e38, NaN, -Infinity, 1e-45]);
  const back = bytesToF32(f32ToBytes(d));
  assert.deepEqual([...back].map(String), [...d].map(String));
  const p = bytesToPairs(pairsToBytes(Uint32Array.from([0, 4095, 7]), Float32Array.from([0.25, NaN, -2])));
  assert.deepEqual([...p.index], [0, 4095, 7]);
  assert.deepEqual([...p.grad].map(String), ["0.25", "NaN", "-2"]);
  assert.throws(() => bytesToF32(new Uint8Array(5)), /whole number of f32/);
  assert.throws(() => bytesToPairs(new Uint8Array(12)), /whole number of \(index, gradient\) pairs/);
});
