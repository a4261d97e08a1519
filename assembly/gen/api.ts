// The local generation's exports (wrapped one-to-one in assembly/index.ts; docs/module-abi.md):
// one Generation in streaming mode, made at the first genStart, driven by a host a position at a
// time (Node's `run`, the firmware's `run`, teacher sampling, speed probes). The fleet agent owns
// its own Generation (agent/peer.ts).
import * as E from "../core/errors";
import { fitsFrom } from "../core/memory-cap";
import { runtime } from "../model/runtime";
import { Generation, MAX_PROMPT_BYTES_PER_POSITION } from "./generation";

let local: Generation | null = null;

// The longest prompt, in bytes, a host may tokenize for the current context.
export function maxPromptBytes(): i32 {
  const rt = runtime;
  if (rt == null || rt.state == null) return E.E_NO_MODEL;
  return MAX_PROMPT_BYTES_PER_POSITION * rt.state!.ctx;
}

// prompt: i32 [nPrompt] (BOS first), left in place by the host until the generation ends.
export function start(prompt: usize, nPrompt: i32, steps: i32): i32 {
  const rt = runtime;
  if (rt == null || rt.state == null) return E.E_NO_MODEL;
  if (nPrompt < 1 || prompt == 0 || <u64>prompt + (<u64>nPrompt << 2) > (<u64>memory.size() << 16)) return E.E_ARGUMENT;
  // A piece is at most one token's bytes, a block's pieces as many (a tokenizer may have been
  // loaded since the last run).
  const t = rt.tokenizer, pieceCap = Generation.streamCap(t != null ? t.maxTokenLength : 1, rt.state!.block);
  let g = local;
  if (g == null) {
    if (!fitsFrom(heap.alloc(0) + 12, Generation.heapBytes(pieceCap))) return E.E_OUT_OF_MEMORY;
    g = new Generation(rt, rt.state!.ctx, pieceCap, true);
    local = g;
  } else if (g.outCap < pieceCap) { // a larger output, the generation (and its grammar mask) kept
    if (!fitsFrom(heap.alloc(0) + 12, <i64>pieceCap + 16)) return E.E_OUT_OF_MEMORY;
    g.out = heap.alloc(<usize>pieceCap);
    g.outCap = pieceCap;
  }
  g.start(prompt, nPrompt, steps);
  return E.OK;
}

// Constrains the local generation by the loaded grammar (grammarLoad, grammarSetInput first).
export function constrain(on: i32): i32 {
  const rt = runtime;
  if (rt == null || rt.state == null) return E.E_NO_MODEL;
  let g = local;
  if (g == null) {
    const t = rt.tokenizer, pieceCap = Generation.streamCap(t != null ? t.maxTokenLength : 1, rt.state!.block);
    if (!fitsFrom(heap.alloc(0) + 12, Generation.heapBytes(pieceCap))) return E.E_OUT_OF_MEMORY;
    g = new Generation(rt, rt.state!.ctx, pieceCap, true);
    local = g;
  }
  return g.constrain(on != 0);
}

export function next(nowMs: f64): i32 { const g = local; return g == null ? E.E_ARGUMENT : g.next(nowMs); }
export function cancel(): void { const g = local; if (g != null) g.cancel(); }
// 0: no deadline.
export function setDeadline(atMs: f64): void { const g = local; if (g != null) g.deadlineAt = atMs; }
export function output(): usize { const g = local; return g == null ? 0 : g.out; }
export function outputLen(): i32 { const g = local; return g == null ? 0 : g.outLen; }
export function position(): i32 { const g = local; return g == null ? 0 : g.pos; }
export function chosen(): i32 { const g = local; return g == null ? 0 : g.chosen; }
