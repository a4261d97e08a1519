// The module's one generation state machine (assembly/gen/generation.ts) through its exports:
// steps, the BOS stop, cancel and the deadline under an injected clock, argument checks. A call
// of next() runs one position, or a block of forced prompt positions (batched prefill), so
// cancel and the deadline act between calls.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { GEN_DONE, GEN_MORE } from "../../host/engine/generate.js";
import { loadModelFile } from "../../host/format/load.js";
import { haveShared, TEACHER, TOKENIZER } from "./helpers.js";

const GEN_CANCELLED = 3, GEN_EXPIRED = 4, E_ARGUMENT = -12;
const skip = skipUnless(haveShared, "../shared/models");

function engine(kind: "simd" | "mvp", ctx = 64): Engine {
  const m = loadModelFile(TEACHER, { bytes: new Uint8Array(readFileSync(TOKENIZER)), path: TOKENIZER });
  const e = Engine.load(m.bytes, undefined, { engine: kind, ctx });
  e.setSampler(0, 0.9, 1n);
  return e;
}

for (const kind of ["simd", "mvp"] as const) {
  test(`steps count every position; steps 0 is the context; forced prompt tokens come first (${kind})`, { skip }, () => {
    const e = engine(kind);
    const prompt = e.encode("Once upon a time", true, false);
    e.startGeneration("Once upon a time", 7);
    const chosen: number[] = [], positions: number[] = [];
    let status = GEN_MORE;
    while (status === GEN_MORE) { status = e.nextPosition().status; chosen.push(e.x.genChosen()); positions.push(e.x.genPosition()); }
    assert.equal(status, GEN_DONE);
    assert.equal(e.x.genPosition(), 7);
    // After each call, the token last chosen: the prompt's own while it is forced.
    positions.forEach((pos, i) => { if (pos < prompt.length) assert.equal(chosen[i], prompt[pos], `the prompt is forced (position ${pos})`); });
    assert.ok(positions.length < 7, `the forced prompt ran in blocks: ${positions.join(" ")}`);
    e.startGeneration(Int32Array.of(1), 0);
    while (e.nextPosition().status === GEN_MORE);
    assert.ok(e.x.genPosition() <= 64 && e.x.genPosition() > 7, `runs up to the context (${e.x.genPosition()})`);
    assert.equal(e.nextPosition().status, GEN_DONE, "a finished generation stays done");
  });

  test(`cancel stops before the next position, with nothing run (${kind})`, { skip }, () => {
    const e = engine(kind);
    e.startGeneration("The cat", 40);
    assert.equal(e.nextPosition().status, GEN_MORE);
    const ran = e.x.genPosition();
    assert.ok(ran >= 1);
    e.x.genCancel();
    const { status, piece } = e.nextPosition();
    assert.equal(status, GEN_CANCELLED);
    assert.equal(piece.length, 0);
    assert.equal(e.x.genPosition(), ran);
    e.startGeneration("The cat", 40);
    assert.equal(e.nextPosition().status, GEN_MORE, "a new start clears the cancel");
  });

  test(`the deadline expires by the host's clock, checked before each position (${kind})`, { skip }, () => {
    const e = engine(kind);
    e.startGeneration("The dog", 40);
    e.x.genSetDeadline(1_000);
    assert.equal(e.nextPosition(999).status, GEN_MORE);
    assert.equal(e.nextPosition(1_000).status, GEN_MORE, "at the deadline is still in time");
    const ran = e.x.genPosition();
    assert.equal(e.nextPosition(1_001).status, GEN_EXPIRED);
    assert.equal(e.x.genPosition(), ran, "nothing ran after the deadline");
    e.startGeneration("The dog", 40);
    assert.equal(e.nextPosition(5_000).status, GEN_MORE, "a new start clears the deadline");
  });

  test(`a sampled BOS ends the generation and prints nothing (${kind})`, { skip }, () => {
    const e = engine(kind, 512);
    e.startGeneration(Int32Array.of(1), 0);
    let last: { status: number; piece: Uint8Array } = { status: GEN_MORE, piece: new Uint8Array() };
    while (last.status === GEN_MORE) last = e.nextPosition();
    assert.equal(e.x.genChosen(), 1, "stories260K ends its greedy story with BOS");
    assert.ok(e.x.genPosition() < 512);
    assert.equal(last.piece.length, 0);
  });
}

test("argument checks: no prompt, a prompt outside memory, next before any start", { skip }, () => {
  const e = engine("mvp");
  assert.equal(e.x.genNext(0), E_ARGUMENT, "next before a start");
  const p = e.x.alloc(4);
  assert.equal(e.x.genStart(p, 0, 8), E_ARGUMENT);
  assert.equal(e.x.genStart(e.x.memoryBytes() - 4, 2, 8), E_ARGUMENT);
  assert.ok(e.x.genMaxPromptBytes() === 8 * e.info.ctx);
});
