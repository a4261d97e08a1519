// Messages for the module's error codes (assembly/core/errors.ts, host/engine/errors.ts).
#include "fw.h"

static const char *const k_msgs[] = {
  "ok",
  "file is shorter than the header",
  "not an edgellm model file (bad magic)",
  "unsupported format version or flags",
  "file size does not match its header (truncated)",
  "checksum mismatch: the file is corrupted",
  "absurd or inconsistent model dimensions",
  "a tensor is out of bounds, of the wrong shape, or holds invalid values (NaN, Inf, bad codes)",
  "a required tensor is missing",
  "unknown quantization type",
  "tokenizer is malformed or truncated",
  "no model loaded",
  "argument out of range",
  "no tokenizer: pass -z or use a model file that carries one",
  "not enough linear memory for the run state",
  "fleet or peer name is not 1-64 characters of A-Z a-z 0-9 _ -",
  "the agent is not initialised (agentInit)",
  "the agent refused the message",
  "another process is online with this peer id",
  "the adapter was made for another base model",
  "not a compiled grammar, or a malformed one",
  "no grammar loaded",
  "the grammar does not allow that token",
};

// Codes from -40 on (-23..-39: other work's).
static const char *const k_msgs40[] = {
  "the grammar match holds more than 256 positions at once (a sentence with too many words for the grammar's copies)",
  "this module was built without the federated trainer (build/edgellm-fed.wasm has it)",
};

const char *fw_module_error(int32_t code) {
  int32_t i = -code;
  if (i >= 40 && i - 40 < (int32_t)(sizeof k_msgs40 / sizeof k_msgs40[0])) return k_msgs40[i - 40];
  if (i < 0 || i >= (int32_t)(sizeof k_msgs / sizeof k_msgs[0])) return "unknown module error";
  return k_msgs[i];
}
