// edgellm-fw: the firmware core on Linux / Raspberry Pi. `edgellm-fw run` takes the flags of
// `edgellm run` (host/cli/run.ts) and prints the same stdout; stats go to stderr.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../core/fw.h"
#include "../core/platform.h"
#include "args.h"
#include "finetune_posix.h"
#include "serve_posix.h"

static const char k_usage[] =
  "usage: edgellm-fw run [model.ellm (default: models/default.ellm)] [-z tokenizer.bin] [-t temp] [-p topp] [-s seed] [-n steps]\n"
  "                      [-i prompt] [--ctx N] [--kv-int8] [--max-memory BYTES] [--host-weights]\n"
  "                      [--module edgellm.wasm] [--stack BYTES] [--call-timeout SECONDS] [--grammar FILE.egrm]\n"
  "                      [--lora ADAPTER[:SCALE]] (repeatable, up to 8)\n";

static int usage_error(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "edgellm-fw: error: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n%s", k_usage);
  return 2;
}

static int takes_value(const char *a) {
  static const char *const k[] = { "-z", "--tokenizer", "--module", "-i", "--prompt", "-t", "--temperature", "-p", "--topp",
                                   "-s", "--seed", "-n", "--steps", "--ctx", "--max-memory", "--stack", "--call-timeout", "--grammar", "--lora" };
  for (size_t i = 0; i < sizeof k / sizeof *k; i++) if (!strcmp(a, k[i])) return 1;
  return 0;
}

// build/edgellm.wasm of the checkout this binary was built in (firmware/build/edgellm-fw).
static void default_module(char *out, size_t n) {
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k <= 0) { snprintf(out, n, "build/edgellm.wasm"); return; }
  exe[k] = 0;
  char *slash = strrchr(exe, '/');
  if (slash) *slash = 0;
  snprintf(out, n, "%s/../../build/edgellm.wasm", exe);
}

// models/default.ellm of the same checkout: `edgellm run` without a model runs it too.
static void default_model(char *out, size_t n) {
  char mod[PATH_MAX + 32];
  default_module(mod, sizeof mod);
  size_t k = strlen(mod), tail = strlen("build/edgellm.wasm");
  if (k >= tail) mod[k - tail] = 0;
  snprintf(out, n, "%smodels/default.ellm", mod);
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "serve")) {
    char m[PATH_MAX + 32], dm[PATH_MAX + 64];
    default_module(m, sizeof m);
    default_model(dm, sizeof dm);
    return serve_main(argc, argv, m, dm);
  }
  if (argc >= 2 && !strcmp(argv[1], "finetune")) {
    char m[PATH_MAX + 32], dm[PATH_MAX + 64];
    default_module(m, sizeof m);
    default_model(dm, sizeof dm);
    return finetune_main(argc, argv, m, dm);
  }
  if (argc < 2 || strcmp(argv[1], "run") != 0) {
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) { fputs(k_usage, stdout); return 0; }
    return usage_error("expected the command 'run', 'serve' or 'finetune'%s%s", "", "");
  }
  const char *model_path = NULL, *tok_path = NULL, *module_path = NULL, *prompt = "", *grammar_path = NULL;
  const char *lora_arg[8];
  int n_lora = 0;
  double temp = 1.0, topp = 0.9;
  unsigned long long seed = (unsigned long long)time(NULL), steps = 256, ctx = 0, maxmem = 0, stack = 0, call_timeout = 0;
  int have_ctx = 0, kv_int8 = 0, host_weights = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = strcmp(a, "--kv-int8") && strcmp(a, "--host-weights") && a[0] == '-';
    if (a[0] != '-') {
      if (model_path) return usage_error("unexpected argument '%s'%s", a, "");
      model_path = a;
      continue;
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 0; }
    if (takes && !takes_value(a)) return usage_error("unknown option '%s'%s", a, "");
    if (takes && !v) return usage_error("option '%s' needs a value%s", a, "");
    if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer")) tok_path = v;
    else if (!strcmp(a, "--grammar")) grammar_path = v;
    else if (!strcmp(a, "--lora")) {
      if (n_lora == 8) return usage_error("at most 8 --lora adapters%s%s", "", "");
      lora_arg[n_lora++] = v;
    }
    else if (!strcmp(a, "--module")) module_path = v;
    else if (!strcmp(a, "-i") || !strcmp(a, "--prompt")) prompt = v;
    else if (!strcmp(a, "-t") || !strcmp(a, "--temperature")) {
      if (parse_double(v, 0, 100, &temp)) return usage_error("temperature must be a number in [0, 100], got '%s'%s", v, "");
    } else if (!strcmp(a, "-p") || !strcmp(a, "--topp")) {
      if (parse_double(v, 0, 1, &topp)) return usage_error("topp must be a number in [0, 1], got '%s'%s", v, "");
    } else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
      if (parse_u64(v, ~0ULL, &seed)) return usage_error("seed must be a non-negative integer that fits in 64 bits, got '%s'%s", v, "");
    } else if (!strcmp(a, "-n") || !strcmp(a, "--steps")) {
      if (parse_u64(v, 1u << 20, &steps)) return usage_error("steps must be an integer in [0, 1048576], got '%s'%s", v, "");
    } else if (!strcmp(a, "--ctx")) {
      if (parse_u64(v, 65536, &ctx) || ctx < 1) return usage_error("ctx must be an integer in [1, 65536], got '%s'%s", v, "");
      have_ctx = 1;
    } else if (!strcmp(a, "--max-memory")) {
      if (parse_u64(v, 0xffff0000u, &maxmem)) return usage_error("max-memory must be a byte count below 4 GiB, got '%s'%s", v, "");
    } else if (!strcmp(a, "--call-timeout")) {
      if (parse_u64(v, 86400, &call_timeout) || call_timeout < 1) return usage_error("call timeout must be seconds in [1, 86400], got '%s'%s", v, "");
    } else if (!strcmp(a, "--stack")) {
      if (parse_u64(v, 64u << 20, &stack) || stack < MIN_STACK) return usage_error("stack must be bytes in [" MIN_STACK_TEXT ", 64 MiB], got '%s'%s", v, "");
    } else if (!strcmp(a, "--kv-int8")) kv_int8 = 1;
    else if (!strcmp(a, "--host-weights")) host_weights = 1;
    else return usage_error("unknown option '%s'%s", a, "");
    if (takes) i++;
  }
  char modelbuf[PATH_MAX + 64];
  if (!model_path) { default_model(modelbuf, sizeof modelbuf); model_path = modelbuf; }

  char modbuf[PATH_MAX + 32], err[320];
  if (!module_path) { default_module(modbuf, sizeof modbuf); module_path = modbuf; }
  plat_blob mod = {0}, model = {0}, tok = {0}, grammar = {0}, lora[8] = {{0}};
  fw *f = NULL;
  int rc = 1;
  if (plat_map(module_path, &mod, err, sizeof err)) goto fail;
  if (plat_map(model_path, &model, err, sizeof err)) goto fail;
  if (tok_path && plat_map(tok_path, &tok, err, sizeof err)) goto fail;
  if (grammar_path && plat_map(grammar_path, &grammar, err, sizeof err)) goto fail;
  float lora_scale[8];
  for (int i = 0; i < n_lora; i++) {
    // FILE or FILE:SCALE (the last colon, when what follows is a number).
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", lora_arg[i]);
    lora_scale[i] = 1;
    char *colon = strrchr(path, ':'), *end = NULL;
    if (colon && colon != path) {
      float s = strtof(colon + 1, &end);
      if (end && *end == 0 && end != colon + 1) { lora_scale[i] = s; *colon = 0; }
    }
    if (plat_map(path, &lora[i], err, sizeof err)) goto fail;
  }
  fw_config c = {
    .module = mod.data, .module_len = mod.size, .model = model.data, .model_len = model.size,
    .tokenizer = tok.data, .tok_len = tok.size,
    .ctx = (int32_t)(have_ctx ? ctx : steps), .kv_int8 = kv_int8, .host_weights = host_weights,
    .max_memory = (uint32_t)maxmem, .stack_bytes = (uint32_t)stack, .compile_all = COMPILE_ALL,
    .call_timeout_s = (uint32_t)call_timeout, .n_lora = n_lora, .lora_external = host_weights,
  };
  for (int i = 0; i < n_lora; i++) { c.lora[i].bytes = lora[i].data; c.lora[i].len = lora[i].size; c.lora[i].scale = lora_scale[i]; }
  if (fw_open(&f, &c, err, sizeof err)) goto fail;
  fw_gen g = { .prompt = prompt, .prompt_len = strlen(prompt), .steps = (int32_t)steps,
               .grammar = grammar.data, .grammar_len = grammar.size,
               .temperature = (float)temp, .topp = (float)topp, .seed = seed };
  fw_stats st;
  if (fw_generate(f, &g, &st, err, sizeof err)) { plat_flush(); goto fail; }
  plat_write((const uint8_t *)"\n", 1);
  if (plat_flush()) { snprintf(err, sizeof err, "writing the output: %s", strerror(errno)); goto fail; }
  if (st.tokens > 1) {
    double tps = (st.tokens - 1) / (st.elapsed_us / 1e6);
    fprintf(stderr, "achieved tok/s: %.1f (%d positions, wasm3 engine%s, linear memory %u bytes, %u in use)\n", tps,
            st.tokens, host_weights ? ", host weights" : "", st.memory_bytes, st.heap_bytes);
  }
  rc = 0;
fail:
  if (rc) fprintf(stderr, "edgellm-fw: error: %s\n", err);
  fw_close(f);
  plat_unmap(&tok);
  plat_unmap(&grammar);
  for (int i = 0; i < 8; i++) plat_unmap(&lora[i]);
  plat_unmap(&model);
  plat_unmap(&mod);
  return rc;
}
