// The one loaded model of this module instance: file, run state, tokenizer and sampler.
import { Config } from "./config";
import * as E from "../core/errors";
import { parseModelFile, parseModelFileExternal, ParseResult } from "./file";
import { forward } from "./forward";
import { blockFor, RunState } from "./state";
import { forwardBlock } from "./prefill";
import { Weights } from "./weights";
import { fits, memoryCapped } from "../core/memory-cap";
import { Sampler } from "../text/sampler";
import { parseTokenizer, Tokenizer } from "../text/tokenizer";
import { wRead } from "../kernels/native";

const CHECKSUM_OFFSET: usize = 124; // docs/model-format.md

export class Runtime {
  config: Config;
  weights: Weights;
  state: RunState | null = null;
  tokenizer: Tokenizer | null = null;
  sampler: Sampler;
  checksum: u32 = 0; // the model file's header checksum: what an adapter names its base by

  constructor(config: Config, weights: Weights) {
    this.config = config;
    this.weights = weights;
    this.sampler = new Sampler(config.vocabSize);
  }
}

export let runtime: Runtime | null = null;

export function loadModel(p: usize, n: usize): i32 {
  runtime = null;
  const err = finishLoad(parseModelFile(p, n));
  if (err == E.OK) changetype<Runtime>(runtime).checksum = load<u32>(p, CHECKSUM_OFFSET);
  return err;
}

// The model file stays in host memory (kernels/native.ts); n = its size in bytes.
export function loadModelExternal(n: usize): i32 {
  runtime = null;
  const err = finishLoad(parseModelFileExternal(n));
  if (err == E.OK) {
    const sum = heap.alloc(4);
    wRead(sum, <u32>CHECKSUM_OFFSET, 4);
    changetype<Runtime>(runtime).checksum = load<u32>(sum);
  }
  return err;
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
  const block = blockFor(c, memoryCapped());
  if (!fits(RunState.bytesNeeded(c, ctx, kvInt8, scratch, block))) return E.E_OUT_OF_MEMORY;
  rt.state = new RunState(c, ctx, kvInt8, scratch, block);
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

// Runs the n forced positions pos..pos + n - 1 with tokens i32 [n] at `tokens` as one block
// (1 < n ≤ the state's block; model/prefill.ts). Leaves no logits: the generation runs the
// prompt's last position, whose logits it samples from, through step().
export function stepBlock(tokens: usize, n: i32, pos: i32): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const s = rt.state;
  if (s == null) return E.E_NO_MODEL;
  if (n < 2 || n > s.block || pos < 0 || pos + n > s.ctx) return E.E_ARGUMENT;
  const vocab = rt.config.vocabSize;
  for (let t = 0; t < n; t++) {
    const tok = load<i32>(tokens + (<usize>t << 2));
    if (tok < 0 || tok >= vocab) return E.E_ARGUMENT;
  }
  forwardBlock(rt.config, rt.weights, s, tokens, n, pos);
  return E.OK;
}
