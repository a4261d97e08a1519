// Packs the MVP module and a model file into flashable partition images for the ESP-IDF
// project (firmware/esp32): each image is a 16-byte header — u32 magic "ELPK", u32 payload
// bytes, u32 CRC-32 of the payload, u32 0 — then the payload. Offsets come from the
// project's partitions.csv, so `esptool.py write_flash @flash_args` puts them in place.
//   node dist/tools/pack-firmware.js --model m.ellm [--module build/edgellm.wasm]
//        [--partitions firmware/esp32/partitions.csv] [-o firmware/build/esp32]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "../host/format/crc32.js";
import { readModel } from "../host/format/reader.js";

export const PACK_MAGIC = 0x4b504c45; // "ELPK"
export const PACK_HEADER = 16;

export interface Partition { name: string; offset: number; size: number }

// Data partitions of an ESP-IDF partition table (CSV: name, type, subtype, offset, size).
export function readPartitions(csv: string): Map<string, Partition> {
  const out = new Map<string, Partition>();
  for (const raw of csv.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const [name, , , offset, size] = line.split(",").map((s) => s.trim());
    const off = Number(offset), sz = Number(size);
    if (!name || !Number.isInteger(off) || !Number.isInteger(sz)) throw new Error(`partitions.csv: cannot read line '${raw.trim()}'`);
    out.set(name, { name, offset: off, size: sz });
  }
  return out;
}

export function packImage(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(PACK_HEADER + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, PACK_MAGIC, true);
  v.setUint32(4, payload.length, true);
  v.setUint32(8, crc32(payload) >>> 0, true);
  out.set(payload, PACK_HEADER);
  return out;
}

export interface PackResult { files: { partition: Partition; path: string; bytes: number }[]; flashArgs: string }

export function packFirmware(o: { module: string; model: string; partitions: string; outDir: string }): PackResult {
  const parts = readPartitions(readFileSync(o.partitions, "utf8"));
  const module = new Uint8Array(readFileSync(o.module));
  if (module.length < 8 || module[0] !== 0 || module[1] !== 0x61 || module[2] !== 0x73 || module[3] !== 0x6d) {
    throw new Error(`${o.module} is not a WebAssembly module`);
  }
  const model = new Uint8Array(readFileSync(o.model));
  readModel(model, o.model); // throws on a malformed or corrupted model file
  mkdirSync(o.outDir, { recursive: true });
  const files: PackResult["files"] = [];
  for (const [name, payload] of [["module", module], ["model", model]] as const) {
    const p = parts.get(name);
    if (!p) throw new Error(`${o.partitions} has no '${name}' partition`);
    if (p.offset % 0x10000 !== 0) throw new Error(`partition '${name}' must start on a 64 KiB boundary to be memory-mapped`);
    const image = packImage(payload);
    if (image.length > p.size) throw new Error(`${name} needs ${image.length} bytes; partition '${name}' holds ${p.size}`);
    const path = join(o.outDir, `${name}.bin`);
    writeFileSync(path, image);
    files.push({ partition: p, path, bytes: image.length });
  }
  const flashArgs = files.map((f) => `0x${f.partition.offset.toString(16)} ${f.partition.name}.bin`).join("\n") + "\n";
  writeFileSync(join(o.outDir, "flash_args"), flashArgs);
  return { files, flashArgs };
}

function main(argv: string[]): number {
  const root = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
  const o = { module: join(root, "build", "edgellm.wasm"), model: "", partitions: join(root, "firmware", "esp32", "partitions.csv"), outDir: join(root, "firmware", "build", "esp32") };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (v === undefined) { process.stderr.write(`pack-firmware: error: ${argv[i]} needs a value\n`); return 2; }
    if (argv[i] === "--module") o.module = v;
    else if (argv[i] === "--model") o.model = v;
    else if (argv[i] === "--partitions") o.partitions = v;
    else if (argv[i] === "-o" || argv[i] === "--out") o.outDir = v;
    else { process.stderr.write(`pack-firmware: error: unknown option ${argv[i]}\n`); return 2; }
  }
  if (!o.model) { process.stderr.write("pack-firmware: error: --model <file.ellm> is required\n"); return 2; }
  try {
    const r = packFirmware(o);
    for (const f of r.files) process.stdout.write(`${f.path}: ${f.bytes} bytes → partition '${f.partition.name}' at 0x${f.partition.offset.toString(16)} (${f.partition.size} bytes)\n`);
    process.stdout.write(`flash: cd ${o.outDir} && esptool.py --chip auto write_flash @flash_args\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`pack-firmware: error: ${(e as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
