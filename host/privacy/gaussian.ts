// Seeded Gaussian noise, simple enough to mirror bit-for-bit in AssemblyScript (32-bit integer ops
// only up to the final floats):
// - state: xoshiro128** (Blackman & Vigna), 128 bits, seeded from one u32 by four rounds of
//   splitmix32 (add 0x9e3779b9, then murmur3's finalizer), so nearby seeds give unrelated streams;
// - uniform: 53 bits from two outputs, (a >>> 5)·2^26 + (b >>> 6), over 2^53, in [0, 1);
// - normal: Box–Muller, r = √(−2 ln(1 − u1)), θ = 2π·u2, returning r·cos θ then r·sin θ.
// The uniforms are exact in any language; the normals agree to libm's rounding of log/cos/sin.
// Without a seed the state comes from the OS's CSPRNG: real runs must not be replayable.
import { randomBytes } from "node:crypto";
import { PrivacyError } from "./errors.js";

function splitmix32(x: number): [next: number, out: number] {
  const next = (x + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export class GaussianRng {
  private readonly s = new Uint32Array(4); // xoshiro128** state, never all zero
  private spare = NaN; // Box–Muller's second value, until asked for

  constructor(seed?: number) {
    if (seed === undefined) {
      const b = randomBytes(16);
      for (let i = 0; i < 4; i++) this.s[i] = b.readUInt32LE(4 * i);
      if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
      return;
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PrivacyError("E_PRIVACY", `noise seed must be an integer in [0, 2^32), got ${seed}`);
    let x = seed;
    for (let i = 0; i < 4; i++) [x, this.s[i]] = splitmix32(x);
  }

  // A given xoshiro128** state, for test vectors shared with other implementations.
  static fromState(state: readonly [number, number, number, number]): GaussianRng {
    if (state.every((x) => x === 0)) throw new PrivacyError("E_PRIVACY", "xoshiro128** state must not be all zero");
    const g = new GaussianRng(0);
    g.s.set(state);
    return g;
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  // In [0, 1), a multiple of 2^−53.
  uniform(): number {
    const a = this.nextU32() >>> 5, b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  // N(0, 1).
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform())); // 1 − u ∈ (0, 1]: log is finite
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}
