// Sampler with llama2.c's semantics: greedy at temperature 0, else softmax(logits / T) and
// either multinomial or top-p (nucleus) sampling; xorshift64* random numbers from a seed.
import { softmax } from "../kernels/f32";

export class Sampler {
  vocabSize: i32;
  temperature: f32 = 0;
  topp: f32 = 0.9;
  state: u64 = 1;
  probIndex: usize; // (f32 prob, i32 index) [vocab] top-p candidates

  constructor(vocabSize: i32) {
    this.vocabSize = vocabSize;
    this.probIndex = heap.alloc(<usize>vocabSize << 3);
  }

  configure(temperature: f32, topp: f32, seed: u64): void {
    this.temperature = temperature;
    this.topp = topp;
    this.state = seed == 0 ? 1 : seed; // xorshift must not start at 0
  }

  randomU32(): u32 {
    let s = this.state;
    s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
    this.state = s;
    return <u32>((s * 0x2545f4914f6cdd1d) >> 32);
  }

  randomF32(): f32 { return <f32>(this.randomU32() >> 8) / <f32>16777216.0; }

  // Samples from logits[vocab]; overwrites them with probabilities when temperature > 0.
  sample(logits: usize): i32 {
    const n = this.vocabSize;
    if (this.temperature == 0) return argmax(logits, n);
    for (let i = 0; i < n; i++) {
      const p = logits + (<usize>i << 2);
      store<f32>(p, load<f32>(p) / this.temperature);
    }
    softmax(logits, n);
    const coin = this.randomF32();
    if (this.topp <= 0 || this.topp >= 1) return sampleMult(logits, n, coin);
    return this.sampleTopp(logits, n, coin);
  }

  sampleTopp(probs: usize, n: i32, coin: f32): i32 {
    // Tokens below this cannot be part of the nucleus; skipping them keeps the sort short.
    const cutoff: f32 = (<f32>1.0 - this.topp) / <f32>(n - 1);
    let count = 0;
    for (let i = 0; i < n; i++) {
      const p = load<f32>(probs + (<usize>i << 2));
      if (p >= cutoff) {
        const e = this.probIndex + (<usize>count << 3);
        store<f32>(e, p); store<i32>(e, i, 4);
        count++;
      }
    }
    sortDescending(this.probIndex, count);
    let cumulative: f32 = 0;
    let last = count - 1;
    for (let i = 0; i < count; i++) {
      cumulative += load<f32>(this.probIndex + (<usize>i << 3));
      if (cumulative > this.topp) { last = i; break; }
    }
    const r = coin * cumulative;
    let cdf: f32 = 0;
    for (let i = 0; i <= last; i++) {
      cdf += load<f32>(this.probIndex + (<usize>i << 3));
      if (r < cdf) return load<i32>(this.probIndex + (<usize>i << 3), 4);
    }
    return load<i32>(this.probIndex + (<usize>last << 3), 4);
  }
}

export function argmax(x: usize, n: i32): i32 {
  let best = 0;
  let max = load<f32>(x);
  for (let i = 1; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v > max) { max = v; best = i; }
  }
  return best;
}

function sampleMult(probs: usize, n: i32, coin: f32): i32 {
  let cdf: f32 = 0;
  for (let i = 0; i < n; i++) {
    cdf += load<f32>(probs + (<usize>i << 2));
    if (coin < cdf) return i;
  }
  return n - 1;
}

// Insertion sort of (prob, index) pairs by prob, descending; stable, so ties keep index order.
function sortDescending(a: usize, n: i32): void {
  for (let i = 1; i < n; i++) {
    const p = load<f32>(a + (<usize>i << 3)), idx = load<i32>(a + (<usize>i << 3), 4);
    let j = i - 1;
    while (j >= 0 && load<f32>(a + (<usize>j << 3)) < p) {
      store<u64>(a + (<usize>(j + 1) << 3), load<u64>(a + (<usize>j << 3)));
      j--;
    }
    store<f32>(a + (<usize>(j + 1) << 3), p);
    store<i32>(a + (<usize>(j + 1) << 3), idx, 4);
  }
}
