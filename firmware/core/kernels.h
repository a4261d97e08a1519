// Native matvec kernels over weights held by the host (flash / mmap), bit-identical to the
// module's MVP kernels (assembly/kernels): same association order, no FMA, exact integer sums.
#ifndef EDGELLM_KERNELS_H
#define EDGELLM_KERNELS_H
#include <stdint.h>

// Quantization type ids (docs/model-format.md), append-only; their traits: NK_QTYPES.
enum { QT_F32 = 0, QT_Q8 = 1, QT_T2 = 2, QT_Q4 = 3, QT_T5 = 4, QT_COUNT = 5 }; // 5: f16 in adapter files
enum { NK_SCALES_NONE = 0, NK_SCALES_PER_ROW = 1, NK_SCALES_PER_GROUP = 2 };

typedef struct {
  const char *name;        // as the host and the fleet spell it
  int32_t block_weights;   // a row is ceil(cols / block_weights) blocks of block_bytes
  int32_t block_bytes;
  int32_t scales;          // NK_SCALES_*: f32 scales after the codes (per row: group is 0)
  int32_t act_pad;         // 0: reads x f32 [cols]; else xq int8 [cols rounded up to act_pad]
  void (*matvec)(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t rows, int32_t cols,
                 float *y, const float *x, const int8_t *xq, float sa);
  void (*row)(const uint8_t *w, const uint8_t *ws, int32_t group, int32_t r, int32_t cols, float *out);
} nk_qtype;

extern const nk_qtype NK_QTYPES[QT_COUNT];
// The traits of a type id, or NULL for an unknown one.
const nk_qtype *nk_qtype_of(uint32_t qtype);

// Bytes a tensor of this type and shape occupies; -1 for an invalid shape.
int64_t nk_tensor_bytes(uint32_t qtype, int32_t rows, int32_t cols, int32_t group);

// Offset of the f32 scales from the start of a tensor; -1 for f32 or unknown.
int64_t nk_scales_offset(uint32_t qtype, int32_t rows, int32_t cols);

// y[rows] = W · x. f32: x f32 [cols]; q8/t2/q4/t5: xq int8 [pad64(cols)] with scale sa.
// w and ws may be unaligned (flash), so every load goes through memcpy.
void nk_matvec(uint32_t qtype, const uint8_t *w, const uint8_t *ws, int32_t group, int32_t rows,
               int32_t cols, float *y, const float *x, const int8_t *xq, float sa);

// out[cols] = dequantized row r (embedding lookup).
void nk_row(uint32_t qtype, const uint8_t *w, const uint8_t *ws, int32_t group, int32_t r,
            int32_t cols, float *out);
// Attention over an int8 KV cache, as assembly/model/forward.ts computes it (kernels/native.ts):
// att[t] = dot(q, k_t) · ks_t / sqrtHs; out = Σ_t (att[t] · vs_t) · v_t. Guest buffers may be
// unaligned; k_t = keys + t·kvDim, ks_t = f32 at ks + 4·t·nkv (same for values).
void nk_kv_scores(uint8_t *att, const uint8_t *q, const int8_t *keys, const uint8_t *ks, int32_t n,
                  int32_t hs, int32_t kvDim, int32_t nkv, float sqrtHs);
void nk_kv_mix(uint8_t *out, const uint8_t *att, const int8_t *values, const uint8_t *vs, int32_t n,
               int32_t hs, int32_t kvDim, int32_t nkv);
// A host-held adapter on one matrix, as assembly/kernels/lora.ts loraForward computes it:
// u[rank] = A x, y[out] += k · (B u), each dot in the module's dotF32 order (four partial sums,
// then the tail). a [rank][in] and b [out][rank] in storage 0 (f32) or 5 (f16), maybe unaligned;
// y and x are guest buffers (unaligned loads/stores); rank ≤ 256.
void nk_lora_apply(uint32_t storage, const uint8_t *a, const uint8_t *b, int32_t rank, int32_t in, int32_t out,
                   float k, uint8_t *y, const uint8_t *x);
// Batched prefill (module kernels/native.ts wMatmul): up to three matrices of one type and
// group reading the same n inputs (x f32 [n][cols]; xq int8 [n][stride] with scales sa [n]),
// each y [n][rows] a guest buffer (maybe unaligned). Equal bit for bit to n·nm nk_matvec calls (input
// by input, matrices in order); ternary rows are read once per 4 inputs.
typedef struct { const uint8_t *w, *ws; int32_t rows; float *y; } nk_mat;
void nk_matmul(uint32_t qtype, int32_t group, int32_t cols, int32_t n, const float *x, const int8_t *xq, int32_t stride,
               const float *sa, const nk_mat *mats, int32_t nm);
// nk_lora_apply for n inputs x [n][in] into y [n][out] (module kernels/lora.ts loraForwardBlock).
void nk_lora_apply_block(uint32_t storage, const uint8_t *a, const uint8_t *b, int32_t rank, int32_t in, int32_t out,
                         float k, uint8_t *y, const uint8_t *x, int32_t n);
// The module's elementwise glue (kernels/q8.ts quantizeActs, kernels/f32.ts swiglu, one
// attention head over an int8 cache: scores, softmax, weighted values), the same f32
// operations in the same order as its MVP build. Guest buffers, maybe unaligned.
float nk_quantize(int8_t *q, const uint8_t *x, int32_t n, int32_t pad);
void nk_swiglu(uint8_t *h, const uint8_t *g, int32_t n);
void nk_kv_head(uint8_t *out, uint8_t *att, const uint8_t *q, const int8_t *keys, const uint8_t *ks, const int8_t *values,
                const uint8_t *vs, int32_t n, int32_t hs, int32_t kvDim, int32_t nkv, float sqrtHs);
#endif
