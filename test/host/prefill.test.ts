// Batched prefill (assembly/model/prefill.ts): a generation runs its forced prompt positions in
// blocks, and the logits after the prompt, and after later positions (which read every layer's
// KV cache rows the blocks wrote), equal bit for bit those of forcing the prompt position by
// position through the single-position forward. For every weight type, f32 and int8 KV
// caches, without an adapter and with f32 and f16 adapters, in both builds.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { GEN_MORE } from "../../host/engine/generate.js";
import { AdapterStorage } from "../../host/format/adapter-spec.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { randomAdapter } from "./adapter-helpers.js";
import { ROOT, runCli } from "./helpers.js";

const TYPES = ["f32", "int8", "ternary", "t5", "q4"] as const;

interface Trace { logits: number[][]; tokens: number[]; calls: number }

// The prompt forced by the generation (blocks), then `extra` greedy positions; the logits of
// the prompt's last position and of each later one.
function viaGeneration(e: Engine, prompt: Int32Array, extra: number): Trace {
  e.setSampler(0, 0, 0n);
  e.startGeneration(prompt, prompt.length + extra);
  const logits: number[][] = [], tokens: number[] = [];
  let calls = 0;
  for (let status = GEN_MORE; status === GEN_MORE;) {
    status = e.nextPosition().status;
    calls++;
    const pos = e.x.genPosition();
    if (pos >= prompt.length) {
      logits.push(Array.from(new Float32Array(e.x.memory.buffer, e.x.logits(), e.info.vocabSize)));
      tokens.push(e.x.genChosen());
    }
  }
  return { logits, tokens, calls };
}

// The same positions one forward() at a time.
function viaForward(e: Engine, prompt: Int32Array, extra: number): Trace {
  e.setSampler(0, 0, 0n);
  const logits: number[][] = [], tokens: number[] = [];
  let tok = prompt[0];
  for (let pos = 0; pos < prompt.length + extra; pos++) {
    const l = Array.from(e.forward(tok, pos));
    if (pos + 1 < prompt.length) { tok = prompt[pos + 1]; continue; }
    logits.push(l);
    tok = e.x.sample();
    tokens.push(tok);
  }
  return { logits, tokens, calls: prompt.length + extra };
}

test("a prompt run in blocks leaves the logits and KV cache of position-by-position forcing, bit for bit (every type, both builds, KV f32 / int8, adapters)", () => {
  for (const type of TYPES) {
    const bytes = new Uint8Array(readFileSync(join(ROOT, "test", "vectors", `tiny-${type}.ellm`)));
    const adapters = [null, writeAdapter(randomAdapter(bytes, 3, AdapterStorage.F32, 3)), writeAdapter(randomAdapter(bytes, 2, AdapterStorage.F16, 4))];
    for (const engine of ["simd", "mvp"] as const) for (const kvInt8 of [false, true]) for (const ad of adapters) {
      const what = `${type} ${engine} kv ${kvInt8 ? "int8" : "f32"} adapter ${ad ? ad.length : "none"}`;
      const load = () => {
        const e = Engine.load(bytes, undefined, { engine, kvInt8 });
        if (ad) e.loadAdapter(ad, 0.7);
        return e;
      };
      const vocab = load().info.vocabSize;
      // seq_len 8: BOS and six forced tokens (a block of 4, a block of 2, then the last prompt
      // position alone), then one sampled position.
      const prompt = Int32Array.from([1, 3, vocab - 1, 5, 2, 7 % vocab, 4]);
      const got = viaGeneration(load(), prompt, 1), want = viaForward(load(), prompt, 1);
      assert.equal(got.calls, 4, `${what}: positions 0-3 and 4-5 as blocks, then 6 and 7`);
      assert.deepEqual(got.tokens, want.tokens, what);
      assert.equal(got.logits.length, 2, what);
      got.logits.forEach((l, i) => assert.deepEqual(l, want.logits[i], `${what}: logits at position ${prompt.length - 1 + i}`));
    }
  }
});

test("the shipped model and home adapter: same label text as position by position, fewer calls (both builds)", () => {
  const model = new Uint8Array(readFileSync(join(ROOT, "models", "default.ellm")));
  const home = new Uint8Array(readFileSync(join(ROOT, "models", "home.ella")));
  for (const engine of ["simd", "mvp"] as const) for (const kvInt8 of [false, true]) {
    const load = () => { const e = Engine.load(model, undefined, { engine, kvInt8, ctx: 128 }); e.loadAdapter(home, 1); return e; };
    const e = load();
    const enc = e.encode("turn on the kitchen light and set it to fifty percent\n", true, false);
    const got = viaGeneration(e, enc, 12), want = viaForward(load(), enc, 12);
    assert.deepEqual(got.tokens, want.tokens, `${engine} kv ${kvInt8}`);
    got.logits.forEach((l, i) => assert.deepEqual(l, want.logits[i], `${engine} kv ${kvInt8}: position ${enc.length - 1 + i}`));
    assert.ok(got.calls < want.calls - enc.length / 2, `${engine}: ${got.calls} next() calls for ${want.calls} positions`);
  }
});

test("run prints the prompt's text once however it is blocked (the output holds a block's pieces)", () => {
  const r = runCli(["run", join(ROOT, "models", "default.ellm"), "-t", "0", "-n", "40", "-i", "Once upon a time, there was a little girl named Lily who loved"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith("Once upon a time, there was a little girl named Lily who loved"), r.stdout);
});
