// llama2.c checkpoints given to the firmware: it names what the file is and how to convert it
// (edgellm run reads them; the firmware reads only edgellm files), in run and serve alike.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { existsSync, writeFileSync } from "node:fs";
import { skipUnless } from "../requirements.js";
import { CHECKPOINT, expectCleanError, fw, workDir } from "./firmware-helpers.js";

const skip = skipUnless(existsSync(CHECKPOINT), "../shared/models");
const convertHint = /edgellm convert MODEL\.bin -z TOKENIZER\.bin -o MODEL\.ellm/;

test("a llama2.c fp32 (v0) checkpoint: named, with the command that converts it", { skip }, () => {
  for (const extra of [[], ["--host-weights"]]) {
    const r = fw(["run", ...extra, CHECKPOINT, "-n", "4"]);
    assert.equal(expectCleanError(r, /model: a llama2\.c fp32 \(v0\) checkpoint, not an edgellm model file/), null);
    assert.match(r.stderr, convertHint);
  }
});

test("a llama2.c int8 (v2, \"ak42\") checkpoint: named too; other foreign files keep the format's error", () => {
  const v2 = new Uint8Array(4096);
  new DataView(v2.buffer).setUint32(0, 0x616b3432, true);
  const path = join(workDir, "v2.bin");
  writeFileSync(path, v2);
  const r = fw(["run", path, "-n", "4"]);
  assert.equal(expectCleanError(r, /model: a llama2\.c int8 \(v2\) checkpoint, not an edgellm model file/), null);
  const junk = join(workDir, "junk.bin");
  writeFileSync(junk, new Uint8Array(4096).fill(7));
  assert.equal(expectCleanError(fw(["run", junk, "-n", "4"]), /model: not an edgellm model file \(bad magic\)/), null);
});
