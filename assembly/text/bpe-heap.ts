// BPE merging in O(n log n): the same merges, in the same order, as the reference loop in
// tokenizer.ts (best score first, the leftmost of equal scores), which rescans every pair after
// each merge and so takes O(n²) hash lookups: seconds for a 30 KB line, minutes for 140 KB.
//
// Tokens form a linked list over their first positions; every pair that is a vocabulary piece
// sits in a binary max-heap keyed by (score desc, position asc). A node's version changes when
// it merges or dies, so an entry whose two versions no longer match is stale and skipped.
import { Tokenizer } from "./vocab";

// Scratch bytes for n tokens: next, prev, version (i32 [n] each) and at most 3n heap entries.
const ENTRY: usize = 20; // f32 score, i32 left position, i32 merged id, i32 left version, i32 right version
export function bpeScratchBytes(n: i32): usize { return <usize>n * 12 + <usize>n * 3 * ENTRY; }

// Merges tokens (i32 [n]) in place; returns the new count. scratch holds bpeScratchBytes(n).
export function mergeWithHeap(t: Tokenizer, tokens: usize, n: i32, scratch: usize): i32 {
  if (n < 2) return n;
  const next = scratch, prev = next + (<usize>n << 2), ver = prev + (<usize>n << 2);
  const heap = ver + (<usize>n << 2);
  for (let i = 0; i < n; i++) {
    store<i32>(next + (<usize>i << 2), i + 1 < n ? i + 1 : -1);
    store<i32>(prev + (<usize>i << 2), i - 1);
    store<i32>(ver + (<usize>i << 2), 0);
  }
  let size = 0;
  for (let i = 0; i + 1 < n; i++) size = pushPair(t, tokens, ver, heap, size, i, i + 1);
  while (size > 0) {
    const top = heap;
    const score = load<f32>(top), left = load<i32>(top, 4), id = load<i32>(top, 8);
    const vl = load<i32>(top, 12), vr = load<i32>(top, 16);
    size = popTop(heap, size);
    const right = load<i32>(next + (<usize>left << 2));
    if (right < 0 || load<i32>(ver + (<usize>left << 2)) != vl || load<i32>(ver + (<usize>right << 2)) != vr) continue; // stale
    if (score <= -1e10) break; // the reference never merges below its starting best score
    store<i32>(tokens + (<usize>left << 2), id);
    store<i32>(ver + (<usize>left << 2), vl + 1);
    store<i32>(ver + (<usize>right << 2), vr + 1);
    const after = load<i32>(next + (<usize>right << 2));
    store<i32>(next + (<usize>left << 2), after);
    if (after >= 0) store<i32>(prev + (<usize>after << 2), left);
    const before = load<i32>(prev + (<usize>left << 2));
    if (before >= 0) size = pushPair(t, tokens, ver, heap, size, before, left);
    if (after >= 0) size = pushPair(t, tokens, ver, heap, size, left, after);
  }
  // Node 0 never dies (merges remove the right node): walk the list and compact.
  let count = 0;
  for (let i = 0; i >= 0; i = load<i32>(next + (<usize>i << 2))) {
    store<i32>(tokens + (<usize>count << 2), load<i32>(tokens + (<usize>i << 2)));
    count++;
  }
  return count;
}

function pushPair(t: Tokenizer, tokens: usize, ver: usize, heap: usize, size: i32, a: i32, b: i32): i32 {
  const ta = load<i32>(tokens + (<usize>a << 2)), tb = load<i32>(tokens + (<usize>b << 2));
  const id = t.lookup(t.pieceAt(ta), t.lenAt(ta), t.pieceAt(tb), t.lenAt(tb));
  if (id < 0) return size;
  let i = size;
  const e = heap + <usize>i * ENTRY;
  store<f32>(e, t.scoreAt(id));
  store<i32>(e, a, 4);
  store<i32>(e, id, 8);
  store<i32>(e, load<i32>(ver + (<usize>a << 2)), 12);
  store<i32>(e, load<i32>(ver + (<usize>b << 2)), 16);
  while (i > 0) { // sift up
    const parent = (i - 1) >> 1;
    if (!before(heap, i, parent)) break;
    swap(heap, i, parent);
    i = parent;
  }
  return size + 1;
}

function popTop(heap: usize, size: i32): i32 {
  const last = size - 1;
  if (last > 0) memory.copy(heap, heap + <usize>last * ENTRY, ENTRY);
  let i = 0;
  for (;;) { // sift down
    const l = 2 * i + 1, r = l + 1;
    let best = i;
    if (l < last && before(heap, l, best)) best = l;
    if (r < last && before(heap, r, best)) best = r;
    if (best == i) break;
    swap(heap, i, best);
    i = best;
  }
  return last;
}

// Entry a comes out before entry b: higher score, then the leftmost.
@inline function before(heap: usize, a: i32, b: i32): bool {
  const ea = heap + <usize>a * ENTRY, eb = heap + <usize>b * ENTRY;
  const sa = load<f32>(ea), sb = load<f32>(eb);
  return sa > sb || (sa == sb && load<i32>(ea, 4) < load<i32>(eb, 4));
}

@inline function swap(heap: usize, a: i32, b: i32): void {
  const ea = heap + <usize>a * ENTRY, eb = heap + <usize>b * ENTRY;
  for (let k: usize = 0; k < ENTRY; k += 4) {
    const x = load<i32>(ea + k);
    store<i32>(ea + k, load<i32>(eb + k));
    store<i32>(eb + k, x);
  }
}
