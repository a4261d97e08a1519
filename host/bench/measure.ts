// Side-by-side throughput measurement: every configuration runs once per round, rounds
// interleaved, and the median of the rounds is reported, so load on a shared machine hits all
// configurations alike.
import { Engine } from "../engine/engine.js";
import { GEN_MORE } from "../engine/generate.js";
import type { EngineKind } from "../engine/exports.js";

export interface WasmCase {
  engine: EngineKind;
  quant: string;
  modelBytes: Uint8Array;
}

export interface CaseResult {
  engine: string;
  quant: string;
  tokens_per_s: number;
  peak_memory_bytes: number;
  positions: number;
  tokens?: number[];
}

// Greedy decoding from BOS for `steps` positions; returns the sampled tokens.
export function decodeGreedy(e: Engine, steps: number): number[] {
  e.setSampler(0, 0, 0n);
  const out: number[] = [];
  e.startGeneration(Int32Array.of(1), steps);
  for (let status = GEN_MORE; status === GEN_MORE;) {
    status = e.nextPosition().status;
    if (e.x.genPosition() > out.length) out.push(e.x.genChosen());
  }
  return out;
}

export class WasmRunner {
  readonly c: WasmCase;
  readonly engine: Engine;
  readonly times: number[] = [];
  tokens: number[] = [];

  constructor(c: WasmCase, steps: number) {
    this.c = c;
    this.engine = Engine.load(c.modelBytes, undefined, { engine: c.engine, ctx: steps });
    // Warm-up: V8 starts wasm in its baseline compiler and tiers hot functions up later.
    for (let i = 0; i < 3; i++) this.tokens = decodeGreedy(this.engine, steps);
  }

  round(steps: number, now: () => number): void {
    const t0 = now();
    this.tokens = decodeGreedy(this.engine, steps);
    this.times.push((now() - t0) / 1000);
  }

  result(): CaseResult {
    return {
      engine: this.c.engine, quant: this.c.quant, positions: this.tokens.length,
      tokens_per_s: this.tokens.length / median(this.times),
      peak_memory_bytes: this.engine.memoryBytes, tokens: this.tokens,
    };
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
