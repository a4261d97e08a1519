// Text generation with llama2.c's semantics, driven a position at a time through the module's
// one generation state machine (assembly/gen/generation.ts): BOS, then the prompt tokens forced,
// then sampled tokens; `steps` counts every position including BOS and the prompt; stops early
// on BOS.
import type { Engine } from "./engine.js";

// Statuses of genNext (assembly/gen/generation.ts).
export const GEN_MORE = 0;
export const GEN_DONE = 1;

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

export function generate(e: Engine, o: GenerateOptions, onPiece: (bytes: Uint8Array) => void, now: () => number = performance.now.bind(performance)): GenerateResult {
  e.setSampler(o.temperature, o.topp, o.seed);
  const promptTokens = e.startGeneration(o.prompt, o.steps);
  const start = now();
  for (;;) {
    const { status, piece } = e.nextPosition();
    if (piece.length > 0) onPiece(piece.slice());
    if (status !== GEN_MORE) break;
  }
  const pos = e.x.genPosition();
  return { tokens: pos, generated: Math.max(0, pos - promptTokens + 1), promptTokens, elapsedMs: now() - start };
}
