// The one writer of the edgellm model file (docs/model-format.md).
import { crc32Skipping } from "./crc32.js";
import { tensorBytes } from "./qtypes.js";
import {
  align, CHECKSUM_OFFSET, ENTRY, ENTRY_BYTES, HEADER, FLAG_SHARED_CLASSIFIER, HEADER_BYTES, Kind, MAGIC, ModelConfig,
  QType, TENSOR_ALIGN, VERSION,
} from "./spec.js";

export interface TensorRecord {
  kind: Kind;
  layer: number;
  qtype: QType;
  rows: number;
  cols: number;
  group: number;     // q8: weights per scale; otherwise 0
  data: Uint8Array;  // exactly tensorBytes(qtype, rows, cols, group) bytes
}

export interface ModelImage {
  config: ModelConfig;
  tensors: TensorRecord[];
  tokenizer?: Uint8Array; // llama2.c tokenizer.bin bytes
}

export function writeModel(m: ModelImage): Uint8Array {
  const tableEnd = HEADER_BYTES + ENTRY_BYTES * m.tensors.length;
  let off = align(tableEnd, TENSOR_ALIGN);
  const offsets: number[] = [];
  for (const t of m.tensors) {
    const expected = tensorBytes(t.qtype, t.rows, t.cols, t.group);
    if (t.data.length !== expected) {
      throw new Error(`tensor kind ${t.kind} layer ${t.layer}: ${t.data.length} bytes, expected ${expected}`);
    }
    offsets.push(off);
    off = align(off + t.data.length, TENSOR_ALIGN);
  }
  const tokOff = m.tokenizer ? off : 0;
  const total = m.tokenizer ? off + m.tokenizer.length : (m.tensors.length ? offsets[offsets.length - 1] + m.tensors[m.tensors.length - 1].data.length : tableEnd);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const c = m.config;
  const u32 = (at: number, x: number) => v.setUint32(at, x, true);
  u32(HEADER.magic, MAGIC);
  u32(HEADER.version, VERSION);
  u32(HEADER.headerBytes, HEADER_BYTES);
  u32(HEADER.flags, c.sharedClassifier ? FLAG_SHARED_CLASSIFIER : 0);
  u32(HEADER.dim, c.dim); u32(HEADER.hiddenDim, c.hiddenDim); u32(HEADER.nLayers, c.nLayers);
  u32(HEADER.nHeads, c.nHeads); u32(HEADER.nKvHeads, c.nKvHeads); u32(HEADER.vocabSize, c.vocabSize);
  u32(HEADER.seqLen, c.seqLen);
  v.setFloat32(HEADER.ropeTheta, c.ropeTheta, true);
  v.setFloat32(HEADER.normEps, c.normEps, true);
  u32(HEADER.nTensors, m.tensors.length);
  u32(HEADER.tokenizerOffset, tokOff);
  u32(HEADER.tokenizerBytes, m.tokenizer ? m.tokenizer.length : 0);
  u32(HEADER.fileBytes, total);
  m.tensors.forEach((t, i) => {
    const e = HEADER_BYTES + ENTRY_BYTES * i;
    u32(e + ENTRY.kind, t.kind); u32(e + ENTRY.layer, t.layer); u32(e + ENTRY.qtype, t.qtype);
    u32(e + ENTRY.rows, t.rows); u32(e + ENTRY.cols, t.cols); u32(e + ENTRY.group, t.group);
    u32(e + ENTRY.offset, offsets[i]); u32(e + ENTRY.bytes, t.data.length);
    out.set(t.data, offsets[i]);
  });
  if (m.tokenizer) out.set(m.tokenizer, tokOff);
  v.setUint32(CHECKSUM_OFFSET, crc32Skipping(out, CHECKSUM_OFFSET), true);
  return out;
}
