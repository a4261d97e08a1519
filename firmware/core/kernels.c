// Native twins of assembly/kernels/{f32,q8,t2,q4,t5}.ts (MVP paths). Build with
// -ffp-contract=off (no FMA) and SSE float math on x86-32 so float results match wasm bit for bit.
#include "kernels.h"
#include <math.h>
#include <string.h>

static inline float ldf(const uint8_t *p) { float v; memcpy(&v, p, 4); return v; }
static inline float ldxf(const float *p) { float v; memcpy(&v, p, 4); return v; }
static inline void stf(float *p, float v) { memcpy(p, &v, 4); }

static int32_t t2_row_bytes(int32_t cols) { return ((cols + 63) / 64) * 16; }
static int32_t q4_row_bytes(int32_t cols) { return (cols + 1) >> 1; }
static int32_t t5_row_bytes(int32_t cols) { return (cols + 4) / 5; }

// Row bytes and scale layout come from the table (NK_QTYPES, end of file).
static int64_t row_bytes(const nk_qtype *t, int32_t cols) {
  return (int64_t)((cols + t->block_weights - 1) / t->block_weights) * t->block_bytes;
}

const nk_qtype *nk_qtype_of(uint32_t qtype) { return qtype < QT_COUNT ? &NK_QTYPES[qtype] : NULL; }

int64_t nk_scales_offset(uint32_t qtype, int32_t rows, int32_t cols) {
  const nk_qtype *t = nk_qtype_of(qtype);
  if (t == NULL || t->scales == NK_SCALES_NONE) return -1;
  return ((int64_t)rows * row_bytes(t, cols) + 3) & ~(int64_t)3;
}

int64_t nk_tensor_bytes(uint32_t qtype, int32_t rows, int32_t cols, int32_t group) {
  const nk_qtype *t = nk_qtype_of(qtype);
  if (t == NULL || rows <= 0 || cols <= 0) return -1;
  if (t->scales == NK_SCALES_PER_GROUP ? group <= 0 || cols % group != 0 : group != 0) return -1;
  if (t->scales == NK_SCALES_NONE) return (int64_t)rows * row_bytes(t, cols);
  return nk_scales_offset(qtype, rows, cols) + (int64_t)rows * (t->scales == NK_SCALES_PER_GROUP ? cols / group : 1) * 4;
}

// Signed int4 weight of column c (low nibble: even column), like q4At in kernels/q4.ts.
static inline int32_t q4_at(const uint8_t *row, int32_t c) {
  int32_t b = (row[c >> 1] >> ((c & 1) << 2)) & 15;
  return b >= 8 ? b - 16 : b;
}

// Sign-extends a nibble: 0..7 stay, 8..15 become -8..-1.
static inline int32_t nibble_s(int32_t v) { return ((v & 15) ^ 8) - 8; }

// One byte (two columns) per iteration.
static int32_t dot_q4(const uint8_t *row, const int8_t *x, int32_t n) {
  int32_t s = 0, c = 0;
  for (; c + 2 <= n; c += 2) {
    int32_t b = row[c >> 1];
    s += nibble_s(b) * (int32_t)x[c] + nibble_s(b >> 4) * (int32_t)x[c + 1];
  }
  if (c < n) s += q4_at(row, c) * (int32_t)x[c];
  return s;
}

// dotF32 (MVP): four partials over i mod 4, combined (s0+s1)+(s2+s3), then the tail.
static float dot_f32(const uint8_t *a, const float *b, int32_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s;
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += ldf(a + 4 * i) * ldxf(b + i);
    s1 += ldf(a + 4 * i + 4) * ldxf(b + i + 1);
    s2 += ldf(a + 4 * i + 8) * ldxf(b + i + 2);
    s3 += ldf(a + 4 * i + 12) * ldxf(b + i + 3);
  }
  s = (s0 + s1) + (s2 + s3);
  for (; i < n; i++) s += ldf(a + 4 * i) * ldxf(b + i);
  return s;
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, int32_t n) {
  int32_t s = 0;
  for (int32_t i = 0; i < n; i++) s += (int32_t)a[i] * (int32_t)b[i];
  return s;
}

// Ternary: decode each 2-bit code (w + 1) and accumulate exactly, like matvecT2Ref.
static int32_t dot_t2(const uint8_t *row, int32_t cols, const int8_t *xq) {
  int32_t acc = 0;
  for (int32_t b = 0; b * 64 < cols; b++) {
    const uint8_t *blk = row + 16 * b;
    const int8_t *x = xq + 64 * b;
    for (int32_t j = 0; j < 16; j++) {
      uint32_t c = blk[j];
      acc += ((int32_t)(c & 3) - 1) * x[j] + ((int32_t)((c >> 2) & 3) - 1) * x[16 + j] +
             ((int32_t)((c >> 4) & 3) - 1) * x[32 + j] + ((int32_t)(c >> 6) - 1) * x[48 + j];
    }
  }
  return acc; // padded activations are zero, so whole blocks are safe
}

// Lookup-table ternary kernel (rows <= LUT_ROWS): for each byte position j of a row, one
// table lut[code byte] = sum of its four weights times their activations (x[16k + j] of the
// block) serves every row, so a row costs one lookup per 4 weights. Exact in i32 like
// dot_t2, so both give the same result; dot_t2 handles taller matrices.
#define LUT_ROWS 256
// The t2 table for byte position j of every row: lut[code byte] = Σ_k (c_k − 1) · x[64·(j/16)
// + j%16 + 16k]; code 3 (invalid) entries read 0.
static void build_lut2(int16_t *lut, const int8_t *xq, int32_t j) {
  const int8_t *x = xq + 64 * (j >> 4) + (j & 15);
  int32_t a0 = x[0];
  const int32_t v1[3] = { -x[16], 0, x[16] }, v2[3] = { -x[32], 0, x[32] }, v3[3] = { -x[48], 0, x[48] };
  memset(lut, 0, sizeof(int16_t) * 256);
  for (int32_t c3 = 0; c3 < 3; c3++)
    for (int32_t c2 = 0; c2 < 3; c2++) {
      int32_t s2 = v3[c3] + v2[c2];
      int16_t *e = lut + ((c3 << 6) | (c2 << 4));
      for (int32_t c1 = 0; c1 < 3; c1++, e += 4) {
        int32_t s = s2 + v1[c1];
        e[0] = (int16_t)(s - a0); e[1] = (int16_t)s; e[2] = (int16_t)(s + a0);
      }
    }
}

static void matvec_t2_lut(const uint8_t *w, const uint8_t *ws, int32_t rows, int32_t cols, float *y,
                          const int8_t *xq, float sa) {
  int32_t acc[LUT_ROWS];
  int16_t lut[256];
  int32_t rb = t2_row_bytes(cols);
  memset(acc, 0, sizeof(int32_t) * (size_t)rows);
  for (int32_t j = 0; j < rb; j++) {
    build_lut2(lut, xq, j);
    const uint8_t *p = w + j;
    for (int32_t r = 0; r < rows; r++, p += rb) acc[r] += lut[*p];
  }
  for (int32_t r = 0; r < rows; r++) stf(y + r, (float)acc[r] * ldf(ws + 4 * r) * sa);
}

// t5: column 5j + k of a row is base-3 digit k of byte j, stored as w + 1 (kernels/t5.ts).
static inline int32_t t5_at(const uint8_t *row, int32_t c) {
  static const uint8_t pow3[5] = { 1, 3, 9, 27, 81 };
  return (row[c / 5] / pow3[c % 5]) % 3 - 1;
}

// Activations past cols count as zero: the t5 kernels read exactly cols of them.
static inline int32_t act_at(const int8_t *xq, int32_t c, int32_t cols) { return c < cols ? xq[c] : 0; }

static int32_t dot_t5(const uint8_t *row, int32_t cols, const int8_t *xq) {
  int32_t acc = 0;
  for (int32_t c = 0; c < cols; c++) acc += t5_at(row, c) * xq[c];
  return acc;
}

// lut[Σ (d_k + 1)·3^k] = Σ d_k·a[k] over the 243 digit patterns d ∈ {-1,0,1}^5, built from the
// top digits down so each entry costs one add (the module's buildLut5 does the same); the
// invalid bytes 243..255 read 0.
static void build_lut5(int16_t *lut, const int32_t a[5]) {
  int16_t *e = lut;
  for (int32_t d4 = -1; d4 <= 1; d4++)
    for (int32_t d3 = -1; d3 <= 1; d3++) {
      int32_t s3 = d4 * a[4] + d3 * a[3];
      for (int32_t d2 = -1; d2 <= 1; d2++, e += 9) {
        int32_t s2 = s3 + d2 * a[2], m = s2 - a[1], p = s2 + a[1];
        e[0] = (int16_t)(m - a[0]);  e[1] = (int16_t)m;  e[2] = (int16_t)(m + a[0]);
        e[3] = (int16_t)(s2 - a[0]); e[4] = (int16_t)s2; e[5] = (int16_t)(s2 + a[0]);
        e[6] = (int16_t)(p - a[0]);  e[7] = (int16_t)p;  e[8] = (int16_t)(p + a[0]);
      }
    }
  memset(e, 0, sizeof(int16_t) * (256 - 243));
}

// The tables of the last input up to T5_SHARED_COLS wide: wq, wk, wv (and w1, w3) read the
// same activations one call after another, so the second and third reuse the first's tables.
// Keyed by the activations themselves, so a stale entry can only be a miss.
#define T5_SHARED_COLS 64
static struct {
  int32_t cols; // 0: empty
  int8_t x[T5_SHARED_COLS];
  int16_t lut[(T5_SHARED_COLS + 4) / 5][256];
} t5_shared;

// Lookup-table t5 kernel (rows <= LUT_ROWS): for byte position j, lut[j][byte] = the sum of
// its five weights times x[5j..5j+4] serves every row: one lookup per 5 weights. Exact in i32,
// like dot_t5.
static void matvec_t5_lut(const uint8_t *w, const uint8_t *ws, int32_t rows, int32_t cols, float *y,
                          const int8_t *xq, float sa) {
  int32_t acc[LUT_ROWS];
  int16_t own[256];
  int32_t rb = t5_row_bytes(cols);
  int shared = cols <= T5_SHARED_COLS;
  int hit = shared && t5_shared.cols == cols && memcmp(t5_shared.x, xq, (size_t)cols) == 0;
  if (shared && !hit) {
    t5_shared.cols = cols;
    memcpy(t5_shared.x, xq, (size_t)cols);
  }
  memset(acc, 0, sizeof(int32_t) * (size_t)rows);
  for (int32_t j = 0; j < rb; j++) {
    int16_t *lut = shared ? t5_shared.lut[j] : own;
    if (!hit) {
      int32_t a[5];
      for (int32_t k = 0; k < 5; k++) a[k] = act_at(xq, 5 * j + k, cols);
      build_lut5(lut, a);
    }
    const uint8_t *p = w + j;
    for (int32_t r = 0; r < rows; r++, p += rb) acc[r] += lut[*p];
  }
  for (int32_t r = 0; r < rows; r++) stf(y + r, (float)acc[r] * ldf(ws + 4 * r) * sa);
}

// Per-type kernels, each the twin of its module kernel; the table below names them.
static void matvec_f32(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t rows, int32_t cols,
                       float *y, const float *x, const int8_t *xq, float sa) {
  (void)ws; (void)group; (void)xq; (void)sa;
  for (int32_t r = 0; r < rows; r++) stf(y + r, dot_f32(w + (size_t)4 * r * cols, x, cols));
}

static void matvec_q8(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t rows, int32_t cols,
                      float *y, const float *x, const int8_t *xq, float sa) {
  (void)x;
  int32_t groups = cols / group;
  for (int32_t r = 0; r < rows; r++) {
    const int8_t *row = (const int8_t *)w + (size_t)r * cols;
    const uint8_t *rs = ws + (size_t)4 * r * groups;
    float sum = 0;
    for (int32_t g = 0; g < groups; g++)
      sum += (float)dot_i8(row + g * group, xq + g * group, group) * ldf(rs + 4 * g);
    stf(y + r, sum * sa);
  }
}

static void matvec_q4(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t rows, int32_t cols,
                      float *y, const float *x, const int8_t *xq, float sa) {
  (void)group; (void)x;
  int32_t rb = q4_row_bytes(cols);
  for (int32_t r = 0; r < rows; r++) {
    float sum = 0;
    sum += (float)dot_q4(w + (size_t)r * rb, xq, cols) * ldf(ws + 4 * r);
    stf(y + r, sum * sa);
  }
}

static void matvec_t5(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t rows, int32_t cols,
                      float *y, const float *x, const int8_t *xq, float sa) {
  (void)group; (void)x;
  if (rows <= LUT_ROWS) {
    matvec_t5_lut(w, ws, rows, cols, y, xq, sa);
  } else {
    int32_t rb = t5_row_bytes(cols);
    for (int32_t r = 0; r < rows; r++) stf(y + r, (float)dot_t5(w + (size_t)r * rb, cols, xq) * ldf(ws + 4 * r) * sa);
  }
}

static void matvec_t2(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t rows, int32_t cols,
                      float *y, const float *x, const int8_t *xq, float sa) {
  (void)group; (void)x;
  if (rows <= LUT_ROWS) {
    matvec_t2_lut(w, ws, rows, cols, y, xq, sa);
  } else {
    int32_t rb = t2_row_bytes(cols);
    for (int32_t r = 0; r < rows; r++) {
      int32_t acc = dot_t2(w + (size_t)r * rb, cols, xq);
      stf(y + r, (float)acc * ldf(ws + 4 * r) * sa);
    }
  }
}

static void row_f32(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t r, int32_t cols, float *out) {
  (void)ws; (void)group;
  memcpy(out, w + (size_t)4 * r * cols, (size_t)4 * cols);
}

static void row_q8(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t r, int32_t cols, float *out) {
  int32_t groups = cols / group;
  for (int32_t i = 0; i < cols; i++)
    stf(out + i, (float)((const int8_t *)w)[(size_t)r * cols + i] * ldf(ws + 4 * (r * groups + i / group)));
}

static void row_q4(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t r, int32_t cols, float *out) {
  (void)group;
  const uint8_t *row = w + (size_t)r * q4_row_bytes(cols);
  float s = ldf(ws + 4 * r);
  for (int32_t c = 0; c < cols; c++) stf(out + c, (float)q4_at(row, c) * s);
}

static void row_t5(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t r, int32_t cols, float *out) {
  (void)group;
  const uint8_t *row = w + (size_t)r * t5_row_bytes(cols);
  float s = ldf(ws + 4 * r);
  for (int32_t c = 0; c < cols; c++) stf(out + c, (float)t5_at(row, c) * s);
}

static void row_t2(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t r, int32_t cols, float *out) {
  (void)group;
  const uint8_t *row = w + (size_t)r * t2_row_bytes(cols);
  float s = ldf(ws + 4 * r);
  for (int32_t c = 0; c < cols; c++) {
    uint32_t b = row[(c >> 6) * 16 + (c & 15)];
    stf(out + c, (float)((int32_t)((b >> (((c >> 4) & 3) << 1)) & 3) - 1) * s);
  }
}

// C's one table of quantization types, indexed by id (append-only; the same rows as
// assembly/model/qtypes.ts and host/format/qtypes.ts). To add a type: append its id in
// kernels.h, its kernels above, and a row here.
const nk_qtype NK_QTYPES[QT_COUNT] = {
  [QT_F32] = {"f32", 1, 4, NK_SCALES_NONE, 0, matvec_f32, row_f32},
  [QT_Q8] = {"int8", 1, 1, NK_SCALES_PER_GROUP, 1, matvec_q8, row_q8},
  [QT_T2] = {"ternary", 64, 16, NK_SCALES_PER_ROW, 64, matvec_t2, row_t2},
  [QT_Q4] = {"q4", 2, 1, NK_SCALES_PER_ROW, 1, matvec_q4, row_q4},
  [QT_T5] = {"ternary-t5", 5, 1, NK_SCALES_PER_ROW, 1, matvec_t5, row_t5},
};

void nk_matvec(uint32_t qtype, const uint8_t *w, const uint8_t *ws, int32_t group, int32_t rows,
               int32_t cols, float *y, const float *x, const int8_t *xq, float sa) {
  NK_QTYPES[qtype].matvec(w, ws, group, rows, cols, y, x, xq, sa);
}

void nk_row(uint32_t qtype, const uint8_t *w, const uint8_t *ws, int32_t group, int32_t r,
            int32_t cols, float *out) {
  NK_QTYPES[qtype].row(w, ws, group, r, cols, out);
}

// dotF32I8 of forward.ts: four partials over i mod 4, (s0+s1)+(s2+s3), then the tail.
static float dot_f32_i8(const uint8_t *a, const int8_t *b, int32_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s;
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += ldf(a + 4 * i) * (float)b[i];
    s1 += ldf(a + 4 * i + 4) * (float)b[i + 1];
    s2 += ldf(a + 4 * i + 8) * (float)b[i + 2];
    s3 += ldf(a + 4 * i + 12) * (float)b[i + 3];
  }
  s = (s0 + s1) + (s2 + s3);
  for (; i < n; i++) s += ldf(a + 4 * i) * (float)b[i];
  return s;
}

void nk_kv_scores(uint8_t *att, const uint8_t *q, const int8_t *keys, const uint8_t *ks, int32_t n,
                  int32_t hs, int32_t kvDim, int32_t nkv, float sqrtHs) {
  for (int32_t t = 0; t < n; t++) {
    float d = dot_f32_i8(q, keys + (size_t)t * kvDim, hs);
    float v = d * ldf(ks + (size_t)4 * t * nkv) / sqrtHs;
    memcpy(att + 4 * (size_t)t, &v, 4);
  }
}

void nk_kv_mix(uint8_t *out, const uint8_t *att, const int8_t *values, const uint8_t *vs, int32_t n,
               int32_t hs, int32_t kvDim, int32_t nkv) {
  float acc[256];
  float *o = hs <= 256 ? acc : NULL;
  if (!o) { // unusual head size: accumulate in place, same operations
    memset(out, 0, (size_t)4 * hs);
    for (int32_t t = 0; t < n; t++) {
      float as = ldf(att + 4 * (size_t)t) * ldf(vs + (size_t)4 * t * nkv);
      const int8_t *v = values + (size_t)t * kvDim;
      for (int32_t i = 0; i < hs; i++) { float x = ldf(out + 4 * i) + as * (float)v[i]; memcpy(out + 4 * i, &x, 4); }
    }
    return;
  }
  memset(o, 0, sizeof(float) * (size_t)hs);
  for (int32_t t = 0; t < n; t++) {
    float as = ldf(att + 4 * (size_t)t) * ldf(vs + (size_t)4 * t * nkv);
    const int8_t *v = values + (size_t)t * kvDim;
    for (int32_t i = 0; i < hs; i++) o[i] = o[i] + as * (float)v[i];
  }
  memcpy(out, o, sizeof(float) * (size_t)hs);
}

// IEEE half → float, exact (the adapter reader refused infinities and NaNs), as the module's
// model/lora.ts widen() computes it: a normal half's exponent and mantissa shifted into place
// and the exponent rebased by 127 − 15 in one add; a subnormal one is man · 2^-24.
static inline float half_at(const uint8_t *p) {
  uint32_t h = (uint32_t)p[0] | ((uint32_t)p[1] << 8), bits;
  float v;
  if (h & 0x7c00) {
    bits = ((h & 0x8000) << 16) | (((h & 0x7fff) << 13) + (112u << 23));
    memcpy(&v, &bits, 4);
    return v;
  }
  v = (float)(h & 0x3ff) * 5.9604644775390625e-8f; // man · 2^-24
  memcpy(&bits, &v, 4);
  bits |= (h & 0x8000) << 16;
  memcpy(&v, &bits, 4);
  return v;
}

// f32 bits of a half by its high byte (sign, exponent, two mantissa bits) for normal halves;
// HALF_SUBNORMAL where the exponent is 0 (zero and subnormals: half_at's other branch).
#define HALF_SUBNORMAL 0xffffffffu
static uint32_t half_hi[256];
static int half_hi_ready;

static void half_table(void) {
  for (uint32_t hi = 0; hi < 256; hi++) {
    uint32_t h = hi << 8;
    half_hi[hi] = (h & 0x7c00) ? ((h & 0x8000) << 16) | (((h & 0x7f00) << 13) + (112u << 23)) : HALF_SUBNORMAL;
  }
  half_hi_ready = 1;
}

// Row i of n elements in storage (f32 0, f16 5) at p, maybe unaligned, widened to f32 out[n]:
// half_at's values (a normal half's low byte lands in the mantissa's low 8 bits below the
// table's part).
static void widen_row(float *out, uint32_t storage, const uint8_t *p, int32_t n) {
  if (storage == 0) { memcpy(out, p, (size_t)4 * n); return; }
  if (!half_hi_ready) half_table();
  for (int32_t i = 0; i < n; i++) {
    uint32_t base = half_hi[p[2 * i + 1]];
    if (base == HALF_SUBNORMAL) { out[i] = half_at(p + 2 * (size_t)i); continue; }
    uint32_t bits = base | ((uint32_t)p[2 * i] << 13);
    memcpy(out + i, &bits, 4);
  }
}

// dot(w[n] f32, v[n] f32 maybe unaligned) in kernels/f32.ts dotF32's order.
static float dot_wv(const float *w, const uint8_t *v, int32_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s;
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += w[i] * ldf(v + 4 * (size_t)i);
    s1 += w[i + 1] * ldf(v + 4 * (size_t)i + 4);
    s2 += w[i + 2] * ldf(v + 4 * (size_t)i + 8);
    s3 += w[i + 3] * ldf(v + 4 * (size_t)i + 12);
  }
  s = (s0 + s1) + (s2 + s3);
  for (; i < n; i++) s += w[i] * ldf(v + 4 * (size_t)i);
  return s;
}

// Widest adapter input a row buffer holds; wider matrices (none in our models) take the
// per-element path below.
#define LORA_ROW_MAX 512

// Per element, widened as it is read (inputs wider than LORA_ROW_MAX).
static float elem(uint32_t storage, const uint8_t *p, size_t i) { return storage == 0 ? ldf(p + 4 * i) : half_at(p + 2 * i); }

static float dot_order(uint32_t storage, const uint8_t *w, const uint8_t *v, int32_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s;
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += elem(storage, w, (size_t)i) * ldf(v + 4 * (size_t)i);
    s1 += elem(storage, w, (size_t)i + 1) * ldf(v + 4 * (size_t)i + 4);
    s2 += elem(storage, w, (size_t)i + 2) * ldf(v + 4 * (size_t)i + 8);
    s3 += elem(storage, w, (size_t)i + 3) * ldf(v + 4 * (size_t)i + 12);
  }
  s = (s0 + s1) + (s2 + s3);
  for (; i < n; i++) s += elem(storage, w, (size_t)i) * ldf(v + 4 * (size_t)i);
  return s;
}

// Inputs per pass of the block kernels (their scratch is sized for this many).
#define NK_BLOCK 4

// Scratch of nk_lora_apply_block, static like the block kernels' (one host call at a time; the
// ESP32's task stack is the interpreter's): A x of each input (the adapter reader bounds rank
// by 256) and one widened row.
static float lora_u[NK_BLOCK][256];
static float lora_w[LORA_ROW_MAX];

void nk_lora_apply_block(uint32_t storage, const uint8_t *a, const uint8_t *b, int32_t rank, int32_t in, int32_t out,
                         float k, uint8_t *y, const uint8_t *x, int32_t n) {
  float (*u)[256] = lora_u;
  float *w = lora_w;
  size_t per = storage == 0 ? 4 : 2;
  for (int32_t t0 = 0; t0 < n; t0 += NK_BLOCK) {
    int32_t nc = n - t0 < NK_BLOCK ? n - t0 : NK_BLOCK;
    const uint8_t *xc = x + (size_t)4 * t0 * in;
    uint8_t *yc = y + (size_t)4 * t0 * out;
    for (int32_t j = 0; j < rank; j++) {
      const uint8_t *aj = a + (size_t)j * in * per;
      if (in <= LORA_ROW_MAX) {
        widen_row(w, storage, aj, in);
        for (int32_t t = 0; t < nc; t++) u[t][j] = dot_wv(w, xc + (size_t)4 * t * in, in);
      } else {
        for (int32_t t = 0; t < nc; t++) u[t][j] = dot_order(storage, aj, xc + (size_t)4 * t * in, in);
      }
    }
    for (int32_t o = 0; o < out; o++) {
      widen_row(w, storage, b + (size_t)o * rank * per, rank);
      for (int32_t t = 0; t < nc; t++) {
        uint8_t *yo = yc + (size_t)4 * ((size_t)t * out + o);
        float v = ldf(yo) + k * dot_wv(w, (const uint8_t *)u[t], rank);
        memcpy(yo, &v, 4);
      }
    }
  }
}

void nk_lora_apply(uint32_t storage, const uint8_t *a, const uint8_t *b, int32_t rank, int32_t in, int32_t out,
                   float k, uint8_t *y, const uint8_t *x) {
  nk_lora_apply_block(storage, a, b, rank, in, out, k, y, x, 1);
}

// ---- Block matmul (prefill): up to three matrices of one type reading the same n inputs ----

// Ternary (t2, t5) over a block: for each code byte position j, one table per input, then
// every row of every matrix read once: acc[t][r] += lut[t][byte]. The matrices' rows are taken
// as one sequence, LUT_ROWS at a time (wq+wk+wv of our models in one pass, w1+w3 in two), so the
// accumulators stay small; a pass rebuilds the tables. The same exact sums and the same
// (float)acc · ws[r] · sa as matvec_t2 / matvec_t5. Static scratch: the module calls one host
// function at a time, and the ESP32's task stack is better spent on the interpreter.
#if NK_BLOCK != 4
#error "matmul_ternary unrolls NK_BLOCK = 4 inputs"
#endif
static int16_t blk_lut[NK_BLOCK][256];
static int32_t blk_acc[NK_BLOCK][LUT_ROWS];

static void matmul_ternary(uint32_t qtype, int32_t cols, int32_t nc, const int8_t *xq, int32_t stride,
                           const float *sa, const nk_mat *mats, int32_t nm) {
  int32_t rb = qtype == QT_T5 ? t5_row_bytes(cols) : t2_row_bytes(cols);
  int32_t total = 0;
  for (int32_t m = 0; m < nm; m++) total += mats[m].rows;
  for (int32_t c0 = 0; c0 < total; c0 += LUT_ROWS) {
    int32_t c1 = total - c0 > LUT_ROWS ? c0 + LUT_ROWS : total;
    for (int32_t t = 0; t < nc; t++) memset(blk_acc[t], 0, sizeof(int32_t) * (size_t)(c1 - c0));
    for (int32_t j = 0; j < rb; j++) {
      for (int32_t t = 0; t < nc; t++) {
        const int8_t *xt = xq + (size_t)t * stride;
        if (qtype == QT_T5) {
          int32_t a[5];
          for (int32_t k = 0; k < 5; k++) a[k] = act_at(xt, 5 * j + k, cols);
          build_lut5(blk_lut[t], a);
        } else {
          build_lut2(blk_lut[t], xt, j);
        }
      }
      // Matrix m's rows [lo, hi) of this pass, at accumulator k = (m's first row) + r - c0.
      for (int32_t m = 0, first = 0; m < nm; first += mats[m].rows, m++) {
        int32_t lo = c0 > first ? c0 - first : 0, hi = c1 - first < mats[m].rows ? c1 - first : mats[m].rows;
        if (hi <= lo) continue;
        const uint8_t *p = mats[m].w + (size_t)lo * rb + j;
        int32_t k = first + lo - c0, n = hi - lo;
        if (nc == NK_BLOCK) { // the common case, unrolled: one byte load serves four tables
          for (int32_t r = 0; r < n; r++, p += rb) {
            uint8_t byte = *p;
            blk_acc[0][k + r] += blk_lut[0][byte]; blk_acc[1][k + r] += blk_lut[1][byte];
            blk_acc[2][k + r] += blk_lut[2][byte]; blk_acc[3][k + r] += blk_lut[3][byte];
          }
        } else {
          for (int32_t r = 0; r < n; r++, p += rb) {
            uint8_t byte = *p;
            for (int32_t t = 0; t < nc; t++) blk_acc[t][k + r] += blk_lut[t][byte];
          }
        }
      }
    }
    for (int32_t m = 0, first = 0; m < nm; first += mats[m].rows, m++) {
      int32_t lo = c0 > first ? c0 - first : 0, hi = c1 - first < mats[m].rows ? c1 - first : mats[m].rows;
      for (int32_t t = 0; t < nc; t++) {
        float s = ldxf(sa + t);
        for (int32_t r = lo; r < hi; r++)
          stf(mats[m].y + (size_t)t * mats[m].rows + r, (float)blk_acc[t][first + r - c0] * ldf(mats[m].ws + 4 * (size_t)r) * s);
      }
    }
  }
}

// int8 over a block: each weight row read once for its inputs; per output matvec_q8's float
// work (exact i32 sums per group, then sum += f32(acc) · scale in group order, times sa). Four
// inputs at a time share each weight load.
static void matmul_q8(const nk_mat *mt, int32_t group, int32_t cols, int32_t nc, const int8_t *xq, int32_t stride, const float *sa) {
  int32_t groups = cols / group;
  for (int32_t r = 0; r < mt->rows; r++) {
    const int8_t *row = (const int8_t *)mt->w + (size_t)r * cols;
    const uint8_t *rs = mt->ws + (size_t)4 * r * groups;
    if (nc == NK_BLOCK) {
      const int8_t *x0 = xq, *x1 = xq + stride, *x2 = xq + 2 * (size_t)stride, *x3 = xq + 3 * (size_t)stride;
      float sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
      for (int32_t g = 0; g < groups; g++) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int32_t i = g * group, end = i + group; i < end; i++) {
          int32_t w = row[i];
          a0 += w * x0[i]; a1 += w * x1[i]; a2 += w * x2[i]; a3 += w * x3[i];
        }
        float sc = ldf(rs + 4 * g);
        sum0 += (float)a0 * sc; sum1 += (float)a1 * sc; sum2 += (float)a2 * sc; sum3 += (float)a3 * sc;
      }
      stf(mt->y + r, sum0 * ldxf(sa)); stf(mt->y + mt->rows + r, sum1 * ldxf(sa + 1));
      stf(mt->y + 2 * (size_t)mt->rows + r, sum2 * ldxf(sa + 2)); stf(mt->y + 3 * (size_t)mt->rows + r, sum3 * ldxf(sa + 3));
      continue;
    }
    for (int32_t t = 0; t < nc; t++) {
      const int8_t *xt = xq + (size_t)t * stride;
      float sum = 0;
      for (int32_t g = 0; g < groups; g++) sum += (float)dot_i8(row + g * group, xt + g * group, group) * ldf(rs + 4 * g);
      stf(mt->y + (size_t)t * mt->rows + r, sum * ldxf(sa + t));
    }
  }
}

void nk_matmul(uint32_t qtype, int32_t group, int32_t cols, int32_t n, const float *x, const int8_t *xq, int32_t stride,
               const float *sa, const nk_mat *mats, int32_t nm) {
  nk_mat part[3];
  for (int32_t t0 = 0; t0 < n; t0 += NK_BLOCK) {
    int32_t nc = n - t0 < NK_BLOCK ? n - t0 : NK_BLOCK;
    for (int32_t m = 0; m < nm; m++) { part[m] = mats[m]; part[m].y = mats[m].y + (size_t)t0 * mats[m].rows; }
    const int8_t *xqc = xq + (size_t)t0 * stride;
    if (qtype == QT_T5 || qtype == QT_T2) {
      matmul_ternary(qtype, cols, nc, xqc, stride, sa + t0, part, nm);
    } else if (qtype == QT_Q8) {
      for (int32_t m = 0; m < nm; m++) matmul_q8(&part[m], group, cols, nc, xqc, stride, sa + t0);
    } else {
      for (int32_t t = 0; t < nc; t++)
        for (int32_t m = 0; m < nm; m++)
          NK_QTYPES[qtype].matvec(part[m].w, part[m].ws, group, part[m].rows, cols, part[m].y + (size_t)t * part[m].rows,
                                  x + (size_t)(t0 + t) * cols, xqc + (size_t)t * stride, ldxf(sa + t0 + t));
    }
  }
}

// ---- Elementwise glue (module kernels/f32.ts, q8.ts MVP paths), the per-position work that
// otherwise runs interpreted: activation quantization, SwiGLU, one attention head -------------

// expF32 of kernels/f32.ts: the same f32 operations in the same order. Its constants are f32
// roundings of the module's decimal literals, which AssemblyScript reads as f64 first: so are
// these (a double literal, then the cast).
static inline float exp_f32(float v) {
  const float lo = (float)-87.3, hi = (float)88.0, log2e = (float)1.44269504, ln2hi = (float)0.693359375,
              ln2lo = (float)-2.12194440e-4, magic = (float)12582912.0;
  const float p0 = (float)1.9875691500e-4, p1 = (float)1.3981999507e-3, p2 = (float)8.3334519073e-3;
  const float p3 = (float)4.1665795894e-2, p4 = (float)1.6666665459e-1, p5 = (float)5.0000001201e-1;
  float x = v < hi ? v : hi;
  x = lo < x ? x : lo;
  float t = x * log2e + magic;
  float n = t - magic;
  float r = (x - n * ln2hi) - n * ln2lo;
  float p = (((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * (r * r) + r + 1.0f;
  uint32_t tb, sb;
  memcpy(&tb, &t, 4);
  sb = (tb - 0x4b400000u + 127u) << 23;
  float s;
  memcpy(&s, &sb, 4);
  return p * s;
}

// wasm's f32.max / f32.min on numbers (NaN never reaches them here).
static inline float wmax(float a, float b) { return a > b ? a : (b > a ? b : (a == 0 && b == 0 ? (signbit(a) ? b : a) : a)); }
static inline float wmin(float a, float b) { return a < b ? a : (b < a ? b : (a == 0 && b == 0 ? (signbit(a) ? a : b) : a)); }

float nk_quantize(int8_t *q, const uint8_t *x, int32_t n, int32_t pad) {
  float amax = 0;
  for (int32_t i = 0; i < n; i++) amax = wmax(amax, fabsf(ldf(x + 4 * (size_t)i)));
  float s = amax / 127.0f;
  float inv = s > 0 ? 1.0f / s : 0;
  for (int32_t i = 0; i < n; i++) {
    float v = nearbyintf(ldf(x + 4 * (size_t)i) * inv);
    q[i] = (int8_t)(int32_t)wmin(127.0f, wmax(-127.0f, v));
  }
  for (int32_t j = n; j < pad; j++) q[j] = 0;
  return s;
}

void nk_swiglu(uint8_t *h, const uint8_t *g, int32_t n) {
  for (int32_t i = 0; i < n; i++) {
    float v = ldf(h + 4 * (size_t)i);
    float r = v * (1.0f / (1.0f + exp_f32(-v))) * ldf(g + 4 * (size_t)i);
    memcpy(h + 4 * (size_t)i, &r, 4);
  }
}

// softmax of kernels/f32.ts (MVP): the maximum by pmax, exponentials summed in four partials
// over i mod 4, (s0 + s1) + (s2 + s3), then the tail; every element divided by the sum.
static void softmax_f32(uint8_t *x, int32_t n) {
  float max = ldf(x), sum;
  for (int32_t i = 0; i < n; i++) { float v = ldf(x + 4 * (size_t)i); max = max < v ? v : max; }
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float e0 = exp_f32(ldf(x + 4 * (size_t)i) - max), e1 = exp_f32(ldf(x + 4 * (size_t)i + 4) - max);
    float e2 = exp_f32(ldf(x + 4 * (size_t)i + 8) - max), e3 = exp_f32(ldf(x + 4 * (size_t)i + 12) - max);
    memcpy(x + 4 * (size_t)i, &e0, 4); memcpy(x + 4 * (size_t)i + 4, &e1, 4);
    memcpy(x + 4 * (size_t)i + 8, &e2, 4); memcpy(x + 4 * (size_t)i + 12, &e3, 4);
    s0 += e0; s1 += e1; s2 += e2; s3 += e3;
  }
  sum = (s0 + s1) + (s2 + s3);
  for (; i < n; i++) {
    float e = exp_f32(ldf(x + 4 * (size_t)i) - max);
    memcpy(x + 4 * (size_t)i, &e, 4);
    sum += e;
  }
  for (int32_t j = 0; j < n; j++) { float v = ldf(x + 4 * (size_t)j) / sum; memcpy(x + 4 * (size_t)j, &v, 4); }
}

void nk_kv_head(uint8_t *out, uint8_t *att, const uint8_t *q, const int8_t *keys, const uint8_t *ks, const int8_t *values,
                const uint8_t *vs, int32_t n, int32_t hs, int32_t kvDim, int32_t nkv, float sqrtHs) {
  nk_kv_scores(att, q, keys, ks, n, hs, kvDim, nkv, sqrtHs);
  softmax_f32(att, n);
  nk_kv_mix(out, att, values, vs, n, hs, kvDim, nkv);
}
