#!/usr/bin/env node
// Seals a WebAssembly module for the firmware: appends a custom section "edgellm.crc32" holding
// the CRC-32 (IEEE) of every byte before it. edgellm-fw refuses a module whose seal is missing or
// does not match (firmware/core/seal.c): two flipped bytes can pass wasm validation and hang the
// interpreter. V8 and wasm3 skip custom sections, so a sealed module runs unchanged.
// Usage: node scripts/seal-wasm.mjs FILE.wasm [...]   (re-sealing replaces the old seal)
import { readFileSync, renameSync, writeFileSync } from "node:fs";

const NAME = Buffer.from("edgellm.crc32");
// id 0 (custom), size 18 = name length byte + 13 name bytes + 4 CRC bytes, name length 13.
const HEADER = Buffer.concat([Buffer.from([0x00, 1 + NAME.length + 4, NAME.length]), NAME]);
export const SEAL_BYTES = HEADER.length + 4;

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

export function seal(wasm) {
  const sealed = wasm.length >= SEAL_BYTES && wasm.subarray(wasm.length - SEAL_BYTES, wasm.length - 4).equals(HEADER);
  const body = sealed ? wasm.subarray(0, wasm.length - SEAL_BYTES) : wasm;
  const sum = Buffer.alloc(4);
  sum.writeUInt32LE(crc32(body));
  return Buffer.concat([body, HEADER, sum]);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const files = process.argv.slice(2);
  if (files.length === 0) { process.stderr.write("usage: node scripts/seal-wasm.mjs FILE.wasm [...]\n"); process.exit(2); }
  for (const f of files) {
    const out = seal(readFileSync(f));
    writeFileSync(`${f}.tmp`, out);
    renameSync(`${f}.tmp`, f);
  }
}
