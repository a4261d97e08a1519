// MeZO: forward-only (zeroth-order) fine-tuning of the adapter loaded last, inside the inference
// module, so a device with no memory for backpropagation trains with what inference already
// holds plus the adapter and one batch of examples (issue 18 part 4; Malladi et al. 2023).
//
//   step t:  z = direction(seed, t), never stored: regenerated from the seed on every pass
//            θ += εz;  ℓ₊ = loss(batch)
//            θ −= 2εz; ℓ₋ = loss(batch)
//            g = (ℓ₊ − ℓ₋) / 2ε            the projected gradient, one number
//            θ += (ε − ηg)z                 back to θ and the update, in one pass
//
// z is Rademacher (±1 per parameter), not Gaussian: the same E[zzᵀ] = I, so the same unbiased
// estimate of the smoothed gradient, and it is exact integer work any host can replay bit for bit
// from (seed, t, g) alone (a federated client sends those numbers, not the adapter). θ is the
// adapter's f32 A and B (the base never moves); with f32 storage they are the file image itself,
// so the trained adapter is the image, resealed (adapter/file.ts resealAdapter).
//
// Loss: the mean cross-entropy over the batch's trained tokens (text/example.ts records), each
// example run position by position through the inference forward pass from position 0.
import * as E from "../core/errors";
import { lastInPlace, lastLinks } from "../model/lora";
import { runtime, step as forwardStep } from "../model/runtime";
import { RECORD_HEADER } from "../text/example";

// An adapter whose A and B are its f32 file image in linear memory (not widened f16 copies, not
// host-held): the only kind a step may write to.
export function trainable(): bool { return lastLinks.length > 0 && lastInPlace; }

// splitmix64: decorrelates (seed, step) into the stream's start.
function mix(x: u64): u64 {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

// The example of batch slot b at step t, among n: the order every host draws, so a device and
// a Node host given the same seed and data train on the same examples.
export function pick(seed: u64, t: u32, b: u32, n: u32): u32 {
  return <u32>(mix(mix(seed + 0x5bd1e995) ^ ((<u64>t << 16) | <u64>b)) % <u64>n);
}

// θ += c·z over every parameter of the trained adapter, in link order, A then B.
export function perturb(seed: u64, t: u32, c: f32): void {
  let state = mix(seed ^ mix(<u64>t));
  if (state == 0) state = 1;
  let bits: u64 = 0, left = 0;
  for (let i = 0; i < lastLinks.length; i++) {
    const l = lastLinks[i];
    for (let pass = 0; pass < 2; pass++) {
      const p = pass == 0 ? l.a : l.b;
      const count = l.rank * (pass == 0 ? l.inn : l.out);
      for (let j = 0; j < count; j++) {
        if (left == 0) {
          state ^= state >> 12; state ^= state << 25; state ^= state >> 27; // xorshift64*
          bits = state * 0x2545f4914f6cdd1d;
          left = 64;
        }
        const q = p + (<usize>j << 2);
        store<f32>(q, (bits & 1) != 0 ? load<f32>(q) + c : load<f32>(q) - c);
        bits >>= 1; left--;
      }
    }
  }
}

export function parameterCount(): i32 {
  let n = 0;
  for (let i = 0; i < lastLinks.length; i++) {
    const l = lastLinks[i];
    n += l.rank * (l.inn + l.out);
  }
  return n;
}

// Cross-entropy of logits[V] at target: the same code in every build (exp and log are the
// module's own, not the host's). f32 Mathf, as the sampler's softmax: f64 Math would bring its
// 6 KB of tables into the device's linear memory.
function crossEntropy(logits: usize, V: i32, target: i32): f64 {
  let m: f32 = -Infinity;
  for (let v = 0; v < V; v++) m = max(m, load<f32>(logits + (<usize>v << 2)));
  let sum: f64 = 0;
  for (let v = 0; v < V; v++) sum += <f64>Mathf.exp(load<f32>(logits + (<usize>v << 2)) - m);
  return <f64>Mathf.log(<f32>sum) + <f64>m - <f64>load<f32>(logits + (<usize>target << 2));
}

// Mean loss over the trained tokens of count records at batch (text/example.ts layout, one
// after another; 0 when none has one); an error is left in lossError.
let lossError: i32 = E.OK;
export function batchLoss(batch: usize, count: i32): f64 {
  lossError = E.OK;
  const rt = runtime;
  if (rt == null) { lossError = E.E_NO_MODEL; return 0; }
  const s = rt.state;
  if (s == null) { lossError = E.E_NO_MODEL; return 0; }
  const V = rt.config.vocabSize;
  let total: f64 = 0, counted = 0;
  let rec = batch;
  for (let e = 0; e < count; e++) {
    const n = load<i32>(rec), from = load<i32>(rec, 4);
    const tokens = rec + (<usize>RECORD_HEADER << 2);
    if (n < 1 || n > s.ctx || from < 1) { lossError = E.E_ARGUMENT; return 0; }
    rec = tokens + (<usize>n << 2);
    if (from >= n) continue; // cut before its label: nothing to train on
    // Position p predicts token p + 1; the loss counts it from `from` on.
    for (let p = 0; p + 1 < n; p++) {
      const err = forwardStep(load<i32>(tokens + (<usize>p << 2)), p);
      if (err != E.OK) { lossError = err; return 0; }
      if (p + 1 < from) continue;
      const y = load<i32>(tokens + (<usize>(p + 1) << 2));
      if (y < 0 || y >= V) { lossError = E.E_ARGUMENT; return 0; }
      total += crossEntropy(s.logits, V, y);
      counted++;
    }
  }
  return counted > 0 ? total / <f64>counted : 0;
}

export function lastLossError(): i32 { return lossError; }

// One step; writes f32 [ℓ₊, ℓ₋, g] at out. E_ARGUMENT: no adapter, ε ≤ 0, a bad record.
export function mezoStep(seed: u64, t: u32, eps: f32, lr: f32, batch: usize, count: i32, out: usize): i32 {
  if (!trainable() || !(eps > 0) || !isFinite(eps) || !(lr >= 0) || !isFinite(lr) || count < 1) return E.E_ARGUMENT;
  perturb(seed, t, eps);
  const lp = batchLoss(batch, count);
  if (lossError != E.OK) { perturb(seed, t, -eps); return lossError; }
  perturb(seed, t, -2 * eps);
  const lm = batchLoss(batch, count);
  if (lossError != E.OK) { perturb(seed, t, eps); return lossError; }
  const g = <f32>((lp - lm) / (2 * <f64>eps));
  perturb(seed, t, eps - lr * g);
  store<f32>(out, <f32>lp);
  store<f32>(out, <f32>lm, 4);
  store<f32>(out, g, 8);
  return E.OK;
}
