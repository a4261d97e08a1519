// The adapter file format (docs/adapter-format.md): the f16 codec, writer → reader round trips,
// and the committed vectors (test/vectors/adapter) on which the TypeScript reader and the
// module's reader (both builds) must give the same result, code for code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { MODULE_ERRORS } from "../../host/engine/errors.js";
import { instantiate } from "../../host/engine/module.js";
import { FormatError } from "../../host/format/errors.js";
import { modelBase, readAdapter } from "../../host/format/adapter-reader.js";
import { writeAdapter } from "../../host/format/adapter-writer.js";
import { ADAPTER_CHECKSUM_OFFSET, AdapterStorage, f16ToF32, f32ToF16 } from "../../host/format/adapter-spec.js";
import { crc32Skipping } from "../../host/format/crc32.js";
import { buildAdapterVectors, tinyAdapter, tinyBase } from "../../tools/adapter-vectors.js";
import { ROOT } from "./helpers.js";

const VECTORS = join(ROOT, "test", "vectors");
const ADAPTERS = join(VECTORS, "adapter");

interface AdapterIndex {
  base: string;
  vectors: Array<{ file: string; code: string; matrices: number; bytes: number }>;
}

const index = JSON.parse(readFileSync(join(ADAPTERS, "index.json"), "utf8")) as AdapterIndex;
const modelBytes = new Uint8Array(readFileSync(join(VECTORS, index.base)));
const read = (file: string) => new Uint8Array(readFileSync(join(ADAPTERS, file)));

// What the TypeScript reader says about a file: "OK <matrices>" or its error code.
function tsVerdict(bytes: Uint8Array, file: string): string {
  try {
    return `OK ${readAdapter(bytes, file, modelBase(modelBytes, index.base)).matrices.length}`;
  } catch (e) {
    assert.ok(e instanceof FormatError, `${file}: ${String(e)}`);
    assert.ok(!e.message.includes("\n"), `${file}: one line`);
    assert.ok(e.message.startsWith(`${file}:`) || e.message.startsWith(`adapter ${file} `), `${file}: names the file: ${e.message}`);
    return e.code;
  }
}

function moduleVerdict(e: Engine, bytes: Uint8Array): string {
  const r = e.x.adapterCheck(e.copyIn(bytes), bytes.length);
  return r >= 0 ? `OK ${r}` : MODULE_ERRORS[r]?.[0] ?? `error ${r}`;
}

describe("adapter format", () => {
  test("f16: every finite half survives f16 → f32 → f16; ties round to even; overflow is infinite", () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN payloads
      assert.equal(f32ToF16(f16ToF32(h)), h, `half 0x${h.toString(16)}`);
    }
    assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // halfway between 1 and the next half: even
    assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(f32ToF16(2 ** -25), 0); // half the smallest subnormal: even (zero)
    assert.equal(f32ToF16(65519), 0x7bff);
    assert.equal(f32ToF16(65520), 0x7c00);
    assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
  });

  test("round trip: f32 exactly, f16 to the nearest half (relative error ≤ 2^-11)", () => {
    const base = tinyBase();
    for (const storage of [AdapterStorage.F32, AdapterStorage.F16]) {
      const ad = tinyAdapter(base.identity, storage, 9);
      const bytes = writeAdapter(ad);
      const back = readAdapter(bytes, "round-trip.ella", base);
      assert.deepEqual(back.base, ad.base);
      assert.equal(back.rank, ad.rank);
      assert.equal(back.alpha, ad.alpha);
      assert.equal(back.matrices.length, ad.matrices.length);
      back.matrices.forEach((m, i) => {
        const src = ad.matrices[i];
        assert.deepEqual([m.kind, m.layer, m.storage, m.out, m.in], [src.kind, src.layer, src.storage, src.out, src.in]);
        for (const [got, want] of [[m.a, src.a], [m.b, src.b]] as const) {
          if (storage === AdapterStorage.F32) { assert.deepEqual(got, want); continue; }
          for (let j = 0; j < want.length; j++) {
            assert.equal(got[j], f16ToF32(f32ToF16(want[j])));
            assert.ok(Math.abs(got[j] - want[j]) <= Math.abs(want[j]) * 2 ** -11 + 2 ** -25, `${i}/${j}`);
          }
        }
      });
      // Every A and B starts on a 64-byte boundary, so a host can use them in place.
      const v = new DataView(bytes.buffer);
      for (let i = 0; i < ad.matrices.length; i++) {
        assert.equal(v.getUint32(128 + 32 * i + 20, true) % 64, 0);
        assert.equal(v.getUint32(128 + 32 * i + 24, true) % 64, 0);
      }
    }
  });

  test("the builders reproduce the committed vectors byte for byte", () => {
    const built = buildAdapterVectors();
    assert.deepEqual(built.map(({ bytes, ...v }) => ({ ...v, bytes: bytes.length })), index.vectors);
    for (const v of built) assert.deepEqual(v.bytes, read(v.file), v.file);
  });

  test("every vector: the TypeScript reader gives its recorded result", () => {
    for (const v of index.vectors) {
      assert.equal(tsVerdict(read(v.file), v.file), v.code === "OK" ? `OK ${v.matrices}` : v.code, v.file);
    }
  });

  for (const engine of ["simd", "mvp"] as const) {
    test(`every vector: the module (${engine}) agrees with the TypeScript reader`, () => {
      const e = Engine.load(modelBytes, undefined, { engine });
      for (const v of index.vectors) {
        const bytes = read(v.file);
        assert.equal(moduleVerdict(e, bytes), tsVerdict(bytes, v.file), v.file);
      }
    });
  }

  test("an adapter for another base is refused in one line naming both files", () => {
    const bytes = read("bad-other-base.ella");
    assert.throws(() => readAdapter(bytes, "tuned.ella", modelBase(modelBytes, "tiny.ellm")), (e: unknown) =>
      e instanceof FormatError && e.code === "E_ADAPTER_BASE" &&
      /^adapter tuned\.ella was made for a model with checksum 0x[0-9a-f]{8} \(dim 16.*\); tiny\.ellm has checksum 0x[0-9a-f]{8} \(dim 16/.test(e.message));
    // Without a base only the file itself is checked.
    assert.equal(readAdapter(bytes, "tuned.ella").matrices.length, 7);
  });

  test("the module refuses an adapter before a model is loaded", () => {
    const x = instantiate("mvp");
    const bytes = read("tiny-f32.ella");
    const p = x.alloc(bytes.length);
    new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
    assert.equal(MODULE_ERRORS[x.adapterCheck(p, bytes.length)][0], "E_NO_MODEL");
  });

  test("the TypeScript reader refuses an empty file, and without a base an absurd base shape", () => {
    assert.throws(() => readAdapter(new Uint8Array(0), "empty.ella"), (e: unknown) => e instanceof FormatError && e.code === "E_FILE_EMPTY");
    const b = read("tiny-f32.ella");
    new DataView(b.buffer).setUint32(20, 1e9, true); // dim
    new DataView(b.buffer).setUint32(ADAPTER_CHECKSUM_OFFSET, crc32Skipping(b, ADAPTER_CHECKSUM_OFFSET), true);
    assert.throws(() => readAdapter(b, "dim.ella"), (e: unknown) => e instanceof FormatError && e.code === "E_CONFIG" && /dim 1000000000/.test(e.message));
    // With a base the same file is simply for another model.
    assert.throws(() => readAdapter(b, "dim.ella", modelBase(modelBytes, index.base)), (e: unknown) => e instanceof FormatError && e.code === "E_ADAPTER_BASE");
  });
});
