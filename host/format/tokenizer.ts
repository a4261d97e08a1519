// Checks a llama2.c tokenizer.bin against a vocabulary size, naming the file on failure:
// u32 max_token_length, then per token f32 score, i32 length, bytes.
import { FormatError } from "./errors.js";

export function checkTokenizer(bytes: Uint8Array, vocabSize: number, name: string): void {
  const fail = (msg: string): never => { throw new FormatError("E_TOKENIZER", `tokenizer ${name}: ${msg}`); };
  if (bytes.length < 4) fail(`${bytes.length} bytes is too short`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const maxLen = v.getUint32(0, true);
  if (maxLen === 0 || maxLen > 1024) fail(`max token length ${maxLen} is absurd (not a tokenizer file?)`);
  let off = 4;
  for (let i = 0; i < vocabSize; i++) {
    if (off + 8 > bytes.length) fail(`truncated at token ${i} of ${vocabSize}`);
    const len = v.getInt32(off + 4, true);
    if (len < 0 || len > maxLen) fail(`token ${i} has length ${len} (max ${maxLen})`);
    off += 8 + len;
    if (off > bytes.length) fail(`truncated at token ${i} of ${vocabSize}`);
  }
}
