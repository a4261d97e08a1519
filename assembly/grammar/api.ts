// The module's one grammar: loaded from a compiled file, matched against the loaded model's
// tokenizer pieces (docs/module-abi.md, "Constrained decoding").
import * as E from "../core/errors";
import { runtime } from "../model/runtime";
import { decode } from "../text/tokenizer";
import { parseAutomaton } from "./automaton";
import { Matcher, newMatcher } from "./matcher";

let matcher: Matcher | null = null;
let pieces: usize = 0;     // u8[] token bytes, concatenated
let pieceOff: usize = 0;   // u32[vocab + 1]
let pieceVocab: i32 = 0;
let firstTable: usize = 0; // u8[256]

const PIECE_CAP: i32 = 64;

export function grammarLoad(p: usize, len: usize): i32 { return loadGrammar(p, len, false); }

// The grammar file of len bytes stays with the host (flash), read through env.gRead.
export function grammarLoadExternal(len: usize): i32 { return loadGrammar(0, len, true); }

function loadGrammar(p: usize, len: usize, external: bool): i32 {
  matcher = null;
  const r = parseAutomaton(p, len, external);
  const a = r.automaton;
  if (a == null) return r.error;
  const m = newMatcher(a);
  if (m.matcher == null) return m.error;
  if (firstTable == 0) firstTable = heap.alloc(256);
  matcher = m.matcher;
  return E.OK;
}

export function grammarSetInput(p: usize, len: i32): i32 {
  const m = matcher;
  if (m == null) return E.E_NO_GRAMMAR;
  if (len < 0) return E.E_ARGUMENT;
  return live(m, m.setInput(p, len));
}

export function grammarReset(): i32 {
  const m = matcher;
  if (m == null) return E.E_NO_GRAMMAR;
  m.reset();
  return live(m, E.OK);
}

// E_GRAMMAR_LIVE when a set overflowed since the last check (the result is then not used).
function live(m: Matcher, r: i32): i32 {
  if (!m.overflow) return r;
  m.overflow = false;
  return E.E_GRAMMAR_LIVE;
}

// Each token's bytes as it continues text (not after BOS), decoded once per tokenizer.
function tokenPieces(): i32 {
  const rt = runtime;
  if (rt == null) return E.E_NO_MODEL;
  const t = rt.tokenizer;
  if (t == null) return E.E_NO_TOKENIZER;
  if (pieces != 0 && pieceVocab == t.vocabSize) return E.OK;
  // Two passes, so the table takes exactly the pieces' bytes (a device has little to spare).
  const one = heap.alloc(<usize>PIECE_CAP);
  let total: usize = 0;
  for (let tok = 0; tok < t.vocabSize; tok++) {
    const n = decode(t, 0, tok, one, PIECE_CAP);
    if (n > 0) total += <usize>n;
  }
  const off = heap.alloc((<usize>t.vocabSize + 1) << 2);
  const buf = heap.alloc(max<usize>(total, 1));
  let at: u32 = 0;
  for (let tok = 0; tok < t.vocabSize; tok++) {
    store<u32>(off + (<usize>tok << 2), at);
    const n = decode(t, 0, tok, one, PIECE_CAP);
    if (n > 0) { memory.copy(buf + <usize>at, one, <usize>n); at += <u32>n; }
  }
  store<u32>(off + (<usize>t.vocabSize << 2), at);
  pieces = buf; pieceOff = off; pieceVocab = t.vocabSize;
  return E.OK;
}

// out[vocab] = 1 for each token the grammar allows next; returns how many.
export function grammarMask(out: usize): i32 {
  const m = matcher;
  if (m == null) return E.E_NO_GRAMMAR;
  const e = tokenPieces();
  if (e < 0) return e;
  m.firstBytes(firstTable);
  let allowed = 0;
  for (let tok = 0; tok < pieceVocab; tok++) {
    const p0 = load<u32>(pieceOff + (<usize>tok << 2)), p1 = load<u32>(pieceOff + (<usize>(tok + 1) << 2));
    let ok: u8 = 0;
    if (p1 > p0 && load<u8>(firstTable + <usize>load<u8>(pieces + <usize>p0)) != 0 && m.walk(pieces + <usize>p0, <i32>(p1 - p0)) > 0) ok = 1;
    store<u8>(out + <usize>tok, ok);
    allowed += ok;
  }
  return live(m, allowed);
}

// Moves the state past `token`; a token the grammar refuses leaves it unchanged.
export function grammarAdvance(token: i32): i32 {
  const m = matcher;
  if (m == null) return E.E_NO_GRAMMAR;
  const e = tokenPieces();
  if (e < 0) return e;
  if (token < 0 || token >= pieceVocab) return E.E_ARGUMENT;
  const p0 = load<u32>(pieceOff + (<usize>token << 2)), p1 = load<u32>(pieceOff + (<usize>(token + 1) << 2));
  const n = p1 > p0 ? m.walk(pieces + <usize>p0, <i32>(p1 - p0)) : 0;
  if (m.overflow) return live(m, 0);
  if (n == 0) return E.E_GRAMMAR_REFUSED;
  memory.copy(m.cur, m.tmpA, <usize>n << 2);
  m.curN = n;
  return E.OK;
}

export function grammarAccepting(): i32 {
  const m = matcher;
  if (m == null) return E.E_NO_GRAMMAR;
  return m.accepting() ? 1 : 0;
}
