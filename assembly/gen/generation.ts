// Text generation: the one state machine every host drives (Node's `run`, the fleet agent, the
// C firmware, teacher sampling, the speed probes), with llama2.c's semantics exactly:
//
//   start(prompt tokens, steps)          prompt[0] is BOS; steps counts every position (0 = ctx)
//   next(nowMs) per position ──► MORE     a position ran: forward, then prompt[pos + 1] forced or
//                                         a sampled token, its piece appended to the output
//                            ──► DONE     steps reached, or BOS sampled (BOS is not output)
//                            ──► OVERFLOW the output no longer fits (accumulating mode only)
//                            ──► CANCELLED / EXPIRED  cancel() was called / nowMs passed the
//                                         deadline: checked before the position, which is not run
//                            ──► < 0      a module error code from the forward pass
//
// Output: `out[0, outLen)` (none without a tokenizer: a bare checkpoint generates tokens only).
// Accumulating (the agent: one result carries the whole text) keeps
// every piece; streaming (local runs, which print as they go) keeps only the last position's.
// The sampler is configured by the caller, so a caller can keep its random stream across many
// generations (teacher sampling does).
//
// Seams for what comes next: constrained decoding masks the logits between forward and sample
// (sampleNext); batched prefill runs the forced prompt positions as one pass (next, while
// pos + 1 < nPrompt).
import * as E from "../core/errors";
import { Runtime, step } from "../model/runtime";
import { BOS, decode } from "../text/tokenizer";
import { blockBytes, objectBytes } from "../core/heap";

// BPE merging is quadratic in the prompt's length, and beyond this many bytes per position of
// context a prompt could not fit anyway: hosts refuse longer prompts before tokenizing.
export const MAX_PROMPT_BYTES_PER_POSITION: i32 = 8;

export const GEN_MORE: i32 = 0;
export const GEN_DONE: i32 = 1;
export const GEN_OVERFLOW: i32 = 2;
export const GEN_CANCELLED: i32 = 3;
export const GEN_EXPIRED: i32 = 4;

export class Generation {
  rt: Runtime;
  ctx: i32;
  out: usize;        // u8 [outCap] the output: all of it, or the last piece when streaming
  outCap: i32;
  outLen: i32 = 0;
  streaming: bool;
  prompt: usize = 0; // i32 [nPrompt] the caller's tokens (BOS first); read, never written
  nPrompt: i32 = 0;
  token: i32 = 0;    // the token at position pos (the last one output or forced)
  chosen: i32 = 0;   // the token the last position chose: forced, sampled, or BOS
  pos: i32 = 0;      // positions run
  steps: i32 = 0;
  deadlineAt: f64 = 0; // nowMs after which next() expires; 0: none
  cancelled: bool = false;

  constructor(rt: Runtime, ctx: i32, outCap: i32, streaming: bool) {
    this.rt = rt;
    this.ctx = ctx;
    this.outCap = outCap;
    this.streaming = streaming;
    this.out = heap.alloc(<usize>max(outCap, 1));
  }

  static heapBytes(outCap: i32): i64 {
    return objectBytes(offsetof<Generation>()) + blockBytes(max(outCap, 1));
  }

  @inline static promptCap(ctx: i32): i32 { return MAX_PROMPT_BYTES_PER_POSITION * ctx; }

  // prompt: i32 [nPrompt ≥ 1], kept by the caller until the generation ends (next() forces
  // prompt[pos + 1] only for pos < steps ≤ ctx, so nPrompt beyond ctx + 1 is never read).
  start(prompt: usize, nPrompt: i32, steps: i32): void {
    this.prompt = prompt;
    this.nPrompt = nPrompt;
    this.token = load<i32>(prompt);
    this.pos = 0;
    this.steps = min(steps <= 0 ? this.ctx : steps, this.ctx);
    this.outLen = 0;
    this.deadlineAt = 0;
    this.cancelled = false;
  }

  // Stops before the next position (GEN_CANCELLED).
  cancel(): void { this.cancelled = true; }

  next(nowMs: f64): i32 {
    if (this.streaming) this.outLen = 0;
    if (this.pos >= this.steps) return GEN_DONE;
    if (this.cancelled) return GEN_CANCELLED;
    if (this.deadlineAt != 0 && nowMs > this.deadlineAt) return GEN_EXPIRED;
    const forced = this.pos + 1 < this.nPrompt ? load<i32>(this.prompt + (<usize>(this.pos + 1) << 2)) : -1;
    const err = step(this.token, this.pos);
    if (err != E.OK) return err;
    const next = forced >= 0 ? forced : this.sampleNext();
    this.chosen = next;
    this.pos++;
    if (next == BOS) return GEN_DONE;
    const t = this.rt.tokenizer; // without one (a bare checkpoint's speed run): tokens, no text
    if (t != null) {
      const n = decode(t, this.token, next, this.out + <usize>this.outLen, this.outCap - this.outLen);
      if (n == E.E_ARGUMENT) return GEN_OVERFLOW;
      if (n < 0) return n;
      this.outLen += n;
    }
    this.token = next;
    return this.pos >= this.steps ? GEN_DONE : GEN_MORE;
  }

  // The next token from the logits of the position just run.
  @inline private sampleNext(): i32 { return this.rt.sampler.sample(this.rt.state!.logits); }
}
