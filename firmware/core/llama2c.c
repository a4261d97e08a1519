// Recognises llama2.c checkpoints, which `edgellm run` reads but the firmware does not: the
// firmware says what the file is and how to convert it, instead of "bad magic".
#include <string.h>
#include "fw_internal.h"

static int32_t rd_i32(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

// v0 (legacy fp32): seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
// seq_len; vocab negative when the classifier is separate), then the f32 tensors. The file must
// be exactly that long, with or without the RoPE tables older exports carry.
static int is_v0(const uint8_t *b, size_t n) {
  if (n < 28) return 0;
  int64_t dim = rd_i32(b), hidden = rd_i32(b + 4), layers = rd_i32(b + 8), heads = rd_i32(b + 12);
  int64_t kv = rd_i32(b + 16), vocab = rd_i32(b + 20), seq = rd_i32(b + 24);
  int shared = vocab > 0;
  if (vocab < 0) vocab = -vocab;
  if (dim <= 0 || dim > 8192 || hidden <= 0 || hidden > 32768 || layers <= 0 || layers > 256 || heads <= 0 ||
      heads > 256 || kv <= 0 || kv > heads || vocab <= 0 || vocab > 262144 || seq <= 0 || seq > 65536 || dim % heads)
    return 0;
  int64_t hs = dim / heads, kvdim = hs * kv;
  int64_t floats = vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * dim * kvdim + 3 * dim * hidden) + dim;
  if (!shared) floats += vocab * dim;
  int64_t rope = seq * hs; // freq_cis_real and freq_cis_imag, seq × hs/2 each
  return (uint64_t)n == 28 + 4 * (uint64_t)floats || (uint64_t)n == 28 + 4 * (uint64_t)(floats + rope);
}

const char *fw_llama2c_kind(const uint8_t *b, size_t n) {
  if (n >= 4 && rd_i32(b) == 0x616b3432) return /* "ak42" */ "a llama2.c int8 (v2) checkpoint";
  if (is_v0(b, n)) return "a llama2.c fp32 (v0) checkpoint";
  return NULL;
}
