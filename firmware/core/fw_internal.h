// State shared by fw.c (driving the module) and imports.c (host functions it calls).
#ifndef EDGELLM_FW_INTERNAL_H
#define EDGELLM_FW_INTERNAL_H
#include "fw.h"
#include "wasm3.h"

struct fw {
  IM3Environment env;
  IM3Runtime rt;
  IM3Function alloc, model_load, model_load_ext, tokenizer_load, model_init, model_field,
      sampler_init, encode, set_memory_limit, native_kernels,
      gen_start, gen_next, gen_cancel, gen_output, gen_output_len, gen_position, // gen/generation.ts
      gen_constrain, grammar_load, grammar_load_ext, grammar_set_input,        // constrained decoding
      adapter_load, adapter_load_ext, adapter_hold, adapter_hold_ext;
  const uint8_t *model; size_t model_len; // host-side model file (host functions read it)
  struct { const uint8_t *bytes; size_t len; } adapters[FW_MAX_ADAPTERS]; // host-held adapters (env.aRead, env.loraApply)
  int n_adapters;
  uint32_t max_memory;
  uint32_t call_timeout_s;
  uint32_t scratch, scratch_cap; // guest buffer for prompts, reused: the module's heap cannot free
  int grammar_loaded;
  int host_weights;     // weights (and so grammars) stay in host memory
  const uint8_t *grammar; size_t grammar_len; // a host-held grammar file (env.gRead)
  const fw_example *examples; int32_t n_examples; // a federated trainer's examples (env.exRead)
  char trap[192];       // detail left by a host function that refused a call
};

// Calls fn(argv...) and fetches its i32 result (ret may be NULL for void functions); a trap,
// with any detail a host function left, or linear memory past the cap is an error (-1, err).
int fw_call(fw *f, IM3Function fn, const char *what, int32_t *ret, uint32_t argc, const void **argv, char *err, size_t n);
// Same, and a negative result is a module error code.
int fw_call_checked(fw *f, IM3Function fn, const char *what, int32_t *ret, uint32_t argc, const void **argv, char *err, size_t n);
// Finds an export; a missing optional one (required 0) leaves *fn NULL.
int fw_find(fw *f, IM3Function *fn, const char *name, int required, char *err, size_t n);

// 0 when the module carries a matching edgellm.crc32 seal (seal.c), else -1 with err.
int fw_check_seal(const uint8_t *m, size_t n, char *err, size_t errlen);

// "a llama2.c … checkpoint" when the bytes are one (llama2c.c), else NULL.
const char *fw_llama2c_kind(const uint8_t *b, size_t n);

// Links every import the module declares from the one table in imports.c.
M3Result fw_link_imports(fw *f, IM3Module m);
#endif
