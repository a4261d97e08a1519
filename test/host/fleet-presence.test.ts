// The gateway's presence guard (host/fleet/presence.ts) under a fake clock.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../../host/fleet/clock.js";
import { PresenceGuard } from "../../host/fleet/presence.js";

function guard(since = 1_000_000, nonce = "bb") {
  const clock = new FakeClock(since);
  const restores: number[] = [], stops: string[] = [];
  const g = new PresenceGuard(nonce, since, clock, { restore: () => restores.push(clock.now()), stop: (why) => stops.push(why) });
  return { clock, g, restores, stops };
}

test("our own presence changes nothing; anything else is restored at once, then at most once a second", () => {
  const { clock, g, restores } = guard();
  g.observe({ online: true, nonce: "bb", since: 1 });
  assert.deepEqual(restores, []);
  g.observe(null);
  assert.deepEqual(restores, [1_000_000]);
  g.observe({ online: false });
  g.observe({ online: true, nonce: "cc", since: 2_000_000 });
  assert.deepEqual(restores, [1_000_000], "waits for the second");
  clock.advance(1000);
  assert.deepEqual(restores, [1_000_000, 1_001_000], "one restore for both, a second later");
  clock.advance(5000);
  assert.equal(restores.length, 2);
});

test("an earlier process with our id: restored the first time, stopped the second; ties by nonce", () => {
  const { clock, g, restores, stops } = guard();
  g.observe({ online: true, nonce: "aa", since: 500 });
  assert.equal(restores.length, 1);
  clock.advance(3000);
  g.observe({ online: true, nonce: "aa", since: 500 });
  assert.equal(stops.length, 1);
  g.observe(null);
  assert.equal(restores.length, 1, "nothing after the stop");
  const tie = guard(7, "bb");
  tie.g.observe({ online: true, nonce: "cc", since: 7 });
  tie.g.observe({ online: true, nonce: "cc", since: 7 });
  assert.equal(tie.stops.length, 0, "cc > bb: the other one stops");
});
