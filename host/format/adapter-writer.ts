// The one writer of the edgellm adapter file (docs/adapter-format.md).
import { crc32Skipping } from "./crc32.js";
import { align, TENSOR_ALIGN } from "./spec.js";
import {
  ADAPTER_CHECKSUM_OFFSET, ADAPTER_ENTRY_BYTES, ADAPTER_HEADER_BYTES, ADAPTER_MAGIC, ADAPTER_VERSION, AdapterStorage,
  BASE_FIELDS, f32ToF16, targetName,
} from "./adapter-spec.js";
import type { Adapter } from "./adapter.js";

// A or B as stored: f32 as is, f16 rounded to nearest even.
export function encodeStorage(storage: AdapterStorage, values: Float32Array): Uint8Array {
  if (storage === AdapterStorage.F32) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  if (storage !== AdapterStorage.F16) throw new Error(`unknown adapter storage type ${storage as number}`);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16(values[i]);
  return new Uint8Array(out.buffer);
}

export function writeAdapter(ad: Adapter): Uint8Array {
  const r = ad.rank;
  const tableEnd = ADAPTER_HEADER_BYTES + ADAPTER_ENTRY_BYTES * ad.matrices.length;
  let off = align(tableEnd, TENSOR_ALIGN), end = tableEnd;
  const placed = ad.matrices.map((m) => {
    const label = `${targetName(m.kind)} layer ${m.layer}`;
    if (m.a.length !== r * m.in || m.b.length !== m.out * r) throw new Error(`${label}: A or B does not match rank ${r} and shape [${m.out}, ${m.in}]`);
    const a = encodeStorage(m.storage, m.a), b = encodeStorage(m.storage, m.b);
    const aOff = off; off = align(aOff + a.length, TENSOR_ALIGN);
    const bOff = off; end = bOff + b.length; off = align(end, TENSOR_ALIGN);
    return { m, a, b, aOff, bOff };
  });
  const out = new Uint8Array(end);
  const v = new DataView(out.buffer);
  v.setUint32(0, ADAPTER_MAGIC, true);
  v.setUint32(4, ADAPTER_VERSION, true);
  v.setUint32(8, ADAPTER_HEADER_BYTES, true);
  v.setUint32(16, ad.base.checksum, true);
  BASE_FIELDS.forEach((f, i) => v.setUint32(20 + 4 * i, ad.base[f], true));
  v.setUint32(44, r, true);
  v.setFloat32(48, ad.alpha, true);
  v.setUint32(52, ad.matrices.length, true);
  v.setUint32(56, end, true);
  placed.forEach(({ m, a, b, aOff, bOff }, i) => {
    const e = ADAPTER_HEADER_BYTES + ADAPTER_ENTRY_BYTES * i;
    [m.kind, m.layer, m.storage, m.out, m.in, aOff, bOff, 0].forEach((x, j) => v.setUint32(e + 4 * j, x, true));
    out.set(a, aOff);
    out.set(b, bOff);
  });
  v.setUint32(ADAPTER_CHECKSUM_OFFSET, crc32Skipping(out, ADAPTER_CHECKSUM_OFFSET), true);
  return out;
}
