// modelField's numbers, named once per language (assembly/model/fields.ts, MODEL_FIELD,
// firmware FW_FIELD_*): the three lists agree, and the module answers each with the model's value.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Engine } from "../../host/engine/engine.js";
import { MODEL_FIELD } from "../../host/engine/exports.js";
import { readModel } from "../../host/format/reader.js";
import { ROOT } from "./helpers.js";

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

test("the module's, TypeScript's and the firmware's field lists agree", () => {
  const as = readFileSync(join(ROOT, "assembly", "model", "fields.ts"), "utf8");
  const c = readFileSync(join(ROOT, "firmware", "core", "fw.h"), "utf8");
  for (const [name, id] of Object.entries(MODEL_FIELD)) {
    const key = snake(name);
    assert.match(as, new RegExp(`export const MF_${key}: i32 = ${id};`), `module ${key}`);
    assert.match(c, new RegExp(`FW_FIELD_${key} = ${id}\\b`), `firmware ${key}`);
  }
  assert.match(as, new RegExp(`MF_COUNT: i32 = ${Object.keys(MODEL_FIELD).length};`));
});

test("each field reads the model's value; an unknown field is an argument error", () => {
  const bytes = new Uint8Array(readFileSync(join(ROOT, "models", "default.ellm")));
  const m = readModel(bytes);
  const e = Engine.load(bytes, undefined, { engine: "mvp", ctx: 32 });
  const f = (k: keyof typeof MODEL_FIELD) => e.x.modelField(MODEL_FIELD[k]);
  assert.deepEqual([f("dim"), f("hiddenDim"), f("nLayers"), f("nHeads"), f("nKvHeads"), f("vocabSize"), f("seqLen")],
    [m.config.dim, m.config.hiddenDim, m.config.nLayers, m.config.nHeads, m.config.nKvHeads, m.config.vocabSize, m.config.seqLen]);
  assert.equal(f("sharedClassifier"), m.config.sharedClassifier ? 1 : 0);
  assert.equal(f("hasTokenizer"), m.tokenizer ? 1 : 0);
  assert.equal(f("ctx"), 32);
  assert.equal(e.x.modelField(Object.keys(MODEL_FIELD).length), -12);
});
