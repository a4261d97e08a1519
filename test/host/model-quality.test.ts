// Perplexity of the committed models on the TinyStories sample, against the teacher's measured
// in the same run: the int4 student meets issue #5's 1.15× target; the ternary default holds
// the ≤ 2× it has reached (docs/models.md), so a change that makes either worse fails here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { documentNll, documents, perplexityOf, type NllSum } from "../../host/engine/perplexity.js";
import { loadModelFile } from "../../host/format/load.js";
import { haveShared, ROOT, SAMPLE_TEXT, TEACHER, TOKENIZER } from "./helpers.js";

function perplexity(path: string, tokenizer?: string): number {
  const model = loadModelFile(path, tokenizer ? { bytes: new Uint8Array(readFileSync(tokenizer)), path: tokenizer } : undefined);
  const e = Engine.load(model.bytes, undefined, { ctx: 0 });
  const sum: NllSum = { nll: 0, tokens: 0 };
  for (const doc of documents(readFileSync(SAMPLE_TEXT, "utf8"))) {
    const r = documentNll(e, e.encode(doc, true, false));
    sum.nll += r.nll;
    sum.tokens += r.tokens;
  }
  return perplexityOf(sum);
}

describe("committed models against the teacher (TinyStories sample)", { skip: !haveShared && "../shared models missing" }, () => {
  const teacher = haveShared ? perplexity(TEACHER, TOKENIZER) : NaN;

  test("the int4 student is within 1.15× of the teacher", () => {
    const ppl = perplexity(join(ROOT, "models", "q4.ellm"));
    assert.ok(ppl <= 1.15 * teacher, `int4 student ${ppl.toFixed(4)}, teacher ${teacher.toFixed(4)}: ${(ppl / teacher).toFixed(3)}×`);
  });

  test("the ternary default is within 2× of the teacher", () => {
    const ppl = perplexity(join(ROOT, "models", "default.ellm"));
    assert.ok(ppl <= 2 * teacher, `default ${ppl.toFixed(4)}, teacher ${teacher.toFixed(4)}: ${(ppl / teacher).toFixed(3)}×`);
  });
});
