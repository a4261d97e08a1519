// The one writer of the edgellm model file (docs/model-format.md).
import { crc32Skipping } from "./crc32.js";
import { tensorBytes } from "./qtypes.js";
import {
  align, CHECKSUM_OFFSET, ENTRY_BYTES, FLAG_SHARED_CLASSIFIER, HEADER_BYTES, Kind, MAGIC, ModelConfig,
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
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, VERSION, true);
  v.setUint32(8, HEADER_BYTES, true);
  v.setUint32(12, c.sharedClassifier ? FLAG_SHARED_CLASSIFIER : 0, true);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, c.seqLen].forEach((x, i) => v.setUint32(16 + 4 * i, x, true));
  v.setFloat32(44, c.ropeTheta, true);
  v.setFloat32(48, c.normEps, true);
  v.setUint32(52, m.tensors.length, true);
  v.setUint32(56, tokOff, true);
  v.setUint32(60, m.tokenizer ? m.tokenizer.length : 0, true);
  v.setUint32(64, total, true);
  m.tensors.forEach((t, i) => {
    const e = HEADER_BYTES + ENTRY_BYTES * i;
    [t.kind, t.layer, t.qtype, t.rows, t.cols, t.group, offsets[i], t.data.length].forEach((x, j) => v.setUint32(e + 4 * j, x, true));
    out.set(t.data, offsets[i]);
  });
  if (m.tokenizer) out.set(m.tokenizer, tokOff);
  v.setUint32(CHECKSUM_OFFSET, crc32Skipping(out, CHECKSUM_OFFSET), true);
  return out;
}
