// On-device fine-tuning under wasm3: MeZO steps (assembly/mezo/mezo.ts) on the adapter loaded
// last, examples tokenized by the module (assembly/text/example.ts) and drawn in the module's
// order (mezoPick), so a device and `edgellm finetune --method mezo` on Node given the same seed
// and data write the same adapter bytes. Linear memory grows by one batch of records and one
// example's text, allocated once.
#include <string.h>
#include "fw_internal.h"

typedef struct {
  IM3Function encode, pick, step, params, in_place, reseal;
} mezo_fns;

static int find_fns(fw *f, mezo_fns *m, char *err, size_t n) {
  char why[160];
  if (fw_find(f, &m->encode, "exampleEncode", 1, why, sizeof why) || fw_find(f, &m->pick, "mezoPick", 1, why, sizeof why) ||
      fw_find(f, &m->step, "mezoStep", 1, why, sizeof why) || fw_find(f, &m->params, "mezoParameters", 1, why, sizeof why) ||
      fw_find(f, &m->in_place, "mezoInPlace", 1, why, sizeof why) || fw_find(f, &m->reseal, "adapterReseal", 1, why, sizeof why))
    return fw_failf(err, n, "%s (a module without on-device fine-tuning: rebuild it)", why);
  return 0;
}

static int guest_alloc(fw *f, uint32_t bytes, uint32_t *out, const char *what, char *err, size_t n) {
  int32_t b = (int32_t)bytes, p;
  const void *a[] = { &b };
  if (bytes > INT32_MAX || fw_call(f, f->alloc, what, &p, 1, a, err, n)) return bytes > INT32_MAX ? fw_failf(err, n, "%s: too large", what) : -1;
  if (p <= 0) return fw_failf(err, n, "%s: linear memory could not grow", what);
  *out = (uint32_t)p;
  return 0;
}

static uint8_t *guest(fw *f, uint32_t at, uint32_t len) {
  uint32_t size = 0;
  uint8_t *mem = m3_GetMemory(f->rt, &size, 0);
  return mem && (uint64_t)at + len <= size ? mem + at : NULL;
}

int fw_mezo_run(fw *f, const fw_mezo *m, char *err, size_t n) {
  mezo_fns fn;
  if (find_fns(f, &fn, err, n)) return -1;
  int32_t params, in_place, res;
  if (fw_call(f, fn.params, "mezo", &params, 0, NULL, err, n) || fw_call(f, fn.in_place, "mezo", &in_place, 0, NULL, err, n)) return -1;
  if (params <= 0) return fw_failf(err, n, "finetune: no adapter to train (give --lora FILE.ella)");
  if (!in_place) return fw_failf(err, n, "finetune: the adapter is stored as f16; MeZO trains an f32 adapter");
  if (m->count < 1 || m->batch < 1) return fw_failf(err, n, "finetune: no examples");
  int32_t ctx = fw_field(f, FW_FIELD_CTX);
  if (ctx < 2) return fw_failf(err, n, "finetune: no run state");
  uint32_t text_cap = 1, rec_cap = 3 + (uint32_t)ctx;
  for (int32_t i = 0; i < m->count; i++) {
    uint32_t k = m->examples[i].slen + m->examples[i].llen;
    if (k > text_cap) text_cap = k;
  }
  uint32_t text, batch, out;
  if (guest_alloc(f, text_cap, &text, "finetune text", err, n) || guest_alloc(f, 4 * rec_cap * m->batch, &batch, "finetune batch", err, n) ||
      guest_alloc(f, 16, &out, "finetune", err, n)) return -1;
  uint32_t lo = (uint32_t)m->seed, hi = (uint32_t)(m->seed >> 32), count = (uint32_t)m->count, nb = m->batch;
  for (uint32_t t = m->first_step; t <= m->steps; t++) {
    uint32_t at = batch;
    for (uint32_t b = 0; b < nb; b++) {
      int32_t i;
      const void *pa[] = { &lo, &hi, &t, &b, &count };
      if (fw_call_checked(f, fn.pick, "mezo pick", &i, 5, pa, err, n)) return -1;
      if (i >= m->count) return fw_failf(err, n, "mezo pick: bad result");
      const fw_example *ex = &m->examples[i];
      uint8_t *tp = guest(f, text, ex->slen + ex->llen);
      if (!tp) return fw_failf(err, n, "finetune: bad scratch");
      memcpy(tp, ex->sentence, ex->slen);
      memcpy(tp + ex->slen, ex->label, ex->llen);
      int32_t sl = (int32_t)ex->slen, ll = (int32_t)ex->llen, lp = (int32_t)(text + ex->slen), rp = (int32_t)at, rc = (int32_t)rec_cap, tx = (int32_t)text, kept;
      const void *ea[] = { &tx, &sl, &lp, &ll, &rp, &rc };
      char why[200];
      if (fw_call_checked(f, fn.encode, "example", &res, 6, ea, why, sizeof why)) return fw_failf(err, n, "data line %u: %s", ex->line, why);
      const uint8_t *rec = guest(f, at, 4);
      if (!rec) return fw_failf(err, n, "finetune: bad record");
      memcpy(&kept, rec, 4);
      at += 4u * (3u + (uint32_t)kept); // cut at the context, as the module wrote it
    }
    float eps = m->eps, lr = m->lr;
    int32_t bp = (int32_t)batch, cnt = (int32_t)nb, op = (int32_t)out;
    const void *sa[] = { &lo, &hi, &t, &eps, &lr, &bp, &cnt, &op };
    if (fw_call_checked(f, fn.step, "mezo step", &res, 8, sa, err, n)) return -1;
    float r[3];
    const uint8_t *o = guest(f, out, sizeof r);
    if (!o) return fw_failf(err, n, "mezo step: bad result");
    memcpy(r, o, sizeof r);
    if (m->on_step && m->on_step(m->ctx, t, r)) break;
  }
  return 0;
}

int fw_adapter_image(fw *f, uint32_t len, const uint8_t **out, char *err, size_t n) {
  IM3Function reseal;
  if (fw_find(f, &reseal, "adapterReseal", 1, err, n)) return -1;
  int32_t p;
  if (fw_call_checked(f, reseal, "adapter", &p, 0, NULL, err, n)) return -1;
  const uint8_t *img = guest(f, (uint32_t)p, len);
  if (!img) return fw_failf(err, n, "adapter: bad image");
  *out = img;
  return 0;
}
