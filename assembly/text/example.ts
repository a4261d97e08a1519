// One labelled training example as the models see it: `SENTENCE\nLABEL\n` tokenized with BOS,
// and which tokens are the target (host/commands/prompt.ts is the layout; the TypeScript
// fine-tuning rows and the on-device MeZO step both take their tokens from here, so the two
// trainers and every build see the same example).
//
//   record, i32: [n, from, intentTo, token_0 … token_(n-1)]
//     from      first token trained on: the label's first (BPE may merge across the newline,
//               so it is the length of the prefix shared with the prompt's own tokens, ≥ 1)
//     intentTo  first token past the label's intent (the text before " ; ")
//   n is at most the record's room: a longer example is cut there, as the backprop trainer cuts
//   its rows (a cut example may keep no trained token at all; the trainers skip it).
import * as E from "../core/errors";
import { fits } from "../core/memory-cap";
import { encode, Tokenizer } from "./tokenizer";

export const RECORD_HEADER: i32 = 3;

// Scratch: the assembled text and two token lists, grown (never freed: the heap is a bump
// allocator) to the longest example seen.
let textBuf: usize = 0, textCap: i32 = 0;
let tokBuf: usize = 0, tokCap: i32 = 0;   // the whole example
let prefBuf: usize = 0;                     // a prefix of it, [tokCap] too

@inline function isSpace(c: u32): bool { return c == 32 || (c >= 9 && c <= 13); }

// [start, end) of s[len] without ASCII white space at either end.
function trimmed(s: usize, len: i32): u64 {
  let a = 0, b = len;
  while (a < b && isSpace(load<u8>(s + <usize>a))) a++;
  while (b > a && isSpace(load<u8>(s + <usize>(b - 1)))) b--;
  return (<u64>a << 32) | <u64>b;
}

// Tokens shared at the start of x[nx] and y[ny].
function sharedPrefix(x: usize, nx: i32, y: usize, ny: i32): i32 {
  let k = 0;
  while (k < nx && k < ny && load<i32>(x + (<usize>k << 2)) == load<i32>(y + (<usize>k << 2))) k++;
  return k;
}

function grow(textBytes: i32, tokens: i32): bool {
  if (textBytes <= textCap && tokens <= tokCap) return true;
  const tb = max(textBytes, textCap), tk = max(tokens, tokCap);
  if (!fits(<i64>tb + <i64>tk * 8 + 96)) return false;
  if (tb > textCap) { textBuf = heap.alloc(<usize>tb); textCap = tb; }
  if (tk > tokCap) { tokBuf = heap.alloc(<usize>tk << 2); prefBuf = heap.alloc(<usize>tk << 2); tokCap = tk; }
  return true;
}

// The record of sentence[sLen] and label[lLen] at out (cap i32s in all, > RECORD_HEADER); returns
// the example's whole token count (more than the record's n when it was cut), or an error
// (E_ARGUMENT: an empty sentence or label, or no room).
export function encodeExample(t: Tokenizer, sentence: usize, sLen: i32, label: usize, lLen: i32, out: usize, cap: i32): i32 {
  if (sLen < 0 || lLen < 0) return E.E_ARGUMENT;
  const st = trimmed(sentence, sLen), lt = trimmed(label, lLen);
  const s0 = <i32>(st >> 32), s1 = <i32>st, l0 = <i32>(lt >> 32), l1 = <i32>lt;
  if (s1 == s0 || l1 == l0) return E.E_ARGUMENT;
  const sn = s1 - s0, ln = l1 - l0, total = sn + 1 + ln + 1;
  if (!grow(total, total + 3)) return E.E_OUT_OF_MEMORY;
  memory.copy(textBuf, sentence + <usize>s0, <usize>sn);
  store<u8>(textBuf + <usize>sn, 10);
  memory.copy(textBuf + <usize>(sn + 1), label + <usize>l0, <usize>ln);
  store<u8>(textBuf + <usize>(total - 1), 10);

  const room = cap - RECORD_HEADER;
  if (room < 1) return E.E_ARGUMENT;
  const n = encode(t, textBuf, total, true, false, tokBuf, tokCap);
  if (n < 0) return n;
  // The prompt alone, then the prompt and the intent: their shared prefixes with the whole.
  const np = encode(t, textBuf, sn + 1, true, false, prefBuf, tokCap);
  if (np < 0) return np;
  const from = max(1, sharedPrefix(tokBuf, n, prefBuf, np));
  let intentEnd = sn + 1;
  while (intentEnd < sn + 1 + ln && load<u8>(textBuf + <usize>intentEnd) != 59) intentEnd++; // ';'
  while (intentEnd > sn + 1 && isSpace(load<u8>(textBuf + <usize>(intentEnd - 1)))) intentEnd--;
  const ni = encode(t, textBuf, intentEnd, true, false, prefBuf, tokCap);
  if (ni < 0) return ni;
  const intentTo = max(from, sharedPrefix(tokBuf, n, prefBuf, ni));
  const kept = min(n, room);
  memory.copy(out + (<usize>RECORD_HEADER << 2), tokBuf, <usize>kept << 2);
  store<i32>(out, kept);
  store<i32>(out, from, 4);
  store<i32>(out, intentTo, 8);
  return n;
}
