// CRC-32 (IEEE, reflected, poly 0xEDB88320), as in the model file checksum.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// CRC of a model file with its checksum field (4 bytes at offset) read as zero.
export function crc32Skipping(bytes: Uint8Array, offset: number): number {
  let c = crc32(bytes.subarray(0, offset));
  c = crc32(new Uint8Array(4), c);
  return crc32(bytes.subarray(offset + 4), c);
}
