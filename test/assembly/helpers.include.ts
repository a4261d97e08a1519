// Shared by the specs: deterministic pseudo-random buffers and tolerance checks.
let seed: u32 = 12345;

export function resetRandom(s: u32): void { seed = s; }

export function nextU32(): u32 {
  seed = seed * 1664525 + 1013904223;
  return seed;
}

// Uniform in [-1, 1).
export function nextF32(): f32 {
  return <f32>(nextU32() >> 8) / <f32>8388608.0 - <f32>1.0;
}

export function randomF32(n: i32, scale: f32 = 1): usize {
  const p = heap.alloc(<usize>n << 2);
  for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), nextF32() * scale);
  return p;
}

export function randomI8(n: i32, max: i32 = 127): usize {
  const p = heap.alloc(<usize>n);
  for (let i = 0; i < n; i++) store<i8>(p + <usize>i, <i8>(<i32>(nextU32() % <u32>(2 * max + 1)) - max));
  return p;
}

export function zeros(bytes: i32): usize {
  const p = heap.alloc(<usize>bytes);
  memory.fill(p, 0, <usize>bytes);
  return p;
}

export function maxAbsDiff(a: usize, b: usize, n: i32): f32 {
  let m: f32 = 0;
  for (let i = 0; i < n; i++) m = Mathf.max(m, Mathf.abs(load<f32>(a + (<usize>i << 2)) - load<f32>(b + (<usize>i << 2))));
  return m;
}

export function maxAbs(a: usize, n: i32): f32 {
  let m: f32 = 0;
  for (let i = 0; i < n; i++) m = Mathf.max(m, Mathf.abs(load<f32>(a + (<usize>i << 2))));
  return m;
}

export function bitsEqual(a: usize, b: usize, n: i32): bool {
  return memory.compare(a, b, <usize>n << 2) == 0;
}
