// The module's BPE tokenizer with llama2.c's semantics, on tok512.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { documents } from "../../host/engine/perplexity.js";
import { loadModelFile } from "../../host/format/load.js";
import { haveShared, SAMPLE_TEXT, TEACHER, TOKENIZER } from "./helpers.js";

describe("tokenizer", { skip: skipUnless(haveShared, "../shared/models") }, () => {
  const engines = haveShared ? (["simd", "mvp"] as const).map((engine) => {
    const m = loadModelFile(TEACHER, { bytes: new Uint8Array(readFileSync(TOKENIZER)), path: TOKENIZER });
    return Engine.load(m.bytes, undefined, { engine, ctx: 16 });
  }) : [];
  const decodeAll = (e: Engine, tokens: Int32Array) => {
    const parts: number[] = [];
    for (let i = 1; i < tokens.length; i++) parts.push(...e.decode(tokens[i - 1], tokens[i]));
    return new TextDecoder().decode(new Uint8Array(parts));
  };

  test("long texts (heap merging) give exactly the reference loop's tokens", () => {
    const story = readFileSync(SAMPLE_TEXT, "utf8").replace(/\n/g, " ");
    for (const e of engines) {
      for (const len of [255, 256, 300, 2000, 20000]) {
        const text = story.slice(0, len) + " ☃ 😀 <0x41>";
        assert.deepEqual(Array.from(e.encode(text, true, true)), Array.from(e.encode(text, true, true, true)), `${len} characters`);
      }
    }
  });

  test("an empty prompt is just BOS", () => {
    for (const e of engines) assert.deepEqual(Array.from(e.encode("", true, false)), [1]);
  });

  test("BOS, merges, and EOS on request; decoding drops the dummy-prefix space after BOS", () => {
    for (const e of engines) {
      const text = "Once upon a time, there was a little girl named Lily.";
      const t = e.encode(text, true, true);
      assert.equal(t[0], 1);
      assert.equal(t[t.length - 1], 2);
      assert.ok(t.length < text.length / 2, `merges happened: ${t.length} tokens`);
      assert.equal(decodeAll(e, t.subarray(0, t.length - 1)), text);
    }
  });

  test("characters outside the vocabulary fall back to bytes (id = byte + 3)", () => {
    for (const e of engines) {
      const t = Array.from(e.encode("☃", false, false));
      const bytes = Array.from(new TextEncoder().encode("☃"));
      assert.deepEqual(t.slice(-bytes.length), bytes.map((b) => b + 3));
      // llama2.c prints nothing for a lone byte that is neither printable nor whitespace.
      assert.equal(e.decode(t[t.length - 2], t[t.length - 1]).length, 0);
    }
  });

  test("the two builds tokenize identically", () => {
    const text = "The cat sat on the mat. \"Hello!\" said Tom.\nThe end.";
    assert.deepEqual(Array.from(engines[0].encode(text, true, false)), Array.from(engines[1].encode(text, true, false)));
  });

  test("a long-lived engine encodes many prompts without growing linear memory", () => {
    const e = engines[0];
    e.encode("warm up the scratch buffer with a prompt of some length", true, false);
    const before = e.memoryBytes;
    for (let i = 0; i < 5000; i++) e.encode(`Once upon a time, prompt number ${i}`, true, false);
    assert.equal(e.memoryBytes, before);
  });

  test("decode rejects out-of-range tokens with a typed error", () => {
    assert.throws(() => engines[0].decode(1, 100000), (e: unknown) => (e as { code?: string }).code === "E_ARGUMENT");
  });
});

test("documents: one per non-empty line, for LF, CRLF and lone CR line ends alike", () => {
  const want = ["Once upon a time.", "The end.", "Another story."];
  for (const text of ["Once upon a time.\nThe end.\n\nAnother story.\n", "Once upon a time.\r\nThe end.\r\n\r\nAnother story.\r\n", "Once upon a time.\rThe end.\r\rAnother story.\r"]) {
    assert.deepEqual(documents(text), want, JSON.stringify(text));
  }
});
