// edgellm-fw finetune: forward-only (MeZO) fine-tuning of an f32 adapter on SENTENCE<TAB>LABEL
// lines, under wasm3 with the device's memory cap, the calls a device makes (core/finetune.c).
// Takes the flags of `edgellm finetune --method mezo` and writes the same adapter bytes for the
// same seed and data. Progress with ETA on stderr.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/fw.h"
#include "../core/platform.h"
#include "args.h"
#include "finetune_posix.h"

static const char k_usage[] =
  "usage: edgellm-fw finetune [model.ellm (default: models/default.ellm)] --data FILE --lora START.ella -o OUT.ella\n"
  "                           [--steps N] [--batch B] [--lr F] [--eps F] [--seed S] [--ctx N] [--kv-int8]\n"
  "                           [--max-memory BYTES] [--host-weights] [--module edgellm.wasm] [--stack BYTES] [--call-timeout SECONDS]\n";

static int usage(const char *fmt, const char *a) {
  fprintf(stderr, "edgellm-fw: error: ");
  fprintf(stderr, fmt, a);
  fprintf(stderr, "\n%s", k_usage);
  return 2;
}

typedef struct { uint64_t t0, last; uint32_t first, steps; double smooth; char banner[160]; } progress;

static int on_step(void *ctx, uint32_t t, const float r[3]) {
  progress *p = ctx;
  if (t == p->first) fprintf(stderr, "%s\n", p->banner); // once the run is checked and the first step went through
  double loss = (r[0] + r[1]) / 2;
  p->smooth = t == p->first ? loss : 0.95 * p->smooth + 0.05 * loss;
  uint64_t now = plat_now_us();
  if (t == p->steps || now - p->last >= 5000000) { // a line every 5 s
    p->last = now;
    double done = t - p->first + 1, per = (now - p->t0) / 1e6 / done, eta = per * (p->steps - t);
    fprintf(stderr, "finetune: step %u/%u loss %.4f (%.2f steps/s, ETA %.0f s)\n", t, p->steps, p->smooth, per > 0 ? 1 / per : 0, eta);
  }
  return 0;
}

static int write_atomic(const char *path, const uint8_t *b, size_t n, char *err, size_t en) {
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *fp = fopen(tmp, "wb");
  if (!fp) return snprintf(err, en, "%s: %s", path, strerror(errno)), -1;
  int ok = fwrite(b, 1, n, fp) == n;
  ok = fclose(fp) == 0 && ok;
  if (!ok || rename(tmp, path)) { snprintf(err, en, "%s: %s", path, strerror(errno)); remove(tmp); return -1; }
  return 0;
}

int finetune_main(int argc, char **argv, const char *default_module, const char *default_model) {
  const char *model_path = default_model, *module_path = default_module, *data_path = NULL, *lora_path = NULL, *out_path = NULL;
  unsigned long long steps = 300, batch = 16, seed = 1, ctx = 128, maxmem = 0, stack = 0, call_timeout = 0;
  double lr = 1e-3, eps = 1e-3;
  int kv_int8 = 0, host_weights = 0, have_model = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (a[0] != '-') {
      if (have_model) return usage("unexpected argument '%s'", a);
      model_path = a; have_model = 1;
      continue;
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 0; }
    if (!strcmp(a, "--kv-int8")) { kv_int8 = 1; continue; }
    if (!strcmp(a, "--host-weights")) { host_weights = 1; continue; }
    if (!v) return usage("option '%s' needs a value", a);
    i++;
    if (!strcmp(a, "--data")) data_path = v;
    else if (!strcmp(a, "--lora")) lora_path = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out_path = v;
    else if (!strcmp(a, "--module")) module_path = v;
    else if (!strcmp(a, "--steps")) { if (parse_u64(v, 10000000, &steps) || steps < 1) return usage("steps must be an integer in [1, 10000000], got '%s'", v); }
    else if (!strcmp(a, "--batch")) { if (parse_u64(v, 4096, &batch) || batch < 1) return usage("batch must be an integer in [1, 4096], got '%s'", v); }
    else if (!strcmp(a, "--seed")) { if (parse_u64(v, 2147483647, &seed)) return usage("seed must be an integer in [0, 2147483647], got '%s'", v); }
    else if (!strcmp(a, "--ctx")) { if (parse_u64(v, 4096, &ctx) || ctx < 8) return usage("ctx must be an integer in [8, 4096], got '%s'", v); }
    else if (!strcmp(a, "--lr")) { if (parse_double(v, 1e-7, 1, &lr)) return usage("lr must be a number in [1e-7, 1], got '%s'", v); }
    else if (!strcmp(a, "--eps")) { if (parse_double(v, 1e-6, 1, &eps)) return usage("eps must be a number in [1e-6, 1], got '%s'", v); }
    else if (!strcmp(a, "--max-memory")) { if (parse_u64(v, 0xffff0000u, &maxmem)) return usage("max-memory must be a byte count below 4 GiB, got '%s'", v); }
    else if (!strcmp(a, "--stack")) { if (parse_u64(v, 64u << 20, &stack) || stack < MIN_STACK) return usage("stack must be bytes in [" MIN_STACK_TEXT ", 64 MiB], got '%s'", v); }
    else if (!strcmp(a, "--call-timeout")) { if (parse_u64(v, 86400, &call_timeout) || call_timeout < 1) return usage("call timeout must be seconds in [1, 86400], got '%s'", v); }
    else return usage("unknown option '%s'", a);
  }
  if (!data_path) return usage("--data FILE is required%s", "");
  if (!lora_path) return usage("--lora START.ella is required (an f32 adapter: make one with `edgellm finetune --steps 1`)%s", "");
  if (!out_path) return usage("-o OUT.ella is required%s", "");
  const char *inputs[] = { model_path, data_path, lora_path, module_path };
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++)
    if (!strcmp(out_path, inputs[i])) return usage("-o %s is also an input: write the adapter elsewhere", out_path);

  plat_blob mod = {0}, model = {0}, data = {0}, lora = {0};
  fw_example *examples = NULL;
  int32_t count = 0;
  fw *f = NULL;
  char err[400], why[300];
  int rc = 1;
  if (plat_map(module_path, &mod, err, sizeof err) || plat_map(model_path, &model, err, sizeof err) ||
      plat_map(data_path, &data, err, sizeof err) || plat_map(lora_path, &lora, err, sizeof err)) goto fail;
  if (fw_parse_examples((const char *)data.data, data.size, &examples, &count, why, sizeof why)) {
    snprintf(err, sizeof err, "data file %s: %s", data_path, why);
    goto fail;
  }
  fw_config c = {
    .module = mod.data, .module_len = mod.size, .model = model.data, .model_len = model.size,
    .ctx = (int32_t)ctx, .kv_int8 = kv_int8, .host_weights = host_weights, .max_memory = (uint32_t)maxmem,
    .stack_bytes = (uint32_t)stack, .compile_all = COMPILE_ALL, .call_timeout_s = (uint32_t)call_timeout, .n_lora = 1,
  };
  c.lora[0].bytes = lora.data; c.lora[0].len = lora.size; c.lora[0].scale = 1;
  if (fw_open(&f, &c, err, sizeof err)) goto fail;
  progress p = { .t0 = plat_now_us(), .last = plat_now_us(), .first = 1, .steps = (uint32_t)steps };
  snprintf(p.banner, sizeof p.banner, "finetune: MeZO under wasm3 on %d labelled examples, %llu steps x %llu, eps %g, lr %g", count, steps, batch, eps, lr);
  fw_mezo m = { .examples = examples, .count = count, .first_step = 1, .steps = (uint32_t)steps, .batch = (uint32_t)batch,
                .lr = (float)lr, .eps = (float)eps, .seed = seed, .on_step = on_step, .ctx = &p };
  if (fw_mezo_run(f, &m, err, sizeof err)) goto fail;
  const uint8_t *img;
  if (fw_adapter_image(f, (uint32_t)lora.size, &img, err, sizeof err)) goto fail;
  if (write_atomic(out_path, img, lora.size, err, sizeof err)) goto fail;
  fprintf(stderr, "wrote %s (%zu bytes); linear memory %u bytes, %u in use\n", out_path, lora.size, fw_memory_bytes(f), fw_heap_top(f));
  rc = 0;
fail:
  if (rc) fprintf(stderr, "edgellm-fw: error: %s\n", err);
  fw_close(f);
  free(examples);
  plat_unmap(&lora);
  plat_unmap(&data);
  plat_unmap(&model);
  plat_unmap(&mod);
  return rc;
}
