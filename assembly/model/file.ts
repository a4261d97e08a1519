// Reader of the edgellm model file (docs/model-format.md) inside the module: validates
// everything once, then maps tensors in place. Used by the Node host and the firmware alike.
import { Config, configIsSane } from "./config";
import { crc32Update } from "../core/crc32";
import * as E from "../core/errors";
import { Matrix } from "./matrix";
import { QT_F32, QT_T5, qtKnown, scalesOffset, tensorBytes } from "./qtypes";
import { fits } from "../core/memory-cap";
import { repackT5ToT2 } from "../kernels/t5";
import { t2RowBytes } from "../kernels/t2";
import { Weights } from "./weights";
import { wRead } from "../kernels/native";
import {
  EN_BYTES, EN_COLS, EN_GROUP, EN_KIND, EN_LAYER, EN_OFFSET, EN_QTYPE, EN_ROWS, ENTRY_BYTES, FLAG_SHARED_CLASSIFIER,
  H_CHECKSUM, H_DIM, H_FILE_BYTES, H_FLAGS, H_HEADER_BYTES, H_HIDDEN_DIM, H_MAGIC, H_N_HEADS, H_N_KV_HEADS, H_N_LAYERS,
  H_N_TENSORS, H_NORM_EPS, H_ROPE_THETA, H_SEQ_LEN, H_TOKENIZER_BYTES, H_TOKENIZER_OFFSET, H_VERSION, H_VOCAB_SIZE,
  HEADER_BYTES, MAGIC, VERSION,
} from "./layout";
import { CHUNK_BYTES, externalTensorValuesOk, tensorValuesOk } from "./tensor-values";


// Tensor kinds (append-only).
export const K_EMBEDDING: u32 = 0;
export const K_RMS_ATT: u32 = 1;
export const K_WQ: u32 = 2;
export const K_WK: u32 = 3;
export const K_WV: u32 = 4;
export const K_WO: u32 = 5;
export const K_RMS_FFN: u32 = 6;
export const K_W1: u32 = 7;
export const K_W2: u32 = 8;
export const K_W3: u32 = 9;
export const K_RMS_FINAL: u32 = 10;
export const K_CLASSIFIER: u32 = 11;
const N_KINDS: u32 = 12;

export class ParsedFile {
  config: Config = new Config();
  weights: Weights | null = null;
  tokenizerPtr: usize = 0;
  tokenizerBytes: i32 = 0;
}

export class ParseResult {
  error: i32 = E.OK;
  file: ParsedFile = new ParsedFile();
}

@inline function isGlobal(kind: u32): bool {
  return kind == K_EMBEDDING || kind == K_RMS_FINAL || kind == K_CLASSIFIER;
}

// Expected [rows, cols] of a kind; rows = 1 for norm vectors.
function expectedRows(c: Config, kind: u32): i32 {
  switch (kind) {
    case K_EMBEDDING: case K_CLASSIFIER: return c.vocabSize;
    case K_RMS_ATT: case K_RMS_FFN: case K_RMS_FINAL: return 1;
    case K_WQ: case K_WO: case K_W2: return c.dim;
    case K_WK: case K_WV: return c.kvDim;
    default: return c.hiddenDim; // W1, W3
  }
}

function expectedCols(c: Config, kind: u32): i32 {
  return kind == K_W2 ? c.hiddenDim : c.dim;
}

export function parseModelFile(p: usize, n: usize): ParseResult { return parse(p, n, false); }

// The file stays in the host's memory (n bytes), read through env.wRead: header, table, norms
// and tokenizer are copied into linear memory, matrices stay outside (Matrix.initExternal).
export function parseModelFileExternal(n: usize): ParseResult {
  if (n < <usize>HEADER_BYTES) return parse(0, n, true);
  const header = heap.alloc(<usize>HEADER_BYTES);
  wRead(header, 0, HEADER_BYTES);
  return parse(header, n, true);
}

// Copies [off, off + len) of a host-held file into fresh linear memory.
function readExternal(off: u32, len: u32): usize {
  const p = heap.alloc(<usize>max<u32>(len, 1));
  wRead(p, off, len);
  return p;
}

// CRC of a host-held file past its header, streamed through a small buffer.
function crcExternal(crc: u32, n: usize, buf: usize): u32 {
  for (let off = <usize>HEADER_BYTES; off < n; off += <usize>CHUNK_BYTES) {
    const len = <u32>min<usize>(<usize>CHUNK_BYTES, n - off);
    wRead(buf, <u32>off, len);
    crc = crc32Update(crc, buf, <usize>len);
  }
  return crc;
}

// p: the whole file in linear memory, or (external) its 128-byte header.
function parse(p: usize, n: usize, external: bool): ParseResult {
  const res = new ParseResult();
  if (n < <usize>HEADER_BYTES) { res.error = E.E_TOO_SHORT; return res; }
  if (load<u32>(p + H_MAGIC) != MAGIC) { res.error = E.E_MAGIC; return res; }
  if (load<u32>(p + H_VERSION) != VERSION) { res.error = E.E_VERSION; return res; }
  if (load<u32>(p + H_HEADER_BYTES) != HEADER_BYTES) { res.error = E.E_VERSION; return res; }
  if (<usize>load<u32>(p + H_FILE_BYTES) != n) { res.error = E.E_TRUNCATED; return res; }
  const flags = load<u32>(p + H_FLAGS);
  if ((flags & ~FLAG_SHARED_CLASSIFIER) != 0) { res.error = E.E_VERSION; return res; }

  // The checksum field itself is read as zero.
  const chunk = external ? heap.alloc(<usize>CHUNK_BYTES) : 0; // u8 [CHUNK_BYTES] for env.wRead
  let crc = crc32Update(0, p, H_CHECKSUM);
  crc = crc32Update(crc, memory.data(4), 4);
  crc = external ? crcExternal(crc, n, chunk) : crc32Update(crc, p + <usize>HEADER_BYTES, n - <usize>HEADER_BYTES);
  if (crc != load<u32>(p + H_CHECKSUM)) { res.error = E.E_CHECKSUM; return res; }

  const c = res.file.config;
  c.dim = load<i32>(p + H_DIM); c.hiddenDim = load<i32>(p + H_HIDDEN_DIM); c.nLayers = load<i32>(p + H_N_LAYERS);
  c.nHeads = load<i32>(p + H_N_HEADS); c.nKvHeads = load<i32>(p + H_N_KV_HEADS); c.vocabSize = load<i32>(p + H_VOCAB_SIZE);
  c.seqLen = load<i32>(p + H_SEQ_LEN); c.ropeTheta = load<f32>(p + H_ROPE_THETA); c.normEps = load<f32>(p + H_NORM_EPS);
  c.sharedClassifier = (flags & FLAG_SHARED_CLASSIFIER) != 0;
  if (!configIsSane(c)) { res.error = E.E_CONFIG; return res; }

  const nTensors = load<u32>(p + H_N_TENSORS);
  const expected = <u32>c.nLayers * 9 + (c.sharedClassifier ? 2 : 3);
  if (nTensors != expected) { res.error = E.E_TENSOR; return res; }
  if (<u64>HEADER_BYTES + <u64>nTensors * ENTRY_BYTES > <u64>n) { res.error = E.E_TENSOR; return res; }
  if (external) {
    const t = heap.alloc(<usize>(HEADER_BYTES + nTensors * ENTRY_BYTES));
    memory.copy(t, p, <usize>HEADER_BYTES);
    wRead(t + <usize>HEADER_BYTES, HEADER_BYTES, nTensors * ENTRY_BYTES);
    p = t;
  }

  const w = new Weights(c.nLayers);
  const seen = heap.alloc(<usize>(N_KINDS * <u32>c.nLayers));
  memory.fill(seen, 0, <usize>(N_KINDS * <u32>c.nLayers));
  for (let i: u32 = 0; i < nTensors; i++) {
    const e = p + <usize>(HEADER_BYTES + i * ENTRY_BYTES);
    const kind = load<u32>(e + EN_KIND), layer = load<u32>(e + EN_LAYER), qtype = load<u32>(e + EN_QTYPE);
    const rows = load<i32>(e + EN_ROWS), cols = load<i32>(e + EN_COLS), group = load<i32>(e + EN_GROUP);
    const off = load<u32>(e + EN_OFFSET), bytes = load<u32>(e + EN_BYTES);
    if (kind >= N_KINDS) { res.error = E.E_TENSOR; return res; }
    if (kind == K_CLASSIFIER && c.sharedClassifier) { res.error = E.E_TENSOR; return res; }
    if (isGlobal(kind) ? layer != 0 : layer >= <u32>c.nLayers) { res.error = E.E_TENSOR; return res; }
    if (!qtKnown(qtype)) { res.error = E.E_QTYPE; return res; }
    if (rows != expectedRows(c, kind) || cols != expectedCols(c, kind)) { res.error = E.E_TENSOR; return res; }
    if (rows == 1 && qtype != QT_F32) { res.error = E.E_QTYPE; return res; }
    if (<i64>bytes != tensorBytes(qtype, rows, cols, group)) { res.error = E.E_TENSOR; return res; }
    if ((off & 63) != 0 || <u64>off + <u64>bytes > <u64>n || off < HEADER_BYTES + nTensors * ENTRY_BYTES) {
      res.error = E.E_TENSOR; return res;
    }
    const slot = seen + <usize>(layer * N_KINDS + kind);
    if (load<u8>(slot) != 0) { res.error = E.E_TENSOR; return res; }
    store<u8>(slot, 1);
    // External: norm vectors are copied in (small), matrices stay in host memory.
    const data = external ? (rows == 1 ? readExternal(off, bytes) : <usize>off) : p + <usize>off;
    const valuesOk = external && rows > 1 ? externalTensorValuesOk(qtype, rows, cols, group, off, chunk)
      : tensorValuesOk(qtype, rows, cols, group, data);
    if (!valuesOk) { res.error = E.E_TENSOR; return res; }
    let m: Matrix | null = null;
    if (kind == K_EMBEDDING) m = w.embedding;
    else if (kind == K_RMS_FINAL) w.rmsFinal = data;
    else if (kind == K_CLASSIFIER) m = w.classifier;
    else {
      const lw = w.layers[layer];
      switch (kind) {
        case K_RMS_ATT: lw.rmsAtt = data; break;
        case K_WQ: m = lw.wq; break;
        case K_WK: m = lw.wk; break;
        case K_WV: m = lw.wv; break;
        case K_WO: m = lw.wo; break;
        case K_RMS_FFN: lw.rmsFfn = data; break;
        case K_W1: m = lw.w1; break;
        case K_W2: m = lw.w2; break;
        default: m = lw.w3; break;
      }
    }
    if (m != null) {
      const err = mapMatrix(m, external, qtype, rows, cols, group, data);
      if (err != E.OK) { res.error = err; return res; }
    }
  }
  // nTensors equals the required count and duplicates are refused, so every tensor is present.
  if (c.sharedClassifier) w.classifier = w.embedding;

  const tokOff = load<u32>(p + H_TOKENIZER_OFFSET), tokBytes = load<u32>(p + H_TOKENIZER_BYTES);
  if (tokBytes != 0 && ((tokOff & 63) != 0 || <u64>tokOff + <u64>tokBytes > <u64>n)) {
    res.error = E.E_TOKENIZER; return res;
  }
  res.file.tokenizerPtr = tokBytes == 0 ? 0 : external ? readExternal(tokOff, tokBytes) : p + <usize>tokOff;
  res.file.tokenizerBytes = <i32>tokBytes;
  res.file.weights = w;
  return res;
}

function mapMatrix(m: Matrix, external: bool, qtype: u32, rows: i32, cols: i32, group: i32, data: usize): i32 {
  if (external) {
    m.initExternal(qtype, rows, cols, group, <u32>data);
  } else if (ASC_FEATURE_SIMD && qtype == QT_T5) {
    // The SIMD kernel needs t2's 2-bit planes: repack once, keep the file's scales.
    const bytes = <i64>rows * <i64>t2RowBytes(cols);
    if (!fits(bytes)) return E.E_OUT_OF_MEMORY;
    const codes = heap.alloc(<usize>bytes);
    repackT5ToT2(codes, data, rows, cols);
    m.initRepacked(qtype, rows, cols, codes, data + <usize>scalesOffset(QT_T5, rows, cols));
  } else {
    m.init(qtype, rows, cols, group, data);
  }
  return E.OK;
}
