// Flat-object JSON reader and payload writer for the firmware peer (fleet_msg.h).
#include "fleet_msg.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fleet_name_ok(const char *s, size_t n) {
  if (n < 1 || n > FLEET_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return 0;
  }
  return 1;
}

// ---- reader: one object of string / number / bool / null values ----

typedef struct { const uint8_t *p, *end; char *err; size_t errlen; } rd;
typedef enum { V_STR, V_NUM, V_BOOL, V_NULL } vkind;
typedef struct { vkind k; char *s; size_t slen; double num; int is_int; int b; } value;

static int fail(rd *r, const char *msg) { snprintf(r->err, r->errlen, "%s", msg); return -1; }
static void ws(rd *r) { while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++; }

static int put_utf8(char *out, size_t cap, size_t *o, uint32_t cp) {
  uint8_t b[4]; int k;
  if (cp < 0x80) { b[0] = (uint8_t)cp; k = 1; }
  else if (cp < 0x800) { b[0] = 0xC0 | (cp >> 6); b[1] = 0x80 | (cp & 63); k = 2; }
  else if (cp < 0x10000) { b[0] = 0xE0 | (cp >> 12); b[1] = 0x80 | ((cp >> 6) & 63); b[2] = 0x80 | (cp & 63); k = 3; }
  else { b[0] = 0xF0 | (cp >> 18); b[1] = 0x80 | ((cp >> 12) & 63); b[2] = 0x80 | ((cp >> 6) & 63); b[3] = 0x80 | (cp & 63); k = 4; }
  if (*o + (size_t)k > cap) return -1;
  memcpy(out + *o, b, (size_t)k); *o += (size_t)k;
  return 0;
}

static int hex4(rd *r, uint32_t *v) {
  if (r->end - r->p < 4) return -1;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    uint8_t c = *r->p++;
    *v <<= 4;
    if (c >= '0' && c <= '9') *v |= c - '0'; else if (c >= 'a' && c <= 'f') *v |= c - 'a' + 10; else if (c >= 'A' && c <= 'F') *v |= c - 'A' + 10; else return -1;
  }
  return 0;
}

// Decodes a string into out (cap bytes, NUL-terminated); the opening quote is consumed.
static int str(rd *r, char *out, size_t cap, size_t *len) {
  size_t o = 0;
  for (;;) {
    if (r->p >= r->end) return fail(r, "unterminated string");
    uint8_t c = *r->p++;
    if (c == '"') break;
    if (c < 0x20) return fail(r, "control character in a string");
    if (c != '\\') { if (o + 1 > cap) return fail(r, "string too long"); out[o++] = (char)c; continue; }
    if (r->p >= r->end) return fail(r, "bad escape");
    c = *r->p++;
    uint32_t cp;
    switch (c) {
      case '"': case '\\': case '/': cp = c; break;
      case 'b': cp = 8; break; case 'f': cp = 12; break; case 'n': cp = 10; break; case 'r': cp = 13; break; case 't': cp = 9; break;
      case 'u':
        if (hex4(r, &cp)) return fail(r, "bad \\u escape");
        if (cp >= 0xD800 && cp < 0xDC00) {
          uint32_t lo;
          if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u') return fail(r, "lone surrogate");
          r->p += 2;
          if (hex4(r, &lo) || lo < 0xDC00 || lo > 0xDFFF) return fail(r, "bad surrogate pair");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) return fail(r, "lone surrogate");
        break;
      default: return fail(r, "bad escape");
    }
    if (put_utf8(out, cap, &o, cp)) return fail(r, "string too long");
  }
  if (o >= cap) return fail(r, "string too long");
  out[o] = 0;
  *len = o;
  return 0;
}

static int val(rd *r, value *v, char *buf, size_t cap) {
  ws(r);
  if (r->p >= r->end) return fail(r, "missing value");
  uint8_t c = *r->p;
  if (c == '"') { r->p++; v->k = V_STR; v->s = buf; return str(r, buf, cap, &v->slen); }
  if (c == '{' || c == '[') return fail(r, "nested values are not part of these kinds");
  if (r->end - r->p >= 4 && !memcmp(r->p, "true", 4)) { r->p += 4; v->k = V_BOOL; v->b = 1; return 0; }
  if (r->end - r->p >= 5 && !memcmp(r->p, "false", 5)) { r->p += 5; v->k = V_BOOL; v->b = 0; return 0; }
  if (r->end - r->p >= 4 && !memcmp(r->p, "null", 4)) { r->p += 4; v->k = V_NULL; return 0; }
  char num[40]; size_t k = 0; int frac = 0;
  while (r->p < r->end && k < sizeof num - 1 && strchr("+-0123456789.eE", *r->p)) { if (strchr(".eE", *r->p)) frac = 1; num[k++] = (char)*r->p++; }
  num[k] = 0;
  char *e; errno = 0;
  double d = strtod(num, &e);
  if (!k || *e || errno || !isfinite(d)) return fail(r, "bad number");
  v->k = V_NUM; v->num = d; v->is_int = !frac && d == floor(d);
  return 0;
}

typedef int (*field_fn)(void *ctx, const char *key, const value *v, char *err, size_t errlen);

// Walks one object, calling fn per member. Every member must be known to fn.
static int walk(const uint8_t *p, size_t n, field_fn fn, void *ctx, char *err, size_t errlen) {
  if (n > FLEET_MAX_PAYLOAD) { snprintf(err, errlen, "payload of %zu bytes is over the %d-byte limit", n, FLEET_MAX_PAYLOAD); return -1; }
  rd r = { p, p + n, err, errlen };
  static char sbuf[FLEET_MAX_PROMPT * 4 + 1];
  ws(&r);
  if (r.p >= r.end || *r.p != '{') return fail(&r, "payload is not a JSON object");
  r.p++;
  ws(&r);
  if (r.p < r.end && *r.p == '}') { r.p++; goto done; }
  for (;;) {
    ws(&r);
    if (r.p >= r.end || *r.p != '"') return fail(&r, "expected a member name");
    r.p++;
    char key[32]; size_t klen;
    if (str(&r, key, sizeof key, &klen)) return fail(&r, "unknown member");
    ws(&r);
    if (r.p >= r.end || *r.p != ':') return fail(&r, "expected ':'");
    r.p++;
    value v;
    if (val(&r, &v, sbuf, sizeof sbuf)) return -1;
    if (fn(ctx, key, &v, err, errlen)) return -1;
    ws(&r);
    if (r.p < r.end && *r.p == ',') { r.p++; continue; }
    if (r.p < r.end && *r.p == '}') { r.p++; break; }
    return fail(&r, "expected ',' or '}'");
  }
done:
  ws(&r);
  if (r.p != r.end) return fail(&r, "trailing bytes after the object");
  return 0;
}

#define F_V 1u
#define F_KIND 2u
#define F_TASK 4u

static int common(const char *key, const value *v, const char *kind, uint32_t *seen, char *tid, char *err, size_t errlen) {
  if (!strcmp(key, "v")) {
    if (v->k != V_NUM || v->num != 1) { snprintf(err, errlen, "unsupported protocol version"); return -1; }
    *seen |= F_V; return 1;
  }
  if (!strcmp(key, "kind")) {
    if (v->k != V_STR || strcmp(v->s, kind)) { snprintf(err, errlen, "kind does not match the topic"); return -1; }
    *seen |= F_KIND; return 1;
  }
  if (!strcmp(key, "taskId")) {
    if (v->k != V_STR || !fleet_name_ok(v->s, v->slen)) { snprintf(err, errlen, "%s: /taskId must match pattern", kind); return -1; }
    memcpy(tid, v->s, v->slen + 1); *seen |= F_TASK; return 1;
  }
  return 0;
}

static int int_in(const value *v, double lo, double hi) { return v->k == V_NUM && v->is_int && v->num >= lo && v->num <= hi; }
static int num_in(const value *v, double lo, double hi) { return v->k == V_NUM && v->num >= lo && v->num <= hi; }

typedef struct { fleet_task *t; uint32_t seen; } task_ctx;
enum { T_ATTEMPT = 8, T_LEASE = 16, T_DEADLINE = 32, T_PROMPT = 64, T_STEPS = 128, T_TEMP = 256, T_TOPP = 512, T_SEED = 1024 };

static int task_field(void *c, const char *key, const value *v, char *err, size_t errlen) {
  task_ctx *x = c;
  fleet_task *t = x->t;
  int k = common(key, v, "task", &x->seen, t->task_id, err, errlen);
  if (k) return k < 0 ? -1 : 0;
#define BAD(msg) do { snprintf(err, errlen, "task: /%s %s", key, msg); return -1; } while (0)
  if (!strcmp(key, "attempt")) { if (!int_in(v, 0, 4294967295.0)) BAD("must be a u32"); t->attempt = (uint32_t)v->num; x->seen |= T_ATTEMPT; }
  else if (!strcmp(key, "leaseMs")) { if (!int_in(v, 1, 3600000)) BAD("out of range"); t->lease_ms = (uint32_t)v->num; x->seen |= T_LEASE; }
  else if (!strcmp(key, "deadlineMs")) { if (!int_in(v, 0, 86400000)) BAD("out of range"); t->deadline_ms = (uint32_t)v->num; x->seen |= T_DEADLINE; }
  else if (!strcmp(key, "prompt")) {
    if (v->k != V_STR || v->slen > FLEET_MAX_PROMPT) BAD("must be a string of at most 8192 bytes");
    memcpy(t->prompt, v->s, v->slen + 1); t->prompt_len = v->slen; x->seen |= T_PROMPT;
  }
  else if (!strcmp(key, "steps")) { if (!int_in(v, 0, 65536)) BAD("must be >= 0 and <= 65536"); t->steps = (int32_t)v->num; x->seen |= T_STEPS; }
  else if (!strcmp(key, "temperature")) { if (!num_in(v, 0, 100)) BAD("out of range"); t->temperature = (float)v->num; x->seen |= T_TEMP; }
  else if (!strcmp(key, "topp")) { if (!num_in(v, 0, 1)) BAD("out of range"); t->topp = (float)v->num; x->seen |= T_TOPP; }
  else if (!strcmp(key, "seed")) {
    if (v->k != V_STR) BAD("must be string");
    if (v->slen < 1 || v->slen > 20 || strspn(v->s, "0123456789") != v->slen) BAD("must match pattern");
    errno = 0;
    unsigned long long s = strtoull(v->s, NULL, 10);
    if (errno) BAD("must fit in 64 bits");
    t->seed = s; x->seen |= T_SEED;
  }
  else { snprintf(err, errlen, "task: must NOT have additional properties (%s)", key); return -1; }
  return 0;
#undef BAD
}

int fleet_parse_task(const uint8_t *p, size_t n, fleet_task *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  task_ctx x = { out, 0 };
  if (walk(p, n, task_field, &x, err, errlen)) return -1;
  if (!(x.seen & F_V)) { snprintf(err, errlen, "unsupported protocol version"); return -1; }
  const uint32_t all = F_V | F_KIND | F_TASK | T_ATTEMPT | T_LEASE | T_DEADLINE | T_PROMPT | T_STEPS | T_TEMP | T_TOPP | T_SEED;
  if ((x.seen & all) != all) { snprintf(err, errlen, "task: a required property is missing"); return -1; }
  return 0;
}

typedef struct { fleet_cancel *c; uint32_t seen; } cancel_ctx;
static int cancel_field(void *c, const char *key, const value *v, char *err, size_t errlen) {
  cancel_ctx *x = c;
  int k = common(key, v, "cancel", &x->seen, x->c->task_id, err, errlen);
  if (k) return k < 0 ? -1 : 0;
  if (!strcmp(key, "reason")) {
    if (v->k != V_STR || v->slen > 256) { snprintf(err, errlen, "cancel: /reason must be a string of at most 256"); return -1; }
    x->seen |= 8; return 0;
  }
  snprintf(err, errlen, "cancel: must NOT have additional properties (%s)", key);
  return -1;
}

int fleet_parse_cancel(const uint8_t *p, size_t n, fleet_cancel *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  cancel_ctx x = { out, 0 };
  if (walk(p, n, cancel_field, &x, err, errlen)) return -1;
  if (!(x.seen & F_V)) { snprintf(err, errlen, "unsupported protocol version"); return -1; }
  if ((x.seen & 15u) != 15u) { snprintf(err, errlen, "cancel: a required property is missing"); return -1; }
  return 0;
}

// ---- writer ----

static void grow(fleet_buf *b, size_t more) {
  if (b->oom || b->len + more + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more + 1) cap *= 2;
  char *d = realloc(b->data, cap);
  if (!d) { b->oom = 1; return; }
  b->data = d; b->cap = cap;
}

void fleet_buf_free(fleet_buf *b) { free(b->data); memset(b, 0, sizeof *b); }

void fleet_buf_raw(fleet_buf *b, const char *s, size_t n) {
  grow(b, n);
  if (b->oom) return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void fleet_buf_fmt(fleet_buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (k > 0) fleet_buf_raw(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

void fleet_buf_str(fleet_buf *b, const char *s) {
  fleet_buf_raw(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c }; fleet_buf_raw(b, e, 2); }
    else if (c < 0x20) fleet_buf_fmt(b, "\\u%04x", c);
    else fleet_buf_raw(b, (const char *)&c, 1);
  }
  fleet_buf_raw(b, "\"", 1);
}

void fleet_buf_b64(fleet_buf *b, const uint8_t *p, size_t n) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  fleet_buf_raw(b, "\"", 1);
  grow(b, (n + 2) / 3 * 4 + 1);
  for (size_t i = 0; i < n && !b->oom; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    char q[4] = { A[v >> 18 & 63], A[v >> 12 & 63], i + 1 < n ? A[v >> 6 & 63] : '=', i + 2 < n ? A[v & 63] : '=' };
    fleet_buf_raw(b, q, 4);
  }
  fleet_buf_raw(b, "\"", 1);
}
