// Progress reporting when stderr is not a terminal: a line at most every interval, with an
// ETA from the average rate, and nothing at all for a job shorter than one interval.
import assert from "node:assert/strict";
import { test } from "node:test";
import { PIPED_INTERVAL_MS, startProgress } from "../../host/cli/progress.js";

test("a piped long job reports at most once an interval, with an ETA from its rate", () => {
  let clock = 0;
  const lines: string[] = [];
  const p = startProgress("sample", 1000, "", { tty: false, now: () => clock, write: (l) => lines.push(l) });
  for (let done = 1; done <= 1000; done++) {
    clock += 50; // 50 ms an item: 50 s in all
    p.update(done);
  }
  p.stop();
  assert.equal(lines.length, (1000 * 50) / PIPED_INTERVAL_MS, lines.join("\n"));
  assert.equal(lines[0], "sample: 20% (200/1000), ETA 40 s");
  assert.equal(lines.at(-1), "sample: 100% (1000/1000), ETA 0 s");
});

test("a piped short job prints nothing, and piped: false silences a long one", () => {
  // 100 items of 50 ms (5 s, under one interval) piped; of 10 s each with piped: false.
  for (const [piped, ms] of [[true, 50], [false, PIPED_INTERVAL_MS]] as const) {
    let clock = 0;
    const lines: string[] = [];
    const p = startProgress("eval", 100, "", { tty: false, piped, now: () => clock, write: (l) => lines.push(l) });
    for (let done = 1; done <= 100; done++) { clock += ms; p.update(done); }
    assert.deepEqual(lines, []);
  }
});
