// The one loaded model of this module instance: file, run state, tokenizer and sampler.
import { Config } from "./config";
import * as E from "./errors";
import { parseModelFile, parseModelFileExternal, ParseResult } from "./file";
import { forward } from "./forward";
import { RunState } from "./state";
import { Weights } from "./weights";
import { Sampler } from "../text/sampler";
import { parseTokenizer, Tokenizer } from "../text/tokenizer";

export class Runtime {
  config: Config;
  weights: Weights;
  state: RunState | null = null;
  tokenizer: Tokenizer | null = null;
  sampler: Sampler;

  constructor(config: Config, weights: Weights) {
    this.config = config;
    this.weights = weights;
    this.sampler = new Sampler(config.vocabSize);
  }
}

export let runtime: Runtime | null = null;

// Linear memory the next allocations may use before memory.grow must fail (0: unlimited).
let memoryCap: usize = 0;

export function setMemoryCap(bytes: usize): void { memoryCap = bytes; }

// wasm32 addresses 4 GiB; sizes past it would wrap in 32-bit arithmetic, so refuse them here.
const ADDRESS_SPACE: i64 = 4294967296 - 65536;

// Whether `extra` more bytes allocated from heap address `top` stay within the cap, counted in
// the 64 KiB pages memory grows by (exact, unlike fits(), for a caller that knows the top).
export function fitsFrom(top: usize, extra: i64): bool {
  const end = (<i64>top + extra + 0xffff) & ~(<i64>0xffff);
  if (end > ADDRESS_SPACE) return false;
  return memoryCap == 0 || end <= <i64>memoryCap;
}

export function fits(extra: i64): bool {
  // heap.alloc grows memory from the current top; estimate from the current size.
  const top = <i64>(memory.size() << 16) + extra;
  if (top > ADDRESS_SPACE) return false;
  return memoryCap == 0 || top <= <i64>memoryCap + 65536;
}

export function loadModel(p: usize, n: usize): i32 {
  runtime = null;
  return finishLoad(parseModelFile(p, n));
}

// The model file stays in host memory (kernels/native.ts); n = its size in bytes.
export function loadModelExternal(n: usize): i32 {
  runtime = null;
  return finishLoad(parseModelFileExternal(n));
}

function finishLoad(res: ParseResult): i32 {
  if (res.error != E.OK) return res.error;
  const f = res.file;
  const rt = new Runtime(f.config, changetype<Weights>(f.weights));
  if (f.tokenizerBytes != 0) {
    const tr = parseTokenizer(f.tokenizerPtr, <usize>f.tokenizerBytes, f.config.vocabSize);
    if (tr.error != E.OK) return tr.error;
    rt.tokenizer = tr.tokenizer;
  }
  runtime = rt;
  return E.OK;
}

export function loadTokenizer(p: usize, n: usize): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const tr = parseTokenizer(p, n, rt.config.vocabSize);
  if (tr.error != E.OK) return tr.error;
  rt.tokenizer = tr.tokenizer;
  return E.OK;
}

// Allocates the run state for ctx positions (0: the model's seq_len).
export function initState(ctx: i32, kvInt8: bool): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const c = rt.config;
  if (ctx <= 0 || ctx > c.seqLen) ctx = c.seqLen;
  const scratch = rt.weights.ternaryInMemory;
  if (!fits(RunState.bytesNeeded(c, ctx, kvInt8, scratch))) return E.E_OUT_OF_MEMORY;
  rt.state = new RunState(c, ctx, kvInt8, scratch);
  return ctx;
}

export function step(token: i32, pos: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const s = rt.state;
  if (s == null) return E.E_NO_MODEL;
  if (token < 0 || token >= rt.config.vocabSize || pos < 0 || pos >= s.ctx) return E.E_ARGUMENT;
  forward(rt.config, rt.weights, s, token, pos);
  return E.OK;
}
