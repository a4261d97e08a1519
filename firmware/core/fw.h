// The wasm3 embedding: one module instance holding one model, driven through the module's
// flat ABI (docs/module-abi.md). Same code on POSIX and ESP32; platform.h does the rest.
#ifndef EDGELLM_FW_H
#define EDGELLM_FW_H
#include <stddef.h>
#include <stdint.h>

// The smallest wasm3 stack accepted: the fleet agent's deepest call needs about 4.8 KiB.
#define MIN_STACK 8192
#define MIN_STACK_TEXT "8192"

// Hosts compile the whole module at load; the device profile (and the ESP32) compile lazily.
#ifdef FW_LAZY_COMPILE
#define COMPILE_ALL 0
#else
#define COMPILE_ALL 1
#endif

typedef struct fw fw;

typedef struct {
  const uint8_t *module; size_t module_len;   // MVP wasm bytes (must outlive the fw)
  const uint8_t *model; size_t model_len;     // edgellm model file (must outlive the fw)
  const uint8_t *tokenizer; size_t tok_len;   // optional llama2.c tokenizer.bin
  int32_t ctx;            // KV positions (0: the model's seq_len)
  int kv_int8;            // int8 KV cache
  int host_weights;       // weights stay in host memory; matvecs run as native host functions
  uint32_t max_memory;    // cap on linear memory in bytes (0: none)
  uint32_t stack_bytes;   // wasm3 value stack (0: default)
  uint32_t call_timeout_s; // longest one call into the module may run before the host stops the
                           // process (plat_call_begin; 0: the platform's default)
  // Adapters (docs/adapter-format.md) applied after load, copied into linear memory: up to 8.
  struct { const uint8_t *bytes; size_t len; float scale; } lora[8];
  int n_lora;
  int lora_external;      // adapters stay in host memory (flash) like --host-weights, applied by the
                          // native env.loraApply; else copied into linear memory (needed to train them)
  int compile_all;        // compile every function at load, so a broken module fails here rather than
                          // mid-task (wasm3 compiles lazily; eager costs code pages for unused functions)
} fw_config;

typedef struct {
  const char *prompt; size_t prompt_len;
  int32_t steps;          // positions incl. BOS and prompt (<= 0: ctx)
  // Optional: a compiled grammar (tools/compile-grammar.ts) that constrains the generated text;
  // its `copy` copies words of the prompt (docs/grammar.md).
  const uint8_t *grammar; size_t grammar_len;
  float temperature, topp;
  uint64_t seed;
  // Optional: asked before every position; nonzero ends the generation early (cancel,
  // deadline). fw_stats.stopped then says so.
  int (*should_stop)(void *ctx);
  void *stop_ctx;
} fw_gen;

typedef struct {
  int32_t tokens, prompt_tokens;
  uint64_t elapsed_us;    // first forward to last
  uint32_t memory_bytes;  // linear memory at the end (never shrinks, so the peak)
  uint32_t heap_bytes;    // top of the module's bump heap: linear memory actually in use
  int stopped;            // should_stop ended the generation
} fw_stats;

// Each returns 0 on success, else -1 with a one-line message in err.
int fw_open(fw **out, const fw_config *c, char *err, size_t errlen);
int fw_generate(fw *f, const fw_gen *g, fw_stats *st, char *err, size_t errlen);
// modelField numbers (assembly/model/fields.ts), append-only.
enum {
  FW_FIELD_DIM = 0, FW_FIELD_HIDDEN_DIM = 1, FW_FIELD_N_LAYERS = 2, FW_FIELD_N_HEADS = 3, FW_FIELD_N_KV_HEADS = 4,
  FW_FIELD_VOCAB_SIZE = 5, FW_FIELD_SEQ_LEN = 6, FW_FIELD_SHARED_CLASSIFIER = 7, FW_FIELD_HAS_TOKENIZER = 8,
  FW_FIELD_CTX = 9,
};
int32_t fw_field(fw *f, int32_t field);
// Greedy positions from BOS (no prompt, nothing written; the generation's small state is
// allocated once): measured tok/s for a fleet peer's status message.
int fw_speed(fw *f, int32_t positions, double *tok_per_sec, char *err, size_t errlen);
uint32_t fw_memory_bytes(fw *f);   // linear memory now (grows in 64 KiB pages, never shrinks)
// The top of the module's bump heap, read by allocating an empty block (16 bytes of heap each
// call): two reads around a workload show what it allocated. 0 on failure.
uint32_t fw_heap_top(fw *f);
void fw_close(fw *f);

// On-device fine-tuning (finetune.c): MeZO on the adapter loaded last (fw_config.lora), which
// must be stored as f32; it is trained in place in linear memory.
typedef struct {
  const char *sentence; uint32_t slen;   // SENTENCE and LABEL of one data line (UTF-8)
  const char *label; uint32_t llen;
  uint32_t line;                         // 1-based, for messages
} fw_example;

typedef struct {
  const fw_example *examples; int32_t count;
  uint32_t first_step, steps, batch;     // steps first_step … steps (1-based; a resumed run starts later)
  float lr, eps;
  uint64_t seed;
  // After each step: f32 [loss+, loss−, projected gradient]; nonzero stops the run there.
  int (*on_step)(void *ctx, uint32_t step, const float r[3]);
  void *ctx;
} fw_mezo;

int fw_mezo_run(fw *f, const fw_mezo *m, char *err, size_t errlen);
// SENTENCE<TAB>LABEL lines of d[n] (\n, \r\n or \r; blank lines skipped; trimmed) into a
// malloc'd array pointing into d; -1 with err naming the line when one is malformed.
int fw_parse_examples(const char *d, size_t n, fw_example **out, int32_t *count, char *err, size_t errlen);
// The examples env.exRead serves (a federated trainer's, agent_trainer): kept by the caller.
void fw_set_examples(fw *f, const fw_example *examples, int32_t count);
// The trained adapter file (len bytes, the size it was loaded with), its checksum written anew;
// *out points into linear memory until the next call into the module.
int fw_adapter_image(fw *f, uint32_t len, const uint8_t **out, char *err, size_t errlen);

// Adapters a fleet peer holds (assembly/model/lora.ts adapterHold): checked against the model
// and their links built once, attached per task by the module's agent. Host-held adapters
// (external: read from host memory / flash like --host-weights) plus --lora ones: at most this many.
#define FW_MAX_ADAPTERS 40
// Holds the adapter file bytes[len] (which must outlive the fw): copied into linear memory, or
// with `external` left in host memory. 0 with *result = the module's answer: the held index
// (≥ 0) or a module error code (E_ADAPTER_BASE -19: made for another model; E_OUT_OF_MEMORY
// -14: it does not fit under max_memory, checked before copying); -1 with err on a trap.
int fw_adapter_hold(fw *f, const uint8_t *bytes, size_t len, int external, int32_t *result, char *err, size_t errlen);

// Loads a compiled grammar (docs/grammar.md) as the module's one grammar: copied into linear
// memory, or with `external` left in host memory (flash), its tables read through env.gRead
// (bytes must then outlive the fw). fw_generate with a grammar loads its own this way once.
int fw_grammar_hold(fw *f, const uint8_t *bytes, size_t len, int external, char *err, size_t errlen);

// Formats an error message into err[n] and returns -1: the one way core functions report.
int fw_failf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// Module error code (negative) → message; the table mirrors assembly/core/errors.ts.
const char *fw_module_error(int32_t code);
#endif
