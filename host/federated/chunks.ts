// Bytes in checksummed pieces, both ways of a federated round (docs/protocol.md §9): the global
// adapter a trainer fetches chunk by chunk (any index, any time: a fetch cut by a broker restart
// resumes from the first chunk it lacks), and an update a trainer uploads in parts that the
// coordinator puts back together. Each piece carries the CRC-32 of its own bytes. No I/O.
import { crc32 } from "../format/crc32.js";
import { MAX_FED_CHUNK_BYTES, MAX_FED_PARTS, MIN_FED_CHUNK_BYTES } from "../fleet/schemas.js";

export class ChunkError extends Error {}

export function chunkCount(bytes: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(bytes / chunkBytes));
}

// Piece `index` of `bytes` cut every `chunkBytes`.
export function chunkAt(bytes: Uint8Array, index: number, chunkBytes: number): { data: Uint8Array; crc32: number; chunks: number } {
  if (!(chunkBytes >= MIN_FED_CHUNK_BYTES && chunkBytes <= MAX_FED_CHUNK_BYTES)) throw new ChunkError(`chunk size ${chunkBytes} is outside ${MIN_FED_CHUNK_BYTES}..${MAX_FED_CHUNK_BYTES}`);
  const chunks = chunkCount(bytes.length, chunkBytes);
  if (chunks > MAX_FED_PARTS) throw new ChunkError(`${bytes.length} bytes in ${chunkBytes}-byte chunks is ${chunks} chunks, more than ${MAX_FED_PARTS}`);
  if (!(Number.isInteger(index) && index >= 0 && index < chunks)) throw new ChunkError(`chunk ${index} of ${chunks}`);
  const data = bytes.subarray(index * chunkBytes, Math.min(bytes.length, (index + 1) * chunkBytes));
  return { data, crc32: crc32(data), chunks };
}

// Pieces of one object arriving in any order, each checked against its CRC and against what
// the first piece said about the whole (piece count, total bytes, piece size). A piece that
// disagrees is a problem (the reason); a repeated piece is ignored.
export class Assembler {
  private readonly pieces: (Uint8Array | undefined)[];
  private held = 0;

  constructor(readonly parts: number, readonly bytes: number, readonly pieceBytes: number) {
    if (!(Number.isInteger(parts) && parts >= 1 && parts <= MAX_FED_PARTS)) throw new ChunkError(`${parts} pieces`);
    if (chunkCount(bytes, pieceBytes) !== parts) throw new ChunkError(`${bytes} bytes in ${pieceBytes}-byte pieces are ${chunkCount(bytes, pieceBytes)} pieces, not ${parts}`);
    this.pieces = new Array<Uint8Array | undefined>(parts);
  }

  // null: taken (or already held); else why the piece is refused.
  add(index: number, parts: number, bytes: number, data: Uint8Array, crc: number): string | null {
    if (parts !== this.parts || bytes !== this.bytes) return `piece ${index} says ${parts} pieces of ${bytes} bytes, the first said ${this.parts} of ${this.bytes}`;
    if (!(index >= 0 && index < this.parts)) return `piece ${index} of ${this.parts}`;
    const want = index === this.parts - 1 ? this.bytes - index * this.pieceBytes : this.pieceBytes;
    if (data.length !== want) return `piece ${index} has ${data.length} bytes, expected ${want}`;
    if (crc32(data) !== crc) return `piece ${index}: CRC-32 ${crc32(data).toString(16)} does not match the ${crc.toString(16)} it carries`;
    if (this.pieces[index]) return null;
    this.pieces[index] = data.slice();
    this.held++;
    return null;
  }

  has(index: number): boolean { return this.pieces[index] !== undefined; }
  get complete(): boolean { return this.held === this.parts; }
  missing(): number[] { const m: number[] = []; for (let i = 0; i < this.parts; i++) if (!this.pieces[i]) m.push(i); return m; }
  firstMissing(): number { const i = this.pieces.findIndex((p) => !p); return i < 0 ? this.parts : i; }

  result(): Uint8Array {
    if (!this.complete) throw new ChunkError(`${this.parts - this.held} of ${this.parts} pieces missing`);
    const out = new Uint8Array(this.bytes);
    this.pieces.forEach((p, i) => out.set(p!, i * this.pieceBytes));
    return out;
  }
}

// Little-endian f32 both ways (the update's wire form; every JS host we run is LE, DataView says so).
export function f32ToBytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(4 * a.length), v = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) v.setFloat32(4 * i, a[i], true);
  return out;
}
export function bytesToF32(b: Uint8Array): Float32Array {
  if (b.length % 4 !== 0) throw new ChunkError(`${b.length} bytes is not a whole number of f32 values`);
  const out = new Float32Array(b.length / 4), v = new DataView(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < out.length; i++) out[i] = v.getFloat32(4 * i, true);
  return out;
}

// A seed-and-scalar update: (u32 seed index, f32 projected gradient) per step, little-endian.
export function pairsToBytes(index: Uint32Array, grad: Float32Array): Uint8Array {
  const out = new Uint8Array(8 * index.length), v = new DataView(out.buffer);
  for (let i = 0; i < index.length; i++) { v.setUint32(8 * i, index[i], true); v.setFloat32(8 * i + 4, grad[i], true); }
  return out;
}
export function bytesToPairs(b: Uint8Array): { index: Uint32Array; grad: Float32Array } {
  if (b.length % 8 !== 0) throw new ChunkError(`${b.length} bytes is not a whole number of (index, gradient) pairs`);
  const n = b.length / 8, index = new Uint32Array(n), grad = new Float32Array(n), v = new DataView(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < n; i++) { index[i] = v.getUint32(8 * i, true); grad[i] = v.getFloat32(8 * i + 4, true); }
  return { index, grad };
}
