// Option parsers that reject bad values with a message naming the flag.
import { InvalidArgumentError } from "commander";

export function float(name: string, min: number, max: number) {
  return (v: string): number => {
    const x = Number(v);
    if (v.trim() === "" || !Number.isFinite(x) || x < min || x > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
    return x;
  };
}

// Sampling temperature: 0 (greedy) or from MIN_TEMPERATURE up. Below it, logits divided by the
// temperature overflow f32; the sampler's choice would be the greedy one anyway.
const MIN_TEMPERATURE = 1e-6;
export function temperature(max: number) {
  const inRange = float("temperature", 0, max);
  return (v: string): number => {
    const x = inRange(v);
    if (x > 0 && x < MIN_TEMPERATURE) throw new InvalidArgumentError(`temperature must be 0 (greedy) or at least ${MIN_TEMPERATURE}, got '${v}'`);
    return x;
  };
}

export function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const x = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || x < min || x > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got '${v}'`);
    return x;
  };
}

export function seed(v: string): bigint {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError(`seed must be a non-negative integer, got '${v}'`);
  const s = BigInt(v.trim());
  if (s >= 1n << 64n) throw new InvalidArgumentError(`seed must fit in 64 bits, got '${v}'`);
  return s;
}

export function choice<T extends string>(name: string, options: readonly T[]) {
  return (v: string): T => {
    if (!options.includes(v as T)) throw new InvalidArgumentError(`${name} must be one of ${options.join(", ")}, got '${v}'`);
    return v as T;
  };
}

// A comma-separated list of choices, e.g. "ternary-q4,ternary-t5-q4".
export function choices<T extends string>(name: string, options: readonly T[]) {
  return (v: string): T[] => {
    const picked = v.split(",").map((x) => x.trim());
    const bad = picked.filter((x) => !options.includes(x as T));
    if (picked.length === 0 || bad.length) throw new InvalidArgumentError(`${name} must be a comma-separated list of ${options.join(", ")}, got '${v}'`);
    return picked as T[];
  };
}
