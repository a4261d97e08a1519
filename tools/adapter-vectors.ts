// Deterministic adapter files that pin the adapter format (docs/adapter-format.md) and keep the
// TypeScript and module readers in agreement: two valid adapters for test/vectors/tiny-f32.ellm
// and one file per refusal. `node dist/tools/make-adapter-vectors.js` rewrites
// test/vectors/adapter; the tests check the builders reproduce them byte for byte.
import { crc32Skipping } from "../host/format/crc32.js";
import { writeModel } from "../host/format/writer.js";
import { Kind } from "../host/format/spec.js";
import { ADAPTER_CHECKSUM_OFFSET, ADAPTER_ENTRY_BYTES, ADAPTER_HEADER_BYTES, AdapterStorage, BaseIdentity, targetShape } from "../host/format/adapter-spec.js";
import { modelBase } from "../host/format/adapter-reader.js";
import { writeAdapter } from "../host/format/adapter-writer.js";
import type { Adapter } from "../host/format/adapter.js";
import { buildVector } from "./vectors.js";

export const ADAPTER_BASE_VECTOR = "tiny-f32"; // test/vectors/tiny-f32.ellm
export const ADAPTER_RANK = 4;

export interface AdapterVector {
  file: string;   // under test/vectors/adapter
  code: string;   // "OK" or the FormatError / module error code both readers give
  matrices: number; // adapted matrices when valid, else 0
  bytes: Uint8Array;
}

// xorshift32 in [-1, 1), as tools/vectors.ts.
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 31 - 1; };
}

// Targets spread over both layers, every kind once.
const TARGETS: Array<[Kind, number]> = [[Kind.Wq, 0], [Kind.Wv, 0], [Kind.W2, 0], [Kind.Wk, 1], [Kind.Wo, 1], [Kind.W1, 1], [Kind.W3, 1]];

// A trained-looking adapter: A uniform with std ≈ 1/√in, B small (LoRA starts B at zero).
export function tinyAdapter(base: BaseIdentity, storage: AdapterStorage, seed = 5): Adapter {
  const rand = random(seed), r = ADAPTER_RANK;
  const matrices = TARGETS.map(([kind, layer]) => {
    const [out, inn] = targetShape(base, kind);
    const a = new Float32Array(r * inn).map(() => (1.7 / Math.sqrt(inn)) * rand());
    const b = new Float32Array(out * r).map(() => 0.03 * rand());
    return { kind, layer, storage, out, in: inn, a, b };
  });
  return { base, rank: r, alpha: 8, matrices };
}

export const tinyBase = () => modelBase(writeModel(buildVector(ADAPTER_BASE_VECTOR)), `${ADAPTER_BASE_VECTOR}.ellm`);

const seal = (b: Uint8Array) => {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(ADAPTER_CHECKSUM_OFFSET, crc32Skipping(b, ADAPTER_CHECKSUM_OFFSET), true);
  return b;
};
// Sets a u32 (or f32) field and re-seals, so the reader reaches the check the vector is for.
const setU32 = (b: Uint8Array, off: number, v: number) => { new DataView(b.buffer).setUint32(off, v, true); return seal(b); };
const setF32 = (b: Uint8Array, off: number, v: number) => { new DataView(b.buffer).setFloat32(off, v, true); return seal(b); };
const entry = (i: number, field: number) => ADAPTER_HEADER_BYTES + ADAPTER_ENTRY_BYTES * i + 4 * field;
const aOffset = (b: Uint8Array, i: number) => new DataView(b.buffer).getUint32(entry(i, 5), true);

export function buildAdapterVectors(): AdapterVector[] {
  const base = tinyBase().identity;
  const f32 = () => writeAdapter(tinyAdapter(base, AdapterStorage.F32));
  const f16 = () => writeAdapter(tinyAdapter(base, AdapterStorage.F16));
  const otherBase = modelBase(writeModel(buildVector("tiny-int8")), "tiny-int8.ellm").identity;
  const bad: Array<[string, string, () => Uint8Array]> = [
    ["short", "E_TOO_SHORT", () => f32().slice(0, 100)],
    ["magic", "E_MAGIC", () => setU32(f32(), 0, 0x4d4c4c45)], // a model file's magic
    ["version", "E_VERSION", () => setU32(f32(), 4, 2)],
    ["flags", "E_VERSION", () => setU32(f32(), 12, 1)],
    ["truncated", "E_TRUNCATED", () => f32().slice(0, -10)],
    ["checksum", "E_CHECKSUM", () => { const b = f32(); b[b.length - 3] ^= 4; return b; }],
    ["rank-0", "E_CONFIG", () => setU32(f32(), 44, 0)],
    ["rank-absurd", "E_CONFIG", () => setU32(f32(), 44, 1 << 20)],
    ["alpha-nan", "E_CONFIG", () => setF32(f32(), 48, NaN)],
    ["other-base", "E_ADAPTER_BASE", () => writeAdapter(tinyAdapter(otherBase, AdapterStorage.F32))],
    ["other-shape", "E_ADAPTER_BASE", () => setU32(f32(), 24, 32)], // hidden_dim
    ["no-matrices", "E_TENSOR", () => setU32(f32(), 52, 0)],
    ["entry-shape", "E_TENSOR", () => setU32(f32(), entry(0, 3), 17)],
    ["target-norm", "E_TENSOR", () => setU32(f32(), entry(0, 0), Kind.RmsAtt)],
    ["target-unknown", "E_TENSOR", () => setU32(f32(), entry(0, 0), 12)],
    ["layer", "E_TENSOR", () => setU32(f32(), entry(1, 1), 2)],
    ["duplicate", "E_TENSOR", () => setU32(setU32(f32(), entry(4, 0), Kind.Wq), entry(4, 1), 0)], // wo of layer 1 → wq of layer 0, same shape
    ["storage", "E_QTYPE", () => setU32(f32(), entry(2, 2), 3)],
    ["unaligned", "E_TENSOR", () => { const b = f32(); return setU32(b, entry(0, 5), aOffset(b, 0) + 4); }],
    ["overlap", "E_TENSOR", () => { const b = f32(); return setU32(b, entry(1, 5), aOffset(b, 0)); }],
    ["reserved", "E_TENSOR", () => setU32(f32(), entry(0, 7), 1)],
    ["nan-f32", "E_TENSOR", () => { const b = f32(); return setF32(b, aOffset(b, 3) + 8, NaN); }],
    ["inf-f16", "E_TENSOR", () => { const b = f16(); new DataView(b.buffer).setUint16(aOffset(b, 4), 0x7c00, true); return seal(b); }],
  ];
  return [
    { file: "tiny-f32.ella", code: "OK", matrices: TARGETS.length, bytes: f32() },
    { file: "tiny-f16.ella", code: "OK", matrices: TARGETS.length, bytes: f16() },
    ...bad.map(([name, code, make]) => ({ file: `bad-${name}.ella`, code, matrices: 0, bytes: make() })),
  ];
}
