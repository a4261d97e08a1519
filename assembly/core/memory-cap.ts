// The host's cap on linear memory (--max-memory) and the checks every allocator runs against
// it before growing memory, so an over-budget model or state is refused, not trapped on.

// Linear memory the next allocations may use before memory.grow must fail (0: unlimited).
let memoryCap: usize = 0;

export function setMemoryCap(bytes: usize): void { memoryCap = bytes; }

// Whether the host set a cap (it sizes the prefill block, model/state.ts blockFor).
export function memoryCapped(): bool { return memoryCap != 0; }

// wasm32 addresses 4 GiB; sizes past it would wrap in 32-bit arithmetic, so refuse them here.
const ADDRESS_SPACE: i64 = 4294967296 - 65536;

// Whether `extra` more bytes allocated from heap address `top` stay within the cap, counted in
// the 64 KiB pages memory grows by (exact, unlike fits(), for a caller that knows the top).
export function fitsFrom(top: usize, extra: i64): bool {
  const end = (<i64>top + extra + 0xffff) & ~(<i64>0xffff);
  if (end > ADDRESS_SPACE) return false;
  return memoryCap == 0 || end <= <i64>memoryCap;
}

export function fits(extra: i64): bool {
  // heap.alloc grows memory from the current top; estimate from the current size.
  const top = <i64>(memory.size() << 16) + extra;
  if (top > ADDRESS_SPACE) return false;
  return memoryCap == 0 || top <= <i64>memoryCap + 65536;
}
