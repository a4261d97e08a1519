// Reader of the edgellm adapter file (docs/adapter-format.md) inside the module: validates an
// adapter in linear memory against the loaded model with the TypeScript reader's rules and
// codes (host/format/adapter-reader.ts), then maps A and B in place. Not yet used by forward.
import { Config } from "../model/config";
import { crc32Update } from "../core/crc32";
import * as E from "../core/errors";
import { K_W1, K_W2, K_W3, K_WK, K_WO, K_WQ, K_WV } from "../model/file";
import { aRead } from "../kernels/native";

export const ADAPTER_MAGIC: u32 = 0x414c4c45; // "ELLA"
export const ADAPTER_VERSION: u32 = 1;
export const ADAPTER_HEADER_BYTES: u32 = 128;
export const ADAPTER_ENTRY_BYTES: u32 = 32;
const CHECKSUM_OFFSET: usize = 124;
export const MAX_RANK: u32 = 256;
const N_TARGETS: u32 = 7;

// Storage types: the model format's f32 id, f16 appended after its last type (t5 = 4).
export const ST_F32: u32 = 0;
export const ST_F16: u32 = 5;

// One adapted matrix: W x + scale · B (A x), A and B read in place from the file.
export class AdapterMatrix {
  kind: u32 = 0;     // model-format tensor kind: wq … w3
  layer: u32 = 0;
  storage: u32 = ST_F32;
  out: i32 = 0;      // rows of W
  inn: i32 = 0;      // columns of W
  a: usize = 0;      // A [rank, in], row-major, in `storage` (a host-held adapter: its file offset)
  b: usize = 0;      // B [out, rank], row-major, in `storage` (the same)
}

export class Adapter {
  rank: i32 = 0;
  alpha: f32 = 0;
  matrices: AdapterMatrix[] = [];
}

export class AdapterParse {
  error: i32 = E.OK;
  adapter: Adapter = new Adapter();
}

@inline function isTarget(kind: u32): bool {
  return kind == K_WQ || kind == K_WK || kind == K_WV || kind == K_WO || kind == K_W1 || kind == K_W2 || kind == K_W3;
}

// [out, in] of a target's base matrix.
function targetRows(c: Config, kind: u32): i32 {
  if (kind == K_WQ || kind == K_WO || kind == K_W2) return c.dim;
  if (kind == K_WK || kind == K_WV) return c.kvDim;
  return c.hiddenDim;
}

@inline function targetCols(c: Config, kind: u32): i32 {
  return kind == K_W2 ? c.hiddenDim : c.dim;
}

@inline function storageBytes(storage: u32, count: i64): i64 {
  return storage == ST_F32 ? 4 * count : 2 * count;
}

// Every value finite: f32 exponent bits not all ones, f16 likewise.
function allFinite(p: usize, storage: u32, count: i32): bool {
  if (storage == ST_F32) {
    for (let i = 0; i < count; i++) if ((load<u32>(p + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) return false;
  } else {
    for (let i = 0; i < count; i++) if ((load<u16>(p + (<usize>i << 1)) & 0x7c00) == 0x7c00) return false;
  }
  return true;
}

// CRC-32 of the file p[n] with its checksum field read as zero.
export function adapterChecksum(p: usize, n: usize): u32 {
  let crc = crc32Update(0, p, CHECKSUM_OFFSET);
  crc = crc32Update(crc, memory.data(4), 4);
  return crc32Update(crc, p + 128, n - 128);
}

// After A and B changed in place (on-device training): the checksum written anew.
export function resealAdapter(p: usize, n: usize): void {
  store<u32>(p + CHECKSUM_OFFSET, adapterChecksum(p, n));
}

// Host-held adapters (the firmware's flash): read through env.aRead in chunks of this size.
const CHUNK_BYTES: u32 = 1024;

// p[n]: the adapter file; c and baseChecksum: the loaded model's config and header checksum.
export function parseAdapter(p: usize, n: usize, c: Config, baseChecksum: u32): AdapterParse {
  return parse(p, n, c, baseChecksum, 0, 0);
}

// The same checks on adapter `index` that stays in the host's memory (n bytes): header and
// table are copied in, the checksum and the values are streamed through a 1 KiB buffer, and the
// matrices' a and b are file offsets for env.loraApply.
export function parseAdapterExternal(index: u32, n: usize, c: Config, baseChecksum: u32): AdapterParse {
  if (n < <usize>ADAPTER_HEADER_BYTES || n > <usize>u32.MAX_VALUE) return parse(0, n, c, baseChecksum, index + 1, 0);
  const header = heap.alloc(<usize>ADAPTER_HEADER_BYTES);
  aRead(index, header, 0, ADAPTER_HEADER_BYTES);
  const count = load<u32>(header, 52);
  const tableEnd = <u64>ADAPTER_HEADER_BYTES + <u64>min<u32>(count, <u32>c.nLayers * N_TARGETS) * ADAPTER_ENTRY_BYTES;
  if (tableEnd > <u64>n) return parse(header, ADAPTER_HEADER_BYTES, c, baseChecksum, index + 1, 0); // refused on its size
  const p = heap.alloc(<usize>tableEnd);
  aRead(index, p, 0, <u32>tableEnd);
  return parse(p, n, c, baseChecksum, index + 1, heap.alloc(<usize>CHUNK_BYTES));
}

// CRC of a host-held adapter past its header, like adapterChecksum.
function checksumExternal(ext: u32, p: usize, n: usize, chunk: usize): u32 {
  let crc = crc32Update(0, p, CHECKSUM_OFFSET);
  crc = crc32Update(crc, memory.data(4), 4);
  for (let off = <usize>ADAPTER_HEADER_BYTES; off < n; off += <usize>CHUNK_BYTES) {
    const len = <u32>min<usize>(<usize>CHUNK_BYTES, n - off);
    aRead(ext - 1, chunk, <u32>off, len);
    crc = crc32Update(crc, chunk, <usize>len);
  }
  return crc;
}

function finiteExternal(ext: u32, off: usize, storage: u32, count: i32, chunk: usize): bool {
  const per = storage == ST_F32 ? 4 : 2, bytes = <usize>count * per;
  for (let at: usize = 0; at < bytes; at += <usize>CHUNK_BYTES) {
    const len = <u32>min<usize>(<usize>CHUNK_BYTES, bytes - at);
    aRead(ext - 1, chunk, <u32>(off + at), len);
    if (!allFinite(chunk, storage, <i32>len / per)) return false;
  }
  return true;
}

// p: the whole file, or (ext = index + 1 of a host-held one) its header and table.
function parse(p: usize, n: usize, c: Config, baseChecksum: u32, ext: u32, chunk: usize): AdapterParse {
  const res = new AdapterParse();
  if (n < <usize>ADAPTER_HEADER_BYTES) { res.error = E.E_TOO_SHORT; return res; }
  if (load<u32>(p) != ADAPTER_MAGIC) { res.error = E.E_MAGIC; return res; }
  if (load<u32>(p, 4) != ADAPTER_VERSION || load<u32>(p, 8) != ADAPTER_HEADER_BYTES) { res.error = E.E_VERSION; return res; }
  if (<usize>load<u32>(p, 56) != n) { res.error = E.E_TRUNCATED; return res; }
  if (load<u32>(p, 12) != 0) { res.error = E.E_VERSION; return res; }
  if (chunk == 0 && ext != 0) { res.error = E.E_TENSOR; return res; } // its table does not fit the file
  const crc = ext != 0 ? checksumExternal(ext, p, n, chunk) : adapterChecksum(p, n);
  if (crc != load<u32>(p, CHECKSUM_OFFSET)) { res.error = E.E_CHECKSUM; return res; }

  const rank = load<u32>(p, 44), alpha = load<f32>(p, 48);
  if (rank < 1 || rank > MAX_RANK) { res.error = E.E_CONFIG; return res; }
  if (!(alpha > 0) || !isFinite(alpha)) { res.error = E.E_CONFIG; return res; }
  if (load<u32>(p, 16) != baseChecksum || load<i32>(p, 20) != c.dim || load<i32>(p, 24) != c.hiddenDim ||
      load<i32>(p, 28) != c.nLayers || load<i32>(p, 32) != c.nHeads || load<i32>(p, 36) != c.nKvHeads ||
      load<i32>(p, 40) != c.vocabSize) {
    res.error = E.E_ADAPTER_BASE; return res;
  }

  const count = load<u32>(p, 52);
  if (count < 1 || count > <u32>c.nLayers * N_TARGETS) { res.error = E.E_TENSOR; return res; }
  const tableEnd = <u64>ADAPTER_HEADER_BYTES + <u64>count * ADAPTER_ENTRY_BYTES;
  if (tableEnd > <u64>n) { res.error = E.E_TENSOR; return res; }
  const seen = heap.alloc(<usize>(16 * <u32>c.nLayers)); // [layer][kind < 16]
  memory.fill(seen, 0, <usize>(16 * <u32>c.nLayers));
  const ad = res.adapter;
  ad.rank = <i32>rank; ad.alpha = alpha;
  let end = tableEnd; // data lies in table order, A before B, without overlap
  for (let i: u32 = 0; i < count; i++) {
    const e = p + <usize>(ADAPTER_HEADER_BYTES + i * ADAPTER_ENTRY_BYTES);
    const kind = load<u32>(e), layer = load<u32>(e, 4), storage = load<u32>(e, 8);
    const out = load<i32>(e, 12), inn = load<i32>(e, 16);
    const aOff = <u64>load<u32>(e, 20), bOff = <u64>load<u32>(e, 24);
    if (!isTarget(kind) || layer >= <u32>c.nLayers) { res.error = E.E_TENSOR; return res; }
    if (storage != ST_F32 && storage != ST_F16) { res.error = E.E_QTYPE; return res; }
    if (out != targetRows(c, kind) || inn != targetCols(c, kind) || load<u32>(e, 28) != 0) { res.error = E.E_TENSOR; return res; }
    const aBytes = <u64>storageBytes(storage, <i64>rank * <i64>inn), bBytes = <u64>storageBytes(storage, <i64>out * <i64>rank);
    if ((aOff & 63) != 0 || aOff < end || aOff + aBytes > <u64>n) { res.error = E.E_TENSOR; return res; }
    end = aOff + aBytes;
    if ((bOff & 63) != 0 || bOff < end || bOff + bBytes > <u64>n) { res.error = E.E_TENSOR; return res; }
    end = bOff + bBytes;
    const slot = seen + <usize>(layer * 16 + kind);
    if (load<u8>(slot) != 0) { res.error = E.E_TENSOR; return res; }
    store<u8>(slot, 1);
    const a = ext != 0 ? <usize>aOff : p + <usize>aOff, b = ext != 0 ? <usize>bOff : p + <usize>bOff;
    const finite = ext != 0
      ? finiteExternal(ext, a, storage, <i32>rank * inn, chunk) && finiteExternal(ext, b, storage, out * <i32>rank, chunk)
      : allFinite(a, storage, <i32>rank * inn) && allFinite(b, storage, out * <i32>rank);
    if (!finite) { res.error = E.E_TENSOR; return res; }
    const m = new AdapterMatrix();
    m.kind = kind; m.layer = layer; m.storage = storage; m.out = out; m.inn = inn; m.a = a; m.b = b;
    ad.matrices.push(m);
  }
  return res;
}
