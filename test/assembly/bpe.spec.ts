import { encode, parseTokenizer, Tokenizer } from "../../assembly/text/tokenizer";
import { nextU32, resetRandom, zeros } from "./helpers.include";

// A vocabulary built to stress the merge order: few letters, many pieces, many equal scores
// (ties go to the leftmost pair), and one piece scored below the reference's -1e10 floor.
const PIECES: string[] = ["<unk>", "<s>", "</s>", " ", "a", "b", "c", "ab", "ba", "aa", "bb", "cc", "ca", "bc",
  "abc", "cab", "aab", "bab", "abab", "aaa", "bcb", "cabc", "abcab", "bbb", "acb", "cba", "ac"];
const SCORES: f32[] = [0, 0, 0, -5, -9, -9, -9, -1, -1, -2, -1, -3, -2, -2,
  -1, -2, -3, -1, -2, -2, -3, -1, -1, -2, -2e10, -3, -2];

function tokenizer(): Tokenizer {
  let bytes = 4;
  for (let i = 0; i < PIECES.length; i++) bytes += 8 + String.UTF8.byteLength(PIECES[i]);
  const blob = zeros(bytes);
  store<u32>(blob, 8);
  let off: usize = 4;
  for (let i = 0; i < PIECES.length; i++) {
    const s = String.UTF8.encode(PIECES[i]);
    store<f32>(blob + off, SCORES[i]);
    store<i32>(blob + off, s.byteLength, 4);
    memory.copy(blob + off + 8, changetype<usize>(s), <usize>s.byteLength);
    off += 8 + <usize>s.byteLength;
  }
  return parseTokenizer(blob, <usize>bytes, PIECES.length).tokenizer!;
}

function randomText(len: i32): usize {
  const p = zeros(len);
  for (let i = 0; i < len; i++) store<u8>(p + <usize>i, <u8>(0x61 + nextU32() % 3)); // a, b, c
  return p;
}

describe("BPE merging with a heap", () => {
  it("merges exactly as the reference loop, tie for tie, on long random texts", () => {
    const t = tokenizer();
    resetRandom(7);
    for (let round = 0; round < 12; round++) {
      const len = 300 + <i32>(nextU32() % 3000);
      const text = randomText(len);
      const fast = zeros((len + 3) * 4), ref = zeros((len + 3) * 4);
      const nf = encode(t, text, len, true, true, fast, len + 3, true);
      const nr = encode(t, text, len, true, true, ref, len + 3, false);
      expect(nf).toBe(nr);
      expect(memory.compare(fast, ref, <usize>nf << 2)).toBe(0);
      expect(nf).toBeLessThan(len); // it did merge
    }
  });

  it("gives its scratch memory back", () => {
    const t = tokenizer();
    const len = 2000;
    const text = randomText(len), out = zeros((len + 3) * 4);
    encode(t, text, len, true, false, out, len + 3, true);
    const top = heap.alloc(16);
    heap.free(top);
    encode(t, text, len, true, false, out, len + 3, true);
    const again = heap.alloc(16);
    expect(again).toBe(top);
  });
});
