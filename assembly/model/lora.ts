// Adapters attached to the loaded model for inference (issue 18): each targeted Matrix carries
// a list of links, and the forward pass adds y += k·B(A x) after the matrix, from its f32 input
// (kernels/lora.ts, the same kernel the trainer uses), for every base type and build alike.
// k = (α/r)·s, s the run-time scale. f32 adapters are used in place (the host keeps the file
// bytes); f16 ones are widened to f32 once at load. Nothing is freed: clear, then load anew.
import * as E from "../core/errors";
import { fits } from "../core/memory-cap";
import { K_W1, K_W2, K_W3, K_WK, K_WO, K_WQ, K_WV } from "./file";
import { LoraLink } from "./lora-link";
import { Matrix } from "./matrix";
import { Config } from "./config";
import { Weights } from "./weights";
import { Adapter, AdapterMatrix, AdapterParse, parseAdapter, parseAdapterExternal, ST_F16 } from "../adapter/file";
import { loraForward, loraForwardBlock } from "../kernels/lora";
import { PREFILL_BLOCK } from "./state";
import { loraApply, loraApplyBlock } from "../kernels/native";

// Every matrix that carries an adapter, so clear() can find them (at most layers × 7).
let attached = new Array<Matrix>();
let scratch: usize = 0;   // f32 [PREFILL_BLOCK][scratchRank] A·x of the matrix being applied (a row per input)
let scratchRank: i32 = 0;

// The adapter loaded last: what on-device fine-tuning (assembly/mezo) trains. Its links point
// into the file image when it is stored as f32, so training updates the file in place.
export let lastLinks = new Array<LoraLink>();
export let lastImage: usize = 0;
export let lastImageBytes: usize = 0;
export let lastInPlace: bool = false; // every matrix f32: the links are the file's own A and B

function targetOf(weights: Weights, kind: u32, layer: u32): Matrix | null {
  const w = weights.layers[layer];
  if (kind == K_WQ) return w.wq;
  if (kind == K_WK) return w.wk;
  if (kind == K_WV) return w.wv;
  if (kind == K_WO) return w.wo;
  if (kind == K_W1) return w.w1;
  if (kind == K_W2) return w.w2;
  if (kind == K_W3) return w.w3;
  return null;
}

// f16 [count] at src → f32 at dst (IEEE half: subnormals kept, no infinities: the reader refused them).
function widen(dst: usize, src: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const h = <u32>load<u16>(src + (<usize>i << 1));
    const sign = (h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    let v: f32;
    if (exp == 0) v = <f32>man * <f32>5.9604644775390625e-8; // man · 2^-24
    else v = reinterpret<f32>(((exp + 112) << 23) | (man << 13));
    store<f32>(dst + (<usize>i << 2), reinterpret<f32>(reinterpret<u32>(v) | sign));
  }
}

// The adapter at p[n] (kept in place by the host) on the loaded model at scale s: the number of
// matrices it carries, or an error (the reader's codes; E_OUT_OF_MEMORY).
export function loadAdapter(weights: Weights, config: Config, baseChecksum: u32, p: usize, n: usize, s: f32): i32 {
  if (!(s == s) || s == Infinity || s == -Infinity) return E.E_ARGUMENT;
  return attach(weights, parseAdapter(p, n, config, baseChecksum), p, n, s, 0);
}

// Adapter `index` held by the host (n bytes, read through env.aRead): applied by env.loraApply,
// nothing of it in linear memory but its links.
export function loadAdapterExternal(weights: Weights, config: Config, baseChecksum: u32, index: u32, n: usize, s: f32): i32 {
  if (!(s == s) || s == Infinity || s == -Infinity || index >= 0xffff) return E.E_ARGUMENT;
  return attach(weights, parseAdapterExternal(index, n, config, baseChecksum), 0, n, s, index + 1);
}

// Linear memory one adapter's links take beyond what the heap holds already.
function linkBytes(ad: Adapter, ext: u32): i64 {
  const r = ad.rank;
  let need: i64 = r > scratchRank ? <i64>r * 4 * PREFILL_BLOCK + 64 : 0;
  for (let i = 0; i < ad.matrices.length; i++) {
    const m = ad.matrices[i];
    need += 112; // the link and its place in a list
    if (m.storage == ST_F16 && ext == 0) need += (<i64>r * <i64>m.inn + <i64>m.out * <i64>r) * 4 + 128;
  }
  return need;
}

// Matrix m's link at k (f16 in linear memory widened to f32 copies once).
function makeLink(m: AdapterMatrix, r: i32, k: f32, ext: u32): LoraLink {
  const link = new LoraLink();
  link.rank = r; link.k = k; link.a = m.a; link.b = m.b; link.inn = m.inn; link.out = m.out;
  link.ext = ext; link.storage = m.storage;
  if (m.storage == ST_F16 && ext == 0) {
    link.a = heap.alloc(<usize>(r * m.inn) << 2); widen(link.a, m.a, r * m.inn);
    link.b = heap.alloc(<usize>(m.out * r) << 2); widen(link.b, m.b, m.out * r);
  }
  return link;
}

function ensureScratch(r: i32): void {
  if (r > scratchRank) { scratch = heap.alloc(<usize>(r * PREFILL_BLOCK) << 2); scratchRank = r; }
}

// Appended: several adapters add in the order they were loaded.
function append(target: Matrix, link: LoraLink): void {
  if (target.lora == null) { target.lora = link; attached.push(target); }
  else { let l = target.lora!; while (l.next != null) l = l.next!; l.next = link; }
}

function attach(weights: Weights, res: AdapterParse, p: usize, n: usize, s: f32, ext: u32): i32 {
  if (res.error != E.OK) return res.error;
  const ad = res.adapter, r = ad.rank;
  const k: f32 = ad.alpha / <f32>r * s;
  if (!fits(linkBytes(ad, ext))) return E.E_OUT_OF_MEMORY;
  ensureScratch(r);
  lastLinks = new Array<LoraLink>();
  lastImage = p; lastImageBytes = n; lastInPlace = ext == 0;
  for (let i = 0; i < ad.matrices.length; i++) {
    const m = ad.matrices[i];
    const link = makeLink(m, r, k, ext);
    lastLinks.push(link);
    if (m.storage == ST_F16 && ext == 0) lastInPlace = false;
    append(targetOf(weights, m.kind, m.layer)!, link);
  }
  return ad.matrices.length;
}

// ---- Held adapters: a fleet peer's set, switched per task (assembly/agent/peer.ts) ----------
// Each is parsed and its links built once (f16 widened once); useHeld() then detaches whatever
// is attached and attaches one of them at a scale, allocating nothing, so a peer switching
// adapters for any number of tasks keeps linear memory flat and never reloads the base.

class HeldAdapter {
  links: StaticArray<LoraLink>;
  targets: StaticArray<Matrix>;
  k1: f32;                 // alpha / rank: k at scale 1
  constructor(n: i32) {
    this.links = new StaticArray<LoraLink>(n);
    this.targets = new StaticArray<Matrix>(n);
  }
}

export const MAX_HELD: i32 = 32;
const held = new StaticArray<HeldAdapter | null>(MAX_HELD);
let heldCount: i32 = 0;

export function heldAdapters(): i32 { return heldCount; }

// The adapter at p[n] (kept in place by the host), or host-held adapter `index` (ext = index + 1),
// checked against the loaded model and held detached: its index, or an error.
export function holdAdapter(weights: Weights, config: Config, baseChecksum: u32, p: usize, n: usize): i32 {
  return hold(weights, parseAdapter(p, n, config, baseChecksum), 0);
}

export function holdAdapterExternal(weights: Weights, config: Config, baseChecksum: u32, index: u32, n: usize): i32 {
  if (index >= 0xffff) return E.E_ARGUMENT;
  return hold(weights, parseAdapterExternal(index, n, config, baseChecksum), index + 1);
}

function hold(weights: Weights, res: AdapterParse, ext: u32): i32 {
  if (res.error != E.OK) return res.error;
  if (heldCount >= MAX_HELD) return E.E_ARGUMENT;
  const ad = res.adapter, r = ad.rank, count = ad.matrices.length;
  // The lists, the record, and room in `attached` for every target (so useHeld never grows it).
  const need = linkBytes(ad, ext) + <i64>count * 8 + 128 + <i64>(attached.length + count) * 4 + 64;
  if (!fits(need)) return E.E_OUT_OF_MEMORY;
  ensureScratch(r);
  const h = new HeldAdapter(count);
  h.k1 = ad.alpha / <f32>r;
  const mark = attached.length;
  for (let i = 0; i < count; i++) {
    const m = ad.matrices[i];
    h.links[i] = makeLink(m, r, h.k1, ext);
    h.targets[i] = targetOf(weights, m.kind, m.layer)!;
    attached.push(h.targets[i]); // reserves capacity only: the length is restored below
  }
  attached.length = mark;
  held[heldCount] = h;
  return heldCount++;
}

// Detaches every adapter, then attaches held adapter `index` at scale s (index -1: none).
// Allocates nothing. E_ARGUMENT for an index not held or a scale that is not finite.
export function useHeld(index: i32, s: f32): i32 {
  if (index < -1 || index >= heldCount || !(s == s) || s == Infinity || s == -Infinity) return E.E_ARGUMENT;
  for (let i = 0; i < attached.length; i++) unchecked(attached[i]).lora = null;
  attached.length = 0;
  if (index < 0) return E.OK;
  const h = held[index]!;
  const k = h.k1 * s;
  for (let i = 0; i < h.links.length; i++) {
    const link = h.links[i];
    link.k = k;
    link.next = null;
    append(h.targets[i], link);
  }
  return E.OK;
}

// The held adapter `index` attached at scale 1 and made the one MeZO trains (lastLinks), for a
// fleet peer's federated rounds: its links must point into an f32 image in linear memory.
// Allocates nothing after the first call for an index (its link list is kept).
let trainLinksOf: i32 = -1;
let trainLinks = new Array<LoraLink>();
export function trainHeld(index: i32, image: usize, imageBytes: usize): i32 {
  const r = useHeld(index, 1);
  if (r != E.OK) return r;
  const h = held[index]!;
  if (trainLinksOf != index) {
    trainLinks = new Array<LoraLink>(h.links.length);
    for (let i = 0; i < h.links.length; i++) trainLinks[i] = h.links[i];
    trainLinksOf = index;
  }
  let inPlace = true;
  for (let i = 0; i < h.links.length; i++) if (h.links[i].ext != 0 || h.links[i].storage == ST_F16) inPlace = false;
  lastLinks = trainLinks;
  lastImage = image; lastImageBytes = imageBytes; lastInPlace = inPlace;
  return E.OK;
}

export function clearAdapters(): void {
  for (let i = 0; i < attached.length; i++) attached[i].lora = null;
  attached.length = 0; // its capacity kept: held adapters reserved room in it
  lastLinks = new Array<LoraLink>();
  lastImage = 0; lastImageBytes = 0; lastInPlace = false;
}

// y[m.rows] += Σ over m's adapters of k·B(A x), x f32 [m.cols] (the matrix's f32 input).
export function applyLora(m: Matrix, y: usize, x: usize): void {
  let l = m.lora;
  while (l != null) {
    if (l.ext != 0) loraApply(l.ext - 1, l.storage, <u32>l.a, <u32>l.b, l.rank, m.cols, m.rows, l.k, y, x);
    else loraStep(y, x, l.a, l.b, m.cols, m.rows, l.rank, l.k);
    l = l.next;
  }
}

@inline function loraStep(y: usize, x: usize, a: usize, b: usize, inn: i32, out: i32, rank: i32, k: f32): void {
  loraForward(y, scratch, x, a, b, 1, inn, out, rank, k);
}


// applyLora for a block of n ≤ PREFILL_BLOCK inputs x f32 [n][m.cols] into y f32 [n][m.rows]
// (prefill): equal to n applyLora calls bit for bit, each adapter's A and B read once.
export function applyLoraBlock(m: Matrix, y: usize, x: usize, n: i32): void {
  let l = m.lora;
  while (l != null) {
    if (l.ext != 0) loraApplyBlock(l.ext - 1, l.storage, <u32>l.a, <u32>l.b, l.rank, m.cols, m.rows, l.k, y, x, n);
    else loraForwardBlock(y, scratch, x, l.a, l.b, n, m.cols, m.rows, l.rank, l.k);
    l = l.next;
  }
}
