import { CodedError } from "../coded-error.js";

// Module error codes (assembly/core/errors.ts) as messages; append-only.
export const MODULE_ERRORS: Record<number, [string, string]> = {
  [-1]: ["E_TOO_SHORT", "file is shorter than the header"],
  [-2]: ["E_MAGIC", "not an edgellm model file (bad magic)"],
  [-3]: ["E_VERSION", "unsupported format version or flags"],
  [-4]: ["E_TRUNCATED", "file size does not match its header (truncated)"],
  [-5]: ["E_CHECKSUM", "checksum mismatch: the file is corrupted"],
  [-6]: ["E_CONFIG", "absurd or inconsistent model dimensions"],
  [-7]: ["E_TENSOR", "a tensor is out of bounds, of the wrong shape, or holds invalid values (NaN, Inf, bad codes)"],
  [-8]: ["E_MISSING_TENSOR", "a required tensor is missing"],
  [-9]: ["E_QTYPE", "unknown quantization type"],
  [-10]: ["E_TOKENIZER", "tokenizer is malformed or truncated"],
  [-11]: ["E_NO_MODEL", "no model loaded"],
  [-12]: ["E_ARGUMENT", "argument out of range"],
  [-13]: ["E_NO_TOKENIZER", "no tokenizer: pass -z or use a model file that carries one"],
  [-14]: ["E_OUT_OF_MEMORY", "the run state (KV cache) does not fit in linear memory: use a smaller --ctx or --kv-int8"],
  [-15]: ["E_NAME", "fleet or peer name must be 1-64 characters of A-Z a-z 0-9 _ -"],
  [-16]: ["E_NO_AGENT", "the fleet agent is not initialised (agentInit)"],
  [-17]: ["E_REJECTED", "message rejected"],
  [-18]: ["E_DUPLICATE_ID", "another process is online with this peer id"],
  [-19]: ["E_ADAPTER_BASE", "the adapter was made for another base model"],
  [-20]: ["E_GRAMMAR", "not a compiled grammar, or a malformed one (magic, version, size or tables)"],
  [-21]: ["E_NO_GRAMMAR", "no grammar loaded"],
  [-22]: ["E_GRAMMAR_REFUSED", "the grammar does not allow that token"],
  [-41]: ["E_NO_TRAINER", "this module was built without the federated trainer (build/edgellm-fed.wasm has it)"],
  [-40]: ["E_GRAMMAR_LIVE", "the grammar match holds more than 256 positions at once (a sentence with too many words for the grammar's copies)"],
};

export class EngineError extends CodedError {}

export function check(result: number, what: string): number {
  if (result >= 0) return result;
  const [code, msg] = MODULE_ERRORS[result] ?? ["E_UNKNOWN", `error ${result}`];
  throw new EngineError(code, `${what}: ${msg}`);
}
