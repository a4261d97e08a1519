// The TypeScript reader of the edgellm adapter file (docs/adapter-format.md): validates the
// header, table, checksum and values, checks the adapter belongs to the given base model, and
// decodes A and B to f32. The module has its own reader (assembly/adapter/file.ts) with the
// same rules and codes; test/vectors/adapter keeps the two in agreement.
import { crc32Skipping } from "./crc32.js";
import { FormatError, type FormatErrorCode } from "./errors.js";
import { readModel } from "./reader.js";
import { CHECKSUM_OFFSET, configProblems, Kind, TENSOR_ALIGN } from "./spec.js";
import {
  ADAPTER_CHECKSUM_OFFSET, ADAPTER_ENTRY_BYTES, ADAPTER_HEADER_BYTES, ADAPTER_MAGIC, ADAPTER_TARGETS, ADAPTER_VERSION,
  AdapterStorage, BASE_FIELDS, BaseIdentity, baseIdentity, f16ToF32, isAdapterTarget, MAX_RANK, storageBytes,
  targetName, targetShape,
} from "./adapter-spec.js";
import type { Adapter, AdapterMatrix } from "./adapter.js";

export interface NamedBase {
  identity: BaseIdentity;
  name: string; // the model file, for the refusal message
}

export function isAdapterFile(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === ADAPTER_MAGIC;
}

// The identity an adapter must record to be used with this model file.
export function modelBase(modelBytes: Uint8Array, name: string): NamedBase {
  const m = readModel(modelBytes, name);
  const checksum = new DataView(modelBytes.buffer, modelBytes.byteOffset, modelBytes.byteLength).getUint32(CHECKSUM_OFFSET, true);
  return { identity: baseIdentity(m.config, checksum), name };
}

const describe = (b: BaseIdentity) =>
  `checksum 0x${b.checksum.toString(16).padStart(8, "0")} (dim ${b.dim}, hidden ${b.hiddenDim}, ${b.nLayers} layers, ` +
  `${b.nHeads}/${b.nKvHeads} heads, vocab ${b.vocabSize})`;

function decode(storage: AdapterStorage, bytes: Uint8Array): Float32Array {
  if (storage === AdapterStorage.F32) return new Float32Array(bytes.slice().buffer);
  const h = new Uint16Array(bytes.slice().buffer);
  return Float32Array.from(h, f16ToF32);
}

// base: the model the adapter will be used with; without it only the file itself is checked.
export function readAdapter(bytes: Uint8Array, name = "adapter", base?: NamedBase): Adapter {
  const fail = (code: FormatErrorCode, msg: string): never => { throw new FormatError(code, `${name}: ${msg}`); };
  if (bytes.length === 0) fail("E_FILE_EMPTY", "file is empty");
  if (bytes.length < ADAPTER_HEADER_BYTES) fail("E_TOO_SHORT", `${bytes.length} bytes is shorter than the ${ADAPTER_HEADER_BYTES}-byte header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (o: number) => v.getUint32(o, true);
  if (u32(0) !== ADAPTER_MAGIC) fail("E_MAGIC", `bad magic 0x${u32(0).toString(16)}: not an edgellm adapter file`);
  if (u32(4) !== ADAPTER_VERSION || u32(8) !== ADAPTER_HEADER_BYTES) fail("E_VERSION", `adapter format version ${u32(4)} (header ${u32(8)} bytes) is not supported (expected ${ADAPTER_VERSION})`);
  if (u32(56) !== bytes.length) fail("E_TRUNCATED", `header says ${u32(56)} bytes but the file has ${bytes.length} (truncated or padded)`);
  if (u32(12) !== 0) fail("E_VERSION", `unknown flags 0x${u32(12).toString(16)}`);
  const stored = u32(ADAPTER_CHECKSUM_OFFSET), actual = crc32Skipping(bytes, ADAPTER_CHECKSUM_OFFSET);
  if (stored !== actual) fail("E_CHECKSUM", `checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)}): the file is corrupted`);

  const rank = u32(44), alpha = v.getFloat32(48, true);
  if (rank < 1 || rank > MAX_RANK) fail("E_CONFIG", `rank ${rank} is outside 1..${MAX_RANK}`);
  if (!(alpha > 0) || !Number.isFinite(alpha)) fail("E_CONFIG", `alpha ${alpha} must be a positive finite number`);
  const recorded = { checksum: u32(16) } as BaseIdentity;
  BASE_FIELDS.forEach((f, i) => { recorded[f] = u32(20 + 4 * i); });
  if (base) {
    const b = base.identity;
    if (b.checksum !== recorded.checksum || BASE_FIELDS.some((f) => b[f] !== recorded[f])) {
      throw new FormatError("E_ADAPTER_BASE", `adapter ${name} was made for a model with ${describe(recorded)}; ${base.name} has ${describe(b)}`);
    }
  } else {
    const problems = configProblems({ ...recorded, seqLen: 1, ropeTheta: 1, normEps: 1, sharedClassifier: true });
    if (problems.length) fail("E_CONFIG", `bad base shape: ${problems.join("; ")}`);
  }

  const n = u32(52);
  const most = recorded.nLayers * ADAPTER_TARGETS.length;
  if (n < 1 || n > most) fail("E_TENSOR", `${n} matrices in the table, expected 1..${most}`);
  const tableEnd = ADAPTER_HEADER_BYTES + n * ADAPTER_ENTRY_BYTES;
  if (tableEnd > bytes.length) fail("E_TENSOR", "matrix table runs past the end of the file");
  const seen = new Set<string>();
  const matrices: AdapterMatrix[] = [];
  let end = tableEnd; // data lies in table order, A before B, without overlap
  for (let i = 0; i < n; i++) {
    const e = ADAPTER_HEADER_BYTES + i * ADAPTER_ENTRY_BYTES;
    const [kind, layer, storage, out, inn, aOff, bOff, reserved] = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => u32(e + 4 * j));
    const label = `matrix ${i} (${targetName(kind)}, layer ${layer})`;
    if (!isAdapterTarget(kind)) fail("E_TENSOR", `${label}: kind ${kind} is not an adapter target (wq wk wv wo w1 w2 w3)`);
    if (layer >= recorded.nLayers) fail("E_TENSOR", `${label}: layer ${layer} is outside 0..${recorded.nLayers - 1}`);
    if (storage !== AdapterStorage.F32 && storage !== AdapterStorage.F16) fail("E_QTYPE", `${label}: unknown storage type ${storage}`);
    const [eo, ei] = targetShape(recorded, kind as Kind);
    if (out !== eo || inn !== ei) fail("E_TENSOR", `${label}: shape [${out}, ${inn}], expected [${eo}, ${ei}]`);
    if (reserved !== 0) fail("E_TENSOR", `${label}: reserved field is ${reserved}, must be 0`);
    const aBytes = storageBytes(storage, rank * inn), bBytes = storageBytes(storage, out * rank);
    const placed = (off: number, size: number) => off % TENSOR_ALIGN === 0 && off >= end && off + size <= bytes.length;
    if (!placed(aOff, aBytes)) fail("E_TENSOR", `${label}: A at ${aOff}+${aBytes} is out of bounds, unaligned or out of order`);
    end = aOff + aBytes;
    if (!placed(bOff, bBytes)) fail("E_TENSOR", `${label}: B at ${bOff}+${bBytes} is out of bounds, unaligned or out of order`);
    end = bOff + bBytes;
    const key = `${kind}/${layer}`;
    if (seen.has(key)) fail("E_TENSOR", `${label}: duplicate`);
    seen.add(key);
    const a = decode(storage, bytes.subarray(aOff, aOff + aBytes)), b = decode(storage, bytes.subarray(bOff, bOff + bBytes));
    for (const [which, w] of [["A", a], ["B", b]] as const) {
      const bad = w.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) fail("E_TENSOR", `${label}: ${which} holds a non-finite value (${w[bad]} at element ${bad})`);
    }
    matrices.push({ kind: kind as Kind, layer, storage, out, in: inn, a, b });
  }
  return { base: recorded, rank, alpha, matrices };
}
