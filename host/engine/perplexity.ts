// Perplexity of a model over documents: exp of the mean negative log-likelihood of each
// token given the ones before it. Documents longer than the context are cut into windows.
import type { Engine } from "./engine.js";
import { EngineError } from "./errors.js";

export interface NllSum {
  nll: number;     // Σ -ln p(token | prefix), nats
  tokens: number;  // predicted tokens
}

// -ln softmax(logits)[target], computed in f64.
export function negLogProb(logits: Float32Array, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return Math.log(sum) - (logits[target] - max);
}

// tokens begins with BOS; each window of ctx positions predicts its tokens 1..n-1.
export function documentNll(e: Engine, tokens: Int32Array, onToken?: () => void): NllSum {
  const ctx = e.info.ctx;
  // Each window predicts ctx - 1 tokens: a context of 1 predicts none and never moves on.
  if (ctx < 2) throw new EngineError("E_CONFIG", `a context of ${ctx} position cannot predict a next token: perplexity needs at least 2`);
  const r: NllSum = { nll: 0, tokens: 0 };
  for (let start = 0; start + 1 < tokens.length; start += ctx - 1) {
    const end = Math.min(tokens.length, start + ctx);
    for (let i = start; i + 1 < end; i++) {
      const logits = e.forward(tokens[i], i - start);
      r.nll += negLogProb(logits, tokens[i + 1]);
      r.tokens++;
      onToken?.();
    }
  }
  return r;
}

// Σ over documents (each tokenized, BOS first) and the corpus's perplexity; onToken after each
// predicted token (progress).
export function corpusNll(e: Engine, docs: Iterable<Int32Array>, onToken?: () => void): NllSum & { perplexity: number } {
  const sum: NllSum = { nll: 0, tokens: 0 };
  for (const d of docs) {
    const r = documentNll(e, d, onToken);
    sum.nll += r.nll;
    sum.tokens += r.tokens;
  }
  return { ...sum, perplexity: perplexityOf(sum) };
}

// A model whose logits are not finite (NaN or Inf weights) has no perplexity: an error, not NaN.
export function perplexityOf(s: NllSum): number {
  const ppl = s.tokens > 0 ? Math.exp(s.nll / s.tokens) : NaN;
  if (s.tokens > 0 && Number.isNaN(ppl)) throw new EngineError("E_NONFINITE", "the model's predictions are not finite numbers (NaN or infinite weights or scales in the file?)");
  return ppl;
}

// One document per non-empty line (the TinyStories sample's layout), whatever the line ends: a file
// with old Mac (CR) endings is not one giant document (BPE merging is quadratic in its length).
export function documents(text: string): string[] {
  return text.split(/\r\n|\r|\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}
