// Text generation with llama2.c's semantics: BOS, then the prompt tokens forced, then sampled
// tokens; `steps` counts every position including BOS and the prompt; stops early on BOS.
import type { Engine } from "./engine.js";
import { EngineError } from "./errors.js";

export interface GenerateOptions {
  prompt: string;
  steps: number;
  temperature: number;
  topp: number;
  seed: bigint;
}

export interface GenerateResult {
  tokens: number;       // positions run
  generated: number;    // sampled tokens
  promptTokens: number;
  elapsedMs: number;    // from the first forward to the last
}

// BPE merging is quadratic in the prompt's length; beyond this many bytes per position of
// context a prompt could not fit anyway, so it is refused instead of stalling.
export const MAX_PROMPT_BYTES_PER_POSITION = 8;

export function generate(e: Engine, o: GenerateOptions, onPiece: (bytes: Uint8Array) => void, now: () => number = performance.now.bind(performance)): GenerateResult {
  const promptBytes = Buffer.byteLength(o.prompt, "utf8");
  const maxBytes = MAX_PROMPT_BYTES_PER_POSITION * e.info.ctx;
  if (promptBytes > maxBytes) {
    throw new EngineError("E_PROMPT_TOO_LONG", `prompt is ${promptBytes} bytes; at most ${maxBytes} fit a context of ${e.info.ctx} positions`);
  }
  e.setSampler(o.temperature, o.topp, o.seed);
  const prompt = e.encode(o.prompt, true, false);
  const steps = Math.min(o.steps <= 0 ? e.info.ctx : o.steps, e.info.ctx);
  let token = prompt[0];
  let pos = 0;
  const start = now();
  while (pos < steps) {
    const forced = pos + 1 < prompt.length ? prompt[pos + 1] : -1;
    const next = e.step(token, pos, forced);
    pos++;
    if (next === 1) break;
    onPiece(e.decode(token, next));
    token = next;
  }
  return { tokens: pos, generated: Math.max(0, pos - prompt.length + 1), promptTokens: prompt.length, elapsedMs: now() - start };
}
