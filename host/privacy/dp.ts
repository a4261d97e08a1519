// Client-level DP-FedAvg (McMahan, Ramage, Talwar, Zhang 2018, "Learning differentially private
// recurrent language models"): every client's update is clipped to L2 norm S, the gateway sums
// the clipped updates of the clients sampled this round (each with probability q) and adds
// N(0, (z·S)²) per coordinate. One round is then one Sampled Gaussian Mechanism step (q, z) for
// the RdpAccountant.
//
// An update is one Float32Array per tensor; the norm is over all of them together.
import { PrivacyError } from "./errors.js";
import type { GaussianRng } from "./gaussian.js";

export type Update = readonly Float32Array[];

// √Σx² over every tensor, accumulated in f64 so large updates do not lose the small entries.
export function l2Norm(update: Update): number {
  let sum = 0;
  for (const t of update) for (let i = 0; i < t.length; i++) sum += t[i] * t[i];
  return Math.sqrt(sum);
}

function checkClipNorm(clipNorm: number): void {
  if (!(clipNorm > 0 && Number.isFinite(clipNorm))) throw new PrivacyError("E_PRIVACY", `clip norm must be a finite number > 0, got ${clipNorm}`);
}

function checkFinite(update: Update): void {
  // A NaN or ∞ would pass through the clip (NaN compares false) and void the sensitivity bound.
  for (const t of update) for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i])) throw new PrivacyError("E_PRIVACY", `update has a non-finite value at index ${i}`);
}

export interface Clipped {
  update: Float32Array[]; // new arrays, same shapes as the input
  norm: number; // the norm before clipping
  clipped: boolean;
}

// Scales the update by min(1, S/‖u‖). The scale is shaved by one f32 ulp so that rounding can
// never leave the result a hair above S: the bound is what the privacy proof rests on.
export function clipUpdate(update: Update | Float32Array, clipNorm: number): Clipped {
  checkClipNorm(clipNorm);
  const parts = update instanceof Float32Array ? [update] : update;
  checkFinite(parts);
  const norm = l2Norm(parts);
  const clipped = norm > clipNorm;
  const scale = clipped ? (clipNorm / norm) * (1 - 2 ** -23) : 1;
  return { update: parts.map((t) => (clipped ? t.map((x) => x * scale) : t.slice())), norm, clipped };
}

// Adds N(0, σ²) to every coordinate, in place.
export function addGaussianNoise(update: Update, sigma: number, rng: GaussianRng): void {
  if (!(sigma >= 0 && Number.isFinite(sigma))) throw new PrivacyError("E_PRIVACY", `noise σ must be a finite number ≥ 0, got ${sigma}`);
  if (sigma === 0) return;
  for (const t of update) for (let i = 0; i < t.length; i++) t[i] += sigma * rng.normal();
}

export interface AggregateOptions {
  clipNorm: number; // S
  noise: number; // z: σ = z·S on the sum
  sampleRate: number; // q
  population: number; // N, the clients that could have been sampled
  rng: GaussianRng;
}

export interface Aggregate {
  update: Float32Array[];
  clippedCount: number; // clients whose update was scaled down: a hint that S is too small
}

// The DP-FedAvg server step: (Σ clip(u_k) + N(0, (zS)²)) / (q·N). Dividing by the *expected*
// number of clients q·N (McMahan et al.'s fixed-denominator estimator), not by how many came,
// keeps the sensitivity of the average at S/(qN) whatever the sample; the count itself is not
// protected. Zero sampled clients still yields pure noise, so a round's output never reveals
// that nobody was sampled.
export function aggregateDpFedAvg(updates: readonly Update[], shapes: readonly number[], o: AggregateOptions): Aggregate {
  if (!(o.sampleRate > 0 && o.sampleRate <= 1)) throw new PrivacyError("E_PRIVACY", `sample rate must be in (0, 1], got ${o.sampleRate}`);
  if (!(Number.isInteger(o.population) && o.population > 0)) throw new PrivacyError("E_PRIVACY", `population must be a positive integer, got ${o.population}`);
  if (!(o.noise >= 0 && Number.isFinite(o.noise))) throw new PrivacyError("E_PRIVACY", `noise multiplier must be a finite number ≥ 0, got ${o.noise}`);
  const sum = shapes.map((n) => new Float32Array(n)); // [tensor][element]
  let clippedCount = 0;
  updates.forEach((u, k) => {
    if (u.length !== shapes.length || u.some((t, i) => t.length !== shapes[i])) throw new PrivacyError("E_PRIVACY", `update ${k} does not have the model's tensor shapes`);
    const c = clipUpdate(u, o.clipNorm);
    if (c.clipped) clippedCount++;
    c.update.forEach((t, i) => { const s = sum[i]; for (let j = 0; j < t.length; j++) s[j] += t[j]; });
  });
  addGaussianNoise(sum, o.noise * o.clipNorm, o.rng);
  const expected = o.sampleRate * o.population;
  for (const t of sum) for (let j = 0; j < t.length; j++) t[j] /= expected;
  return { update: sum, clippedCount };
}

// Local DP, for clients that do not trust the gateway: clip to S and add N(0, (z·S)²) before the
// update leaves the device. Each release is then a Gaussian mechanism of its own (account it
// with sample rate 1 per round the client takes part in); the gateway learns nothing more.
export function localDp(update: Update | Float32Array, clipNorm: number, noise: number, rng: GaussianRng): Clipped {
  const c = clipUpdate(update, clipNorm);
  addGaussianNoise(c.update, noise * clipNorm, rng);
  return c;
}
