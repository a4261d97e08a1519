// The TypeScript reader of the edgellm model file (docs/model-format.md): validates the
// header, table and checksum, and returns views of each tensor. The module has its own reader
// (assembly/model/file.ts) with the same rules; test/vectors keeps the two in agreement.
import { crc32Skipping } from "./crc32.js";
import { storedFloats } from "./dequantize.js";
import { FormatError } from "./errors.js";
import { groupProblem, isKnownQType, QTYPES, tensorBytes } from "./qtypes.js";
import {
  CHECKSUM_OFFSET, configProblems, ENTRY, ENTRY_BYTES, HEADER, FLAG_SHARED_CLASSIFIER, HEADER_BYTES, Kind, KIND_NAMES,
  LAYER_KINDS, MAGIC, ModelConfig, QType, tensorShape, VERSION,
} from "./spec.js";
import type { ModelImage, TensorRecord } from "./writer.js";

export function isModelFile(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === MAGIC;
}

export function readModel(bytes: Uint8Array, name = "model"): ModelImage {
  const fail = (code: ConstructorParameters<typeof FormatError>[0], msg: string): never => {
    throw new FormatError(code, `${name}: ${msg}`);
  };
  if (bytes.length === 0) fail("E_TOO_SHORT", "file is empty");
  if (bytes.length < HEADER_BYTES) fail("E_TOO_SHORT", `${bytes.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (o: number) => v.getUint32(o, true);
  if (u32(HEADER.magic) !== MAGIC) fail("E_MAGIC", `bad magic 0x${u32(HEADER.magic).toString(16)}: not an edgellm model file`);
  if (u32(HEADER.version) !== VERSION) fail("E_VERSION", `format version ${u32(HEADER.version)} is not supported (expected ${VERSION})`);
  if (u32(HEADER.headerBytes) !== HEADER_BYTES) fail("E_VERSION", `header size ${u32(HEADER.headerBytes)} is not supported (expected ${HEADER_BYTES})`);
  const fileBytes = u32(HEADER.fileBytes);
  if (fileBytes !== bytes.length) fail("E_TRUNCATED", `header says ${fileBytes} bytes but the file has ${bytes.length} (truncated or padded)`);
  const flags = u32(HEADER.flags);
  if ((flags & ~FLAG_SHARED_CLASSIFIER) !== 0) fail("E_VERSION", `unknown flags 0x${flags.toString(16)}`);
  const stored = u32(CHECKSUM_OFFSET), actual = crc32Skipping(bytes, CHECKSUM_OFFSET);
  if (stored !== actual) fail("E_CHECKSUM", `checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)}): the file is corrupted`);
  const config: ModelConfig = {
    dim: u32(HEADER.dim), hiddenDim: u32(HEADER.hiddenDim), nLayers: u32(HEADER.nLayers), nHeads: u32(HEADER.nHeads),
    nKvHeads: u32(HEADER.nKvHeads), vocabSize: u32(HEADER.vocabSize), seqLen: u32(HEADER.seqLen),
    ropeTheta: v.getFloat32(HEADER.ropeTheta, true), normEps: v.getFloat32(HEADER.normEps, true),
    sharedClassifier: (flags & FLAG_SHARED_CLASSIFIER) !== 0,
  };
  const problems = configProblems(config);
  if (problems.length) fail("E_CONFIG", `bad config: ${problems.join("; ")}`);
  const n = u32(HEADER.nTensors);
  const expected = config.nLayers * LAYER_KINDS.length + (config.sharedClassifier ? 2 : 3);
  if (n !== expected) fail("E_TENSOR", `${n} tensors in the table, expected ${expected}`);
  const tableEnd = HEADER_BYTES + n * ENTRY_BYTES;
  if (tableEnd > bytes.length) fail("E_TENSOR", "tensor table runs past the end of the file");
  const seen = new Set<string>();
  const tensors: TensorRecord[] = [];
  for (let i = 0; i < n; i++) {
    const e = HEADER_BYTES + i * ENTRY_BYTES;
    const [kind, layer, qtype, rows, cols, group, off, size] = [ENTRY.kind, ENTRY.layer, ENTRY.qtype, ENTRY.rows,
      ENTRY.cols, ENTRY.group, ENTRY.offset, ENTRY.bytes].map((f) => u32(e + f));
    const label = `tensor ${i} (${KIND_NAMES[kind] ?? `kind ${kind}`}, layer ${layer})`;
    if (kind > Kind.Classifier || (kind === Kind.Classifier && config.sharedClassifier)) fail("E_TENSOR", `${label}: unexpected kind`);
    const global = kind === Kind.Embedding || kind === Kind.RmsFinal || kind === Kind.Classifier;
    if (global ? layer !== 0 : layer >= config.nLayers) fail("E_TENSOR", `${label}: bad layer`);
    if (!isKnownQType(qtype)) fail("E_QTYPE", `${label}: unknown quantization type ${qtype}`);
    const [er, ec] = tensorShape(config, kind as Kind);
    if (rows !== er || cols !== ec) fail("E_TENSOR", `${label}: shape [${rows}, ${cols}], expected [${er}, ${ec}]`);
    if (rows === 1 && qtype !== QType.F32) fail("E_QTYPE", `${label}: norm weights must be f32`);
    const badGroup = groupProblem(qtype, cols, group);
    if (badGroup) fail("E_TENSOR", `${label}: ${badGroup}`);
    if (size !== tensorBytes(qtype, rows, cols, group)) fail("E_TENSOR", `${label}: ${size} bytes does not match its shape`);
    if (off % 64 !== 0 || off < tableEnd || off + size > bytes.length) fail("E_TENSOR", `${label}: data at ${off}+${size} is out of bounds or unaligned`);
    const key = `${kind}/${layer}`;
    if (seen.has(key)) fail("E_TENSOR", `${label}: duplicate`);
    seen.add(key);
    const data = bytes.subarray(off, off + size);
    const codeProblem = QTYPES[qtype].codeProblem(data, rows, cols);
    if (codeProblem) fail("E_TENSOR", `${label}: ${codeProblem}`);
    const record: TensorRecord = { kind, layer, qtype, rows, cols, group, data };
    // NaN or infinite weights or scales (a broken tool wrote them, then the checksum) would
    // otherwise surface far from their cause: a trap mid-run, a perplexity of NaN.
    const floats = storedFloats(record), bad = floats.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      const what = `${qtype === QType.F32 ? "" : "scales of "}tensor ${KIND_NAMES[kind]} of layer ${layer}`;
      fail("E_TENSOR", `${what} holds a non-finite value (${floats[bad]} at element ${bad})`);
    }
    tensors.push(record);
  }
  const tokOff = u32(HEADER.tokenizerOffset), tokBytes = u32(HEADER.tokenizerBytes);
  let tokenizer: Uint8Array | undefined;
  if (tokBytes !== 0) {
    if (tokOff % 64 !== 0 || tokOff + tokBytes > bytes.length) fail("E_TOKENIZER", "embedded tokenizer is out of bounds");
    tokenizer = bytes.subarray(tokOff, tokOff + tokBytes);
  }
  return { config, tensors, tokenizer };
}
