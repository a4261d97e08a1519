// Every refusal of the model-file format, one damaged file each, refused with the same code by
// the TypeScript reader (host/format/reader.ts), the module's reader in both builds
// (assembly/model/file.ts) and the firmware under wasm3, with the file in linear memory and
// held by the host (--host-weights, where the module reads it through env.wRead).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MODULE_ERRORS } from "../../host/engine/errors.js";
import { instantiate } from "../../host/engine/module.js";
import { FormatError } from "../../host/format/errors.js";
import { readModel } from "../../host/format/reader.js";
import { ENTRY, ENTRY_BYTES, HEADER, HEADER_BYTES, Kind } from "../../host/format/spec.js";
import { reseal, ROOT } from "../host/helpers.js";
import { FW, requireFirmware } from "./firmware-helpers.js";

const vector = (name: string) => new Uint8Array(readFileSync(join(ROOT, "test", "vectors", `${name}.ellm`)));

// The table entry of (kind, layer) in a file.
function entryAt(bytes: Uint8Array, kind: Kind, layer: number): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  const n = v.getUint32(HEADER.nTensors, true);
  for (let i = 0; i < n; i++) {
    const e = HEADER_BYTES + i * ENTRY_BYTES;
    if (v.getUint32(e + ENTRY.kind, true) === kind && v.getUint32(e + ENTRY.layer, true) === layer) return e;
  }
  throw new Error(`no tensor ${kind}/${layer}`);
}

interface Case { name: string; code: string; bytes: () => Uint8Array }

// An edit of a copy of a vector, re-sealed so the reader gets past the checksum to the check.
function edited(name: string, edit: (b: Uint8Array, v: DataView) => void, seal = true): () => Uint8Array {
  return () => {
    const b = vector(name).slice();
    edit(b, new DataView(b.buffer));
    return seal ? reseal(b) : b;
  };
}
const u32 = (at: number, x: number) => (_: Uint8Array, v: DataView) => v.setUint32(at, x, true);
const entryField = (kind: Kind, field: keyof typeof ENTRY, x: number) => (b: Uint8Array, v: DataView) => v.setUint32(entryAt(b, kind, 0) + ENTRY[field], x, true);
// The first f32 a tensor stores: an f32 tensor's first weight, a quantized one's first scale.
function firstFloat(b: Uint8Array, kind: Kind, scalesOffset: number): number {
  const v = new DataView(b.buffer);
  return v.getUint32(entryAt(b, kind, 0) + ENTRY.offset, true) + scalesOffset;
}

const CASES: Case[] = [
  { name: "shorter than the header", code: "E_TOO_SHORT", bytes: () => vector("tiny-f32").slice(0, 100) },
  { name: "bad magic", code: "E_MAGIC", bytes: edited("tiny-f32", u32(HEADER.magic, 0x12345678)) },
  { name: "another format version", code: "E_VERSION", bytes: edited("tiny-f32", u32(HEADER.version, 2)) },
  { name: "another header size", code: "E_VERSION", bytes: edited("tiny-f32", u32(HEADER.headerBytes, 132)) },
  { name: "unknown flags", code: "E_VERSION", bytes: edited("tiny-f32", u32(HEADER.flags, 3)) },
  { name: "truncated", code: "E_TRUNCATED", bytes: () => vector("tiny-f32").slice(0, -64) },
  { name: "a flipped data byte", code: "E_CHECKSUM", bytes: edited("tiny-f32", (b) => { b[b.length - 10] ^= 0x40; }, false) },
  { name: "dim 0", code: "E_CONFIG", bytes: edited("tiny-f32", u32(HEADER.dim, 0)) },
  { name: "kv heads that do not divide heads", code: "E_CONFIG", bytes: edited("tiny-f32", u32(HEADER.nKvHeads, 3)) },
  { name: "infinite norm epsilon", code: "E_CONFIG", bytes: edited("tiny-f32", (_, v) => v.setFloat32(HEADER.normEps, Infinity, true)) },
  { name: "a tensor count that does not match", code: "E_TENSOR", bytes: edited("tiny-f32", u32(HEADER.nTensors, 3)) },
  { name: "a misaligned tensor", code: "E_TENSOR", bytes: edited("tiny-f32", entryField(Kind.Wq, "offset", 4)) },
  { name: "a tensor past the end", code: "E_TENSOR", bytes: edited("tiny-f32", entryField(Kind.Wq, "offset", 1 << 20)) },
  { name: "a duplicate tensor", code: "E_TENSOR", bytes: edited("tiny-f32", entryField(Kind.Wk, "kind", Kind.Wq)) },
  { name: "an unknown quantization type", code: "E_QTYPE", bytes: edited("tiny-f32", entryField(Kind.Wq, "qtype", 9)) },
  { name: "a quantized norm", code: "E_QTYPE", bytes: edited("tiny-f32", entryField(Kind.RmsAtt, "qtype", 1)) },
  { name: "a q8 group that does not divide the row", code: "E_TENSOR", bytes: edited("tiny-int8", entryField(Kind.Wq, "group", 5)) },
  { name: "a group on a per-row type", code: "E_TENSOR", bytes: edited("tiny-ternary", entryField(Kind.Wq, "group", 16)) },
  { name: "a t5 code above 242", code: "E_TENSOR", bytes: edited("tiny-t5", (b, v) => { b[v.getUint32(entryAt(b, Kind.Wq, 0) + ENTRY.offset, true)] = 243; }) },
  { name: "a t2 code 3", code: "E_TENSOR", bytes: edited("tiny-ternary", (b, v) => { b[v.getUint32(entryAt(b, Kind.Wq, 0) + ENTRY.offset, true)] = 0x03; }) },
  { name: "a NaN f32 weight", code: "E_TENSOR", bytes: edited("tiny-f32", (b, v) => v.setFloat32(firstFloat(b, Kind.Wq, 0), NaN, true)) },
  { name: "an infinite norm weight", code: "E_TENSOR", bytes: edited("tiny-f32", (b, v) => v.setFloat32(firstFloat(b, Kind.RmsFfn, 0), -Infinity, true)) },
  // tiny-t5's wq is t5 16 × 16: codes ceil(16/5) = 4 bytes a row, 64 in all, then the row scales.
  { name: "a NaN ternary scale", code: "E_TENSOR", bytes: edited("tiny-t5", (b, v) => v.setFloat32(firstFloat(b, Kind.Wq, 64), NaN, true)) },
  // tiny-int8's wq is q8 16 × 16, group 8: 256 codes, then 2 scales a row.
  { name: "a NaN int8 scale", code: "E_TENSOR", bytes: edited("tiny-int8", (b, v) => v.setFloat32(firstFloat(b, Kind.Wq, 256 + 4), NaN, true)) },
  { name: "an embedded tokenizer past the end", code: "E_TOKENIZER", bytes: edited("tiny-f32", (b, v) => { v.setUint32(HEADER.tokenizerOffset, 1 << 20, true); v.setUint32(HEADER.tokenizerBytes, 64, true); }) },
];

function tsCode(bytes: Uint8Array): string {
  try { readModel(bytes); return "accepted"; } catch (e) { return e instanceof FormatError ? e.code : `threw ${(e as Error).message}`; }
}

function moduleCode(kind: "simd" | "mvp", bytes: Uint8Array): string {
  const x = instantiate(kind);
  const p = x.alloc(Math.max(bytes.length, 1));
  new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
  const rc = x.modelLoad(p, bytes.length);
  return rc >= 0 ? "accepted" : MODULE_ERRORS[rc]?.[0] ?? `code ${rc}`;
}

const messageOf = (code: string) => Object.values(MODULE_ERRORS).find(([c]) => c === code)![1];

test("the untouched vectors load everywhere (so each case below fails for its one edit)", () => {
  for (const name of ["tiny-f32", "tiny-int8", "tiny-ternary", "tiny-t5"]) {
    assert.equal(tsCode(vector(name)), "accepted", name);
    assert.equal(moduleCode("mvp", vector(name)), "accepted", name);
  }
});

for (const c of CASES) {
  test(`refused alike: ${c.name} (${c.code})`, () => {
    const bytes = c.bytes();
    assert.equal(tsCode(bytes), c.code, "TypeScript reader");
    assert.equal(moduleCode("simd", bytes), c.code, "module, SIMD build");
    assert.equal(moduleCode("mvp", bytes), c.code, "module, MVP build");
    requireFirmware();
    const dir = mkdtempSync(join(tmpdir(), "edgellm-refusal-"));
    const file = join(dir, "bad.ellm");
    writeFileSync(file, bytes);
    for (const extra of [[], ["--host-weights"]]) {
      const r = spawnSync(FW, ["run", ...extra, file, "-n", "2"], { encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 1, `firmware ${extra.join(" ")}: exit 1 (${r.stderr})`);
      assert.ok(r.stderr.includes(`model: ${messageOf(c.code)}`), `firmware ${extra.join(" ")}: ${r.stderr.trim()}`);
      assert.equal(r.stdout, "", "nothing generated");
    }
  });
}
