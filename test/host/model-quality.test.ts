// Perplexity of the committed models on the TinyStories sample, against the teacher's measured
// in the same run: the int4 student meets issue #5's 1.15× target; the ternary default holds
// the ≤ 1.8× it has reached, and the mixed student (ternary FFN, int4 attention) of the same size
// beats it (docs/models.md), so a change that makes any of them worse fails here.
import { skipUnless } from "../requirements.js";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { corpusNll, documents } from "../../host/engine/perplexity.js";
import { loadModelFile } from "../../host/format/load.js";
import { haveShared, ROOT, SAMPLE_TEXT, TEACHER, TOKENIZER } from "./helpers.js";

function perplexity(path: string, tokenizer?: string): number {
  const model = loadModelFile(path, tokenizer ? { bytes: new Uint8Array(readFileSync(tokenizer)), path: tokenizer } : undefined);
  const e = Engine.load(model.bytes, undefined, { ctx: 0 });
  return corpusNll(e, documents(readFileSync(SAMPLE_TEXT, "utf8")).map((doc) => e.encode(doc, true, false))).perplexity;
}

describe("committed models against the teacher (TinyStories sample)", { skip: skipUnless(haveShared, "../shared/models") }, () => {
  const teacher = haveShared ? perplexity(TEACHER, TOKENIZER) : NaN;

  test("the int4 student is within 1.15× of the teacher", () => {
    const ppl = perplexity(join(ROOT, "models", "q4.ellm"));
    assert.ok(ppl <= 1.15 * teacher, `int4 student ${ppl.toFixed(4)}, teacher ${teacher.toFixed(4)}: ${(ppl / teacher).toFixed(3)}×`);
  });

  const ternary = haveShared ? perplexity(join(ROOT, "models", "default.ellm")) : NaN;
  test("the ternary default is within 1.8× of the teacher", () => {
    assert.ok(ternary <= 1.8 * teacher, `default ${ternary.toFixed(4)}, teacher ${teacher.toFixed(4)}: ${(ternary / teacher).toFixed(3)}×`);
  });

  test("the mixed student is within 1.8× of the teacher and better than the ternary default", () => {
    const ppl = perplexity(join(ROOT, "models", "mixed.ellm"));
    assert.ok(ppl <= 1.8 * teacher, `mixed ${ppl.toFixed(4)}, teacher ${teacher.toFixed(4)}: ${(ppl / teacher).toFixed(3)}×`);
    assert.ok(ppl < ternary, `mixed ${ppl.toFixed(4)} against the ternary default's ${ternary.toFixed(4)}`);
  });
});
