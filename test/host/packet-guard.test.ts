// The embedded broker's packet size check: MQTT fixed headers followed across chunk boundaries.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { test } from "node:test";
import { watchPacketSizes } from "../../host/fleet/packet-guard.js";

// One MQTT packet: type byte, remaining length (base-128, low digits first), body.
function packet(bodyBytes: number): Buffer {
  const len: number[] = [];
  let n = bodyBytes;
  do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 0x80; len.push(d); } while (n > 0);
  return Buffer.concat([Buffer.from([0x30, ...len]), Buffer.alloc(bodyBytes, 7)]);
}

function watch(limit: number): { feed: (b: Buffer, chunk: number) => void; seen: number[]; listening: () => number } {
  const socket = new EventEmitter();
  const seen: number[] = [];
  watchPacketSizes(socket as unknown as Socket, limit, (n) => seen.push(n));
  return {
    feed: (b, chunk) => { for (let i = 0; i < b.length; i += chunk) socket.emit("data", b.subarray(i, i + chunk)); },
    seen, listening: () => socket.listenerCount("data"),
  };
}

test("packets up to the limit pass, whatever the chunking; the first larger one is reported by its header", () => {
  for (const chunk of [1, 2, 3, 7, 1000]) {
    const w = watch(20000);
    const stream = Buffer.concat([packet(0), packet(127), packet(128), packet(16383), packet(16384), packet(19996)]);
    w.feed(stream, chunk);
    assert.deepEqual(w.seen, [], `chunks of ${chunk}`);
    w.feed(packet(200_000_000 - 5).subarray(0, 10), chunk); // only the header and a few body bytes arrive
    assert.deepEqual(w.seen, [200_000_000 - 5], `chunks of ${chunk}`);
    assert.equal(w.listening(), 0, "stops watching once it reported");
  }
});

test("a length field longer than four bytes is reported as malformed", () => {
  const w = watch(70000);
  w.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 1);
  assert.deepEqual(w.seen, [-1]);
});
