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
// Constrained decoding (constrain): the loaded grammar (grammar/api.ts) masks the logits
// between forward and sample, so only tokens it allows can be sampled; once it accepts, an end
// token (newline, EOS, BOS) may be sampled too and ends the generation (it is not output). A
// dead end (nothing allowed) ends it as well. Forced prompt tokens are never masked.
// Batched prefill: while the next token is forced, next() runs up to the state's block of such
// positions at once (model/prefill.ts) and appends all their pieces (a streaming generation's
// output holds a block's pieces); the prompt's last position, whose logits are sampled, and a
// position whose forced next token is BOS run alone, so every status and output is the same as
// position by position, only fewer next() calls. A streaming generation blocks by default; an
// accumulating one only when its owner sets blockLimit (the fleet agent does, and counts the
// positions a next() ran by pos for its tick budget).
import * as E from "../core/errors";
import { Runtime, step, stepBlock } from "../model/runtime";
import { BOS, EOS, decode } from "../text/tokenizer";
import { grammarAccepting, grammarAdvance, grammarMask, grammarReset } from "../grammar/api";
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
  constrained: bool = false;
  mask: usize = 0;     // u8 [vocab] the grammar's allowed tokens (constrain)
  newline: i32 = -1;   // the token whose piece is "\n" (an end token when constrained)
  echoPrompt: bool = true; // false: forced prompt tokens output nothing (the agent's commands tasks)
  blockLimit: i32;     // most forced positions one next() may run (the state's block caps it)

  constructor(rt: Runtime, ctx: i32, outCap: i32, streaming: bool) {
    this.rt = rt;
    this.ctx = ctx;
    this.outCap = outCap;
    this.streaming = streaming;
    this.blockLimit = streaming ? 0x7fffffff : 1;
    this.out = heap.alloc(<usize>max(outCap, 1));
  }

  // A streaming generation's output: one block of pieces.
  @inline static streamCap(pieceCap: i32, block: i32): i32 { return pieceCap * max(block, 1); }

  static heapBytes(outCap: i32): i64 {
    return objectBytes(offsetof<Generation>()) + blockBytes(max(outCap, 1));
  }

  @inline static promptCap(ctx: i32): i32 { return MAX_PROMPT_BYTES_PER_POSITION * ctx; }

  // prompt: i32 [nPrompt ≥ 1], kept by the caller until the generation ends (next() forces
  // prompt[pos + 1] only for pos < steps ≤ ctx, so nPrompt beyond ctx + 1 is never read).
  // Masks every sampled token by the loaded grammar from the next start on (E.OK, or an error:
  // no grammar, no tokenizer, no memory for the mask).
  constrain(on: bool): i32 {
    if (!on) { this.constrained = false; return E.OK; }
    const t = this.rt.tokenizer;
    if (t == null) return E.E_NO_TOKENIZER;
    const r = grammarReset();
    if (r < 0) return r;
    if (this.mask == 0) {
      this.mask = heap.alloc(<usize>t.vocabSize);
      const piece = heap.alloc(8);
      for (let tok = 0; tok < t.vocabSize && this.newline < 0; tok++) {
        if (decode(t, 0, tok, piece, 8) == 1 && load<u8>(piece) == 0x0a) this.newline = tok;
      }
    }
    this.constrained = true;
    return E.OK;
  }

  start(prompt: usize, nPrompt: i32, steps: i32): void {
    this.prompt = prompt;
    this.nPrompt = nPrompt;
    this.token = load<i32>(prompt);
    this.pos = 0;
    this.steps = min(steps <= 0 ? this.ctx : steps, this.ctx);
    this.outLen = 0;
    this.deadlineAt = 0;
    this.cancelled = false;
    if (this.constrained) grammarReset();
  }

  // Stops before the next position (GEN_CANCELLED).
  cancel(): void { this.cancelled = true; }

  next(nowMs: f64): i32 {
    if (this.streaming) this.outLen = 0;
    if (this.pos >= this.steps) return GEN_DONE;
    if (this.cancelled) return GEN_CANCELLED;
    if (this.deadlineAt != 0 && nowMs > this.deadlineAt) return GEN_EXPIRED;
    const n = this.blockLength();
    if (n > 1) return this.nextBlock(n);
    const forced = this.pos + 1 < this.nPrompt ? load<i32>(this.prompt + (<usize>(this.pos + 1) << 2)) : -1;
    const err = step(this.token, this.pos);
    if (err != E.OK) return err;
    const next = forced >= 0 ? forced : this.sampleNext();
    if (next < 0) return next;
    this.chosen = next;
    this.pos++;
    if (next == BOS) return GEN_DONE;
    if (this.constrained && forced < 0) {
      if (next == EOS || next == this.newline) return GEN_DONE; // the grammar accepted: the end
      const r = grammarAdvance(next);
      if (r < 0) return r;
    }
    const r = this.emit(next, forced >= 0);
    if (r != GEN_MORE) return r;
    return this.pos >= this.steps ? GEN_DONE : GEN_MORE;
  }

  // Positions from pos on that can run as one block: each one's next token forced and not BOS,
  // the prompt's last position excluded (its logits are sampled), within steps and the block.
  private blockLength(): i32 {
    const block = min(this.rt.state!.block, this.blockLimit);
    if (block < 2) return 1;
    const end = min(min(this.nPrompt - 1, this.steps), this.pos + block);
    let n = 0;
    while (this.pos + n < end && load<i32>(this.prompt + (<usize>(this.pos + n + 1) << 2)) != BOS) n++;
    return n;
  }

  // Runs n forced positions as one block and appends their pieces.
  private nextBlock(n: i32): i32 {
    const err = stepBlock(this.prompt + (<usize>this.pos << 2), n, this.pos);
    if (err != E.OK) return err;
    for (let i = 0; i < n; i++) {
      const next = load<i32>(this.prompt + (<usize>(this.pos + 1) << 2));
      this.chosen = next;
      this.pos++;
      const r = this.emit(next, true);
      if (r != GEN_MORE) return r;
    }
    return this.pos >= this.steps ? GEN_DONE : GEN_MORE;
  }

  // Appends the piece of `next` after the current token (unless it is a forced prompt token and
  // the prompt is not echoed) and makes it current: GEN_MORE, or GEN_OVERFLOW / an error code.
  // Without a tokenizer (a bare checkpoint's speed run): tokens, no text.
  private emit(next: i32, forced: bool): i32 {
    const t = this.rt.tokenizer;
    if (t != null && (!forced || this.echoPrompt)) {
      const len = decode(t, this.token, next, this.out + <usize>this.outLen, this.outCap - this.outLen);
      if (len == E.E_ARGUMENT) return GEN_OVERFLOW;
      if (len < 0) return len;
      this.outLen += len;
    }
    this.token = next;
    return GEN_MORE;
  }

  // The next token from the logits of the position just run (masked by the grammar when
  // constrained: a refused token's logit becomes -inf; BOS stands for a dead end).
  private sampleNext(): i32 {
    const logits = this.rt.state!.logits;
    if (this.constrained) {
      const allowed = grammarMask(this.mask);
      if (allowed < 0) return allowed;
      const accepting = grammarAccepting() == 1;
      let any = false;
      for (let tok = 0; tok < this.rt.config.vocabSize; tok++) {
        const end = tok == EOS || tok == this.newline || tok == BOS;
        if (load<u8>(this.mask + <usize>tok) != 0 || (accepting && end && tok != BOS)) any = true;
        else store<f32>(logits + (<usize>tok << 2), -Infinity);
      }
      if (!any) return BOS;
    }
    return this.rt.sampler.sample(logits);
  }
}
