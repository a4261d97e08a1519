// Drives the module through its flat ABI under wasm3. Every wasm3 result is checked; every
// failure leaves through one path that writes a one-line message.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fw_internal.h"
#include "platform.h"

#define DEFAULT_STACK (32 * 1024)

int fw_failf(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
  return -1;
}

// Calls fn(argv...) and fetches its i32 result (ret may be NULL for void functions).
// Reports traps with any detail a host function left, then enforces the memory cap.
int fw_call(fw *f, IM3Function fn, const char *what, int32_t *ret, uint32_t argc,
            const void **argv, char *err, size_t n) {
  f->trap[0] = 0;
  plat_call_begin(what, f->call_timeout_s);
  M3Result r = m3_Call(fn, argc, argv);
  plat_call_end();
  if (r) {
    return fw_failf(err, n, "%s: %s%s%s", what, r, f->trap[0] ? ": " : "", f->trap);
  }
  if (ret) {
    const void *rp[1] = { ret };
    if ((r = m3_GetResults(fn, 1, rp))) return fw_failf(err, n, "%s: %s", what, r);
  }
  uint32_t mem = m3_GetMemorySize(f->rt);
  if (f->max_memory && mem > f->max_memory)
    return fw_failf(err, n, "%s: linear memory grew to %u bytes, past --max-memory %u", what, mem, f->max_memory);
  return 0;
}

// Same, and a negative result is a module error code.
int fw_call_checked(fw *f, IM3Function fn, const char *what, int32_t *ret, uint32_t argc,
                    const void **argv, char *err, size_t n) {
  if (fw_call(f, fn, what, ret, argc, argv, err, n)) return -1;
  if (*ret < 0) return fw_failf(err, n, "%s: %s", what, fw_module_error(*ret));
  return 0;
}

int fw_find(fw *f, IM3Function *fn, const char *name, int required, char *err, size_t n) {
  M3Result r = m3_FindFunction(fn, f->rt, name);
  if (r) {
    *fn = NULL;
    if (required) return fw_failf(err, n, "module: export %s: %s", name, r);
  }
  return 0;
}

// Allocates len bytes in linear memory and copies src there; returns the guest pointer.
static int copy_in(fw *f, const uint8_t *src, uint32_t len, uint32_t *out, const char *what, char *err, size_t n) {
  int32_t bytes = len ? (int32_t)len : 1, p;
  const void *a[] = { &bytes };
  if (fw_call(f, f->alloc, what, &p, 1, a, err, n)) return -1;
  uint32_t size = 0;
  uint8_t *mem = m3_GetMemory(f->rt, &size, 0);
  if (!mem || p <= 0 || (uint64_t)(uint32_t)p + len > size) return fw_failf(err, n, "%s: linear memory could not grow", what);
  memcpy(mem + (uint32_t)p, src, len);
  *out = (uint32_t)p;
  return 0;
}

int fw_open(fw **out, const fw_config *c, char *err, size_t n) {
  *out = NULL;
  IM3Module mod = NULL;
  fw *f = calloc(1, sizeof *f);
  if (!f) return fw_failf(err, n, "out of memory");
  f->model = c->model;
  f->model_len = c->model_len;
  f->max_memory = c->max_memory;
  f->call_timeout_s = c->call_timeout_s;
  f->host_weights = c->host_weights;
  M3Result r;
  if (c->module_len > UINT32_MAX || c->model_len > INT32_MAX) { fw_failf(err, n, "input too large"); goto fail; }
  if (fw_check_seal(c->module, c->module_len, err, n)) goto fail;
  if (!(f->env = m3_NewEnvironment())) { fw_failf(err, n, "wasm3: no memory for the environment"); goto fail; }
  if (!(f->rt = m3_NewRuntime(f->env, c->stack_bytes ? c->stack_bytes : DEFAULT_STACK, f))) {
    fw_failf(err, n, "wasm3: no memory for the runtime"); goto fail;
  }
  if ((r = m3_ParseModule(f->env, &mod, c->module, (uint32_t)c->module_len))) { fw_failf(err, n, "module: %s", r); goto fail; }
  if ((r = m3_LoadModule(f->rt, mod))) { fw_failf(err, n, "module: %s", r); goto fail; }
  IM3Module loaded = mod;
  mod = NULL; // owned by the runtime now
  if ((r = fw_link_imports(f, loaded))) { fw_failf(err, n, "module: linking imports: %s", r); goto fail; }
  if (c->compile_all && (r = m3_CompileModule(loaded))) { fw_failf(err, n, "module: %s", r); goto fail; }
  if (fw_find(f, &f->alloc, "alloc", 1, err, n) || fw_find(f, &f->model_load, "modelLoad", 1, err, n) ||
      fw_find(f, &f->model_load_ext, "modelLoadExternal", 0, err, n) ||
      fw_find(f, &f->tokenizer_load, "tokenizerLoad", 1, err, n) || fw_find(f, &f->model_init, "modelInit", 1, err, n) ||
      fw_find(f, &f->model_field, "modelField", 1, err, n) || fw_find(f, &f->sampler_init, "samplerInit", 1, err, n) ||
      fw_find(f, &f->encode, "encode", 1, err, n) || fw_find(f, &f->set_memory_limit, "setMemoryLimit", 1, err, n) ||
      fw_find(f, &f->gen_start, "genStart", 1, err, n) || fw_find(f, &f->gen_next, "genNext", 1, err, n) ||
      fw_find(f, &f->gen_cancel, "genCancel", 1, err, n) || fw_find(f, &f->gen_output, "genOutput", 1, err, n) ||
      fw_find(f, &f->gen_output_len, "genOutputLen", 1, err, n) || fw_find(f, &f->gen_position, "genPosition", 1, err, n) ||
      fw_find(f, &f->gen_constrain, "genConstrain", 0, err, n) || fw_find(f, &f->grammar_load, "grammarLoad", 0, err, n) ||
      fw_find(f, &f->grammar_load_ext, "grammarLoadExternal", 0, err, n) ||
      fw_find(f, &f->grammar_set_input, "grammarSetInput", 0, err, n) || fw_find(f, &f->adapter_load, "adapterLoad", 0, err, n) ||
      fw_find(f, &f->adapter_load_ext, "adapterLoadExternal", 0, err, n) ||
      fw_find(f, &f->adapter_hold, "adapterHold", 0, err, n) || fw_find(f, &f->adapter_hold_ext, "adapterHoldExternal", 0, err, n) ||
      fw_find(f, &f->native_kernels, "nativeKernels", 0, err, n))
    goto fail;

  int32_t res, limit = (int32_t)c->max_memory, len = (int32_t)c->model_len;
  const void *a1[] = { &limit };
  if (fw_call(f, f->set_memory_limit, "memory limit", NULL, 1, a1, err, n)) goto fail;
  const char *foreign = fw_llama2c_kind(c->model, c->model_len);
  if (foreign) {
    fw_failf(err, n, "model: %s, not an edgellm model file: convert it first with `edgellm convert MODEL.bin -z TOKENIZER.bin -o MODEL.ellm` (add --quant int8 or ternary to shrink it)", foreign);
    goto fail;
  }
  if (c->host_weights) {
    if (!f->model_load_ext) { fw_failf(err, n, "module: no modelLoadExternal export (rebuild the module)"); goto fail; }
    const void *a[] = { &len };
    if (fw_call_checked(f, f->model_load_ext, "model", &res, 1, a, err, n)) goto fail;
  } else {
    uint32_t p;
    if (copy_in(f, c->model, (uint32_t)c->model_len, &p, "model", err, n)) goto fail;
    const void *a[] = { &p, &len };
    if (fw_call_checked(f, f->model_load, "model", &res, 2, a, err, n)) goto fail;
  }
  if (c->tokenizer) {
    uint32_t p;
    int32_t tl = (int32_t)c->tok_len;
    if (c->tok_len > INT32_MAX) { fw_failf(err, n, "tokenizer: too large"); goto fail; }
    if (copy_in(f, c->tokenizer, (uint32_t)c->tok_len, &p, "tokenizer", err, n)) goto fail;
    const void *a[] = { &p, &tl };
    if (fw_call_checked(f, f->tokenizer_load, "tokenizer", &res, 2, a, err, n)) goto fail;
  }
  int32_t ctx = c->ctx, kv = c->kv_int8 ? 1 : 0;
  const void *a2[] = { &ctx, &kv };
  if (fw_call_checked(f, f->model_init, "run state", &res, 2, a2, err, n)) goto fail;
  for (int i = 0; i < c->n_lora; i++) {
    uint32_t p;
    int32_t al = (int32_t)c->lora[i].len;
    float scale = c->lora[i].scale;
    if (c->lora[i].len > INT32_MAX) { fw_failf(err, n, "adapter: too large"); goto fail; }
    if (c->lora_external) {
      if (!f->adapter_load_ext) { fw_failf(err, n, "module: no adapterLoadExternal export (rebuild the module)"); goto fail; }
      int32_t index = f->n_adapters;
      f->adapters[index].bytes = c->lora[i].bytes;
      f->adapters[index].len = c->lora[i].len;
      f->n_adapters++;
      const void *a[] = { &index, &al, &scale };
      if (fw_call_checked(f, f->adapter_load_ext, "adapter", &res, 3, a, err, n)) goto fail;
      continue;
    }
    if (!f->adapter_load) { fw_failf(err, n, "module: no adapterLoad export (rebuild the module)"); goto fail; }
    if (copy_in(f, c->lora[i].bytes, (uint32_t)c->lora[i].len, &p, "adapter", err, n)) goto fail;
    const void *a[] = { &p, &al, &scale };
    if (fw_call_checked(f, f->adapter_load, "adapter", &res, 3, a, err, n)) goto fail;
  }
  // Native kernels come with host weights: the module then also runs int8-cache attention
  // through env.kvScores / env.kvMix (older modules without the export keep their own).
  if (c->host_weights && f->native_kernels) {
    int32_t on = 1;
    const void *a[] = { &on };
    if (fw_call_checked(f, f->native_kernels, "native kernels", &res, 1, a, err, n)) goto fail;
  }
  *out = f;
  return 0;
fail:
  if (mod) m3_FreeModule(mod);
  fw_close(f);
  return -1;
}

int32_t fw_field(fw *f, int32_t field) {
  int32_t v = -1;
  const void *a[] = { &field };
  char err[8];
  if (fw_call(f, f->model_field, "field", &v, 1, a, err, sizeof err)) return -1;
  return v;
}

// Drives the module's generation (gen/generation.ts) a position at a time: genStart over the
// prompt's tokens, then genNext until it is not GEN_MORE, writing each position's bytes.
enum { GEN_MORE = 0, GEN_CANCELLED = 3 };

static int gen_run(fw *f, int32_t tokens, int32_t count, int32_t steps, const fw_gen *g, int32_t *positions,
                   int *stopped, char *err, size_t n) {
  int32_t res, status = GEN_MORE;
  const void *sa[] = { &tokens, &count, &steps };
  if (fw_call_checked(f, f->gen_start, "generation", &res, 3, sa, err, n)) return -1;
  while (status == GEN_MORE) {
    if (g && g->should_stop && g->should_stop(g->stop_ctx) && fw_call(f, f->gen_cancel, "generation", NULL, 0, NULL, err, n)) return -1;
    double now = 0; // no deadline: a local run ends by its steps, BOS, or should_stop
    const void *na[] = { &now };
    if (fw_call_checked(f, f->gen_next, "step", &status, 1, na, err, n)) return -1;
    if (g) {
      int32_t at, len;
      if (fw_call(f, f->gen_output, "generation", &at, 0, NULL, err, n) ||
          fw_call(f, f->gen_output_len, "generation", &len, 0, NULL, err, n)) return -1;
      uint32_t size = 0;
      const uint8_t *mem = m3_GetMemory(f->rt, &size, 0);
      if (at <= 0 || len < 0 || (uint64_t)(uint32_t)at + (uint32_t)len > size) return fw_failf(err, n, "generation: bad output");
      plat_write(mem + at, (size_t)len);
    }
  }
  *stopped = status == GEN_CANCELLED;
  return fw_call(f, f->gen_position, "generation", positions, 0, NULL, err, n);
}

int fw_grammar_hold(fw *f, const uint8_t *bytes, size_t len, int external, char *err, size_t n) {
  if (!f->grammar_load) return fw_failf(err, n, "module: no constrained decoding (rebuild the module)");
  if (len > INT32_MAX) return fw_failf(err, n, "grammar: too large");
  int32_t gl = (int32_t)len, res;
  if (external) {
    if (!f->grammar_load_ext) return fw_failf(err, n, "module: no grammarLoadExternal export (rebuild the module)");
    f->grammar = bytes;
    f->grammar_len = len;
    const void *a[] = { &gl };
    if (fw_call_checked(f, f->grammar_load_ext, "grammar", &res, 1, a, err, n)) return -1;
  } else {
    uint32_t p;
    if (copy_in(f, bytes, (uint32_t)len, &p, "grammar", err, n)) return -1;
    const void *a[] = { &p, &gl };
    if (fw_call_checked(f, f->grammar_load, "grammar", &res, 2, a, err, n)) return -1;
  }
  f->grammar_loaded = 1;
  return 0;
}

// Loads the compiled grammar once, gives it the prompt (still at text in the scratch) for its
// copy terminal, and constrains the next generation by it.
static int constrain(fw *f, const fw_gen *g, uint32_t text, int32_t len, char *err, size_t n) {
  if (!f->gen_constrain || !f->grammar_load || !f->grammar_set_input) return fw_failf(err, n, "module: no constrained decoding (rebuild the module)");
  if (g->grammar_len > INT32_MAX) return fw_failf(err, n, "grammar: too large");
  if (!f->grammar_loaded && fw_grammar_hold(f, g->grammar, g->grammar_len, f->host_weights, err, n)) return -1;
  int32_t res, on = 1;
  const void *ia[] = { &text, &len };
  if (fw_call_checked(f, f->grammar_set_input, "grammar input", &res, 2, ia, err, n)) return -1;
  const void *ca[] = { &on };
  return fw_call_checked(f, f->gen_constrain, "grammar", &res, 1, ca, err, n);
}

int fw_generate(fw *f, const fw_gen *g, fw_stats *st, char *err, size_t n) {
  memset(st, 0, sizeof *st);
  uint32_t lo = (uint32_t)g->seed, hi = (uint32_t)(g->seed >> 32);
  int32_t res;
  const void *sa[] = { &g->temperature, &g->topp, &lo, &hi };
  if (fw_call_checked(f, f->sampler_init, "sampler", &res, 4, sa, err, n)) return -1;

  if (g->prompt_len > 1 << 20) return fw_failf(err, n, "prompt: too long");
  int32_t len = (int32_t)g->prompt_len, cap = len + 3, bos = 1, eos = 0, outp, count;
  // Prompt bytes, then cap i32 tokens, in one scratch region grown geometrically and reused:
  // a peer serving many tasks keeps its linear memory flat. The tokens stay there while the
  // generation reads them.
  uint32_t text_bytes = ((uint32_t)len + 15u) & ~15u, need = text_bytes + 4u * (uint32_t)cap;
  if (need > f->scratch_cap) {
    int32_t bytes = (int32_t)(need > 2 * f->scratch_cap ? need : 2 * f->scratch_cap);
    if (bytes < 4096) bytes = 4096;
    const void *aa[] = { &bytes };
    int32_t p;
    if (fw_call(f, f->alloc, "prompt", &p, 1, aa, err, n)) return -1;
    f->scratch = (uint32_t)p; f->scratch_cap = (uint32_t)bytes;
  }
  uint32_t size = 0;
  uint8_t *wmem = m3_GetMemory(f->rt, &size, 0);
  if (!wmem || f->scratch == 0 || (uint64_t)f->scratch + f->scratch_cap > size)
    return fw_failf(err, n, "prompt: linear memory could not grow");
  memcpy(wmem + f->scratch, g->prompt, (size_t)len);
  uint32_t text = f->scratch;
  outp = (int32_t)(f->scratch + text_bytes);
  const void *ea[] = { &text, &len, &bos, &eos, &outp, &cap };
  if (fw_call_checked(f, f->encode, "encode", &count, 6, ea, err, n)) return -1;
  if (count < 1 || count > cap) return fw_failf(err, n, "encode: bad result");
  if (g->grammar && constrain(f, g, text, len, err, n)) return -1;

  uint64_t t0 = plat_now_us();
  int32_t positions = 0;
  int stopped = 0;
  if (gen_run(f, outp, count, g->steps, g, &positions, &stopped, err, n)) return -1;
  st->elapsed_us = plat_now_us() - t0;
  st->stopped = stopped;
  st->tokens = positions;
  st->prompt_tokens = count;
  st->memory_bytes = m3_GetMemorySize(f->rt);
  st->heap_bytes = f->scratch + f->scratch_cap; // the last allocation of the run
  return 0;
}

int fw_speed(fw *f, int32_t positions, double *tok_per_sec, char *err, size_t n) {
  *tok_per_sec = 0;
  float temp = 0, topp = 1;
  uint32_t lo = 1, hi = 0;
  int32_t res, ctx = fw_field(f, FW_FIELD_CTX);
  const void *sa[] = { &temp, &topp, &lo, &hi };
  if (fw_call_checked(f, f->sampler_init, "speed probe", &res, 4, sa, err, n)) return -1;
  if (positions > ctx) positions = ctx;
  if (positions < 1) return 0;
  // BOS as the prompt, in the prompt scratch (made here when no run came first).
  if (f->scratch_cap < 4) {
    int32_t bytes = 16, p;
    const void *aa[] = { &bytes };
    if (fw_call(f, f->alloc, "speed probe", &p, 1, aa, err, n)) return -1;
    if (p <= 0) return fw_failf(err, n, "speed probe: linear memory could not grow");
    f->scratch = (uint32_t)p; f->scratch_cap = (uint32_t)bytes;
  }
  uint32_t size = 0;
  uint8_t *mem = m3_GetMemory(f->rt, &size, 0);
  if (!mem || (uint64_t)f->scratch + 4 > size) return fw_failf(err, n, "speed probe: bad scratch");
  int32_t bos = 1, ran = 0, stopped = 0;
  memcpy(mem + f->scratch, &bos, 4);
  uint64_t t0 = plat_now_us();
  if (gen_run(f, (int32_t)f->scratch, 1, positions, NULL, &ran, &stopped, err, n)) return -1;
  uint64_t us = plat_now_us() - t0;
  *tok_per_sec = us ? ran / (us / 1e6) : 0;
  return 0;
}

// Linear memory has grown past the cap (a call failed for that reason).
static int past_cap(fw *f) { return f->max_memory && m3_GetMemorySize(f->rt) > f->max_memory; }

int fw_adapter_hold(fw *f, const uint8_t *bytes, size_t len, int external, int32_t *result, char *err, size_t n) {
  enum { E_OUT_OF_MEMORY = -14 };
  *result = 0;
  if (len > INT32_MAX) return fw_failf(err, n, "adapter: too large");
  int32_t al = (int32_t)len;
  if (external) {
    if (!f->adapter_hold_ext) return fw_failf(err, n, "module: no adapterHoldExternal export (rebuild the module)");
    if (f->n_adapters == FW_MAX_ADAPTERS) return fw_failf(err, n, "adapter: at most %d host-held adapters", FW_MAX_ADAPTERS);
    int32_t index = f->n_adapters;
    f->adapters[index].bytes = bytes;
    f->adapters[index].len = len;
    f->n_adapters++;
    const void *a[] = { &index, &al };
    int rc = fw_call(f, f->adapter_hold_ext, "adapter", result, 2, a, err, n);
    if (rc && past_cap(f)) *result = E_OUT_OF_MEMORY, rc = 0;
    if (!rc && *result < 0) f->n_adapters--; // refused: no link refers to it
    return rc;
  }
  if (!f->adapter_hold) return fw_failf(err, n, "module: no adapterHold export (rebuild the module)");
  // Refused before copying when the bytes alone would take linear memory past the cap (the
  // module checks the rest: its links, f16 widened to f32).
  uint32_t top = fw_heap_top(f);
  uint64_t end = ((uint64_t)top + len + 64 + 0xffff) & ~(uint64_t)0xffff; // memory grows in 64 KiB pages
  if (f->max_memory && (!top || end > f->max_memory)) { *result = E_OUT_OF_MEMORY; return 0; }
  uint32_t p;
  const void *a[] = { &p, &al };
  if (copy_in(f, bytes, (uint32_t)len, &p, "adapter", err, n) || fw_call(f, f->adapter_hold, "adapter", result, 2, a, err, n)) {
    if (!past_cap(f)) return -1;
    *result = E_OUT_OF_MEMORY; // the module's own estimate let memory grow a page past the cap
  }
  return 0;
}

uint32_t fw_memory_bytes(fw *f) { return m3_GetMemorySize(f->rt); }

uint32_t fw_heap_top(fw *f) {
  int32_t zero = 0, p = 0;
  const void *a[] = { &zero };
  char err[8];
  if (fw_call(f, f->alloc, "heap top", &p, 1, a, err, sizeof err) || p <= 0) return 0;
  return (uint32_t)p;
}

void fw_close(fw *f) {
  if (!f) return;
  if (f->rt) m3_FreeRuntime(f->rt); // frees the loaded module too
  if (f->env) m3_FreeEnvironment(f->env);
  free(f);
}

void fw_set_examples(fw *f, const fw_example *examples, int32_t count) {
  f->examples = examples;
  f->n_examples = count;
}
