// The one import link table: every host function the module may import, with its wasm3
// signature. Each one checks guest pointers against linear memory (and host offsets against
// the model file) before touching anything, and traps with a message otherwise.
#include <stdio.h>
#include <string.h>
#include "fw_internal.h"
#include "kernels.h"
#include "platform.h"

static const char k_trap_guest[] = "[trap] host function given an out-of-range guest pointer";
static const char k_trap_host[] = "[trap] host function given an out-of-range model offset";
static const char k_trap_abort[] = "[trap] module aborted";
static const char k_trap_arg[] = "[trap] host function given an invalid argument";

#define FW ((fw *)_ctx->userdata)

static int guest_ok(IM3Runtime rt, uint32_t off, uint64_t len) {
  return (uint64_t)off + len <= (uint64_t)m3_GetMemorySize(rt);
}

static int model_ok(fw *f, uint32_t off, uint64_t len) {
  return f->model && (uint64_t)off + len <= (uint64_t)f->model_len;
}

// Traps with a short detail for the error line; fmt names the function and its arguments.
#define REFUSE(code, ...) do { snprintf(FW->trap, sizeof FW->trap, __VA_ARGS__); m3ApiTrap(code); } while (0)

// env.abort(msg, file, line, col): an assertion inside the module. msg/file are
// AssemblyScript strings (UTF-16, byte length at ptr - 4); printed as ASCII when in range.
static void as_string(IM3Runtime rt, const uint8_t *mem, uint32_t p, char *out, size_t cap) {
  out[0] = 0;
  if (p < 4 || !guest_ok(rt, p - 4, 4)) return;
  uint32_t n; memcpy(&n, mem + p - 4, 4);
  if (!guest_ok(rt, p, n)) return;
  size_t k = 0;
  for (uint32_t i = 0; i + 1 < n && k + 1 < cap; i += 2) {
    uint8_t c = mem[p + i];
    out[k++] = (c >= 32 && c < 127 && mem[p + i + 1] == 0) ? (char)c : '?';
  }
  out[k] = 0;
}

static m3ApiRawFunction(h_abort) {
  m3ApiGetArg(uint32_t, msg) m3ApiGetArg(uint32_t, file) m3ApiGetArg(int32_t, line) m3ApiGetArg(int32_t, col)
  char m[64], fl[64];
  as_string(runtime, _mem, msg, m, sizeof m);
  as_string(runtime, _mem, file, fl, sizeof fl);
  REFUSE(k_trap_abort, "%s at %s:%d:%d", m[0] ? m : "(no message)", fl[0] ? fl : "?", (int)line, (int)col);
}

// env.log(ptr, len): UTF-8 text for the platform log.
static m3ApiRawFunction(h_log) {
  m3ApiGetArg(uint32_t, p) m3ApiGetArg(uint32_t, n)
  if (!guest_ok(runtime, p, n)) REFUSE(k_trap_guest, "log(ptr=%u, len=%u)", p, n);
  char line[256];
  size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
  memcpy(line, (uint8_t *)_mem + p, k);
  line[k] = 0;
  plat_log(line);
  m3ApiSuccess();
}

// env.clockUs(): monotonic microseconds.
static m3ApiRawFunction(h_clock) {
  m3ApiReturnType(int64_t)
  m3ApiReturn((int64_t)plat_now_us());
}

// env.wRead(dst, off, len): copy model-file bytes [off, off+len) into linear memory.
static m3ApiRawFunction(h_wread) {
  m3ApiReturnType(int32_t)
  m3ApiGetArg(uint32_t, dst) m3ApiGetArg(uint32_t, off) m3ApiGetArg(uint32_t, len)
  if (!guest_ok(runtime, dst, len)) REFUSE(k_trap_guest, "wRead(dst=%u, len=%u)", dst, len);
  if (!model_ok(FW, off, len)) REFUSE(k_trap_host, "wRead(off=%u, len=%u)", off, len);
  memcpy((uint8_t *)_mem + dst, FW->model + off, len);
  m3ApiReturn(0);
}

static int adapter_ok(fw *f, uint32_t index, uint64_t off, uint64_t len) {
  return index < (uint32_t)f->n_adapters && off + len <= (uint64_t)f->adapters[index].len;
}

// env.aRead(adapter, dst, off, len): copy bytes [off, off+len) of a host-held adapter file.
static m3ApiRawFunction(h_aread) {
  m3ApiReturnType(int32_t)
  m3ApiGetArg(uint32_t, index) m3ApiGetArg(uint32_t, dst) m3ApiGetArg(uint32_t, off) m3ApiGetArg(uint32_t, len)
  if (!guest_ok(runtime, dst, len)) REFUSE(k_trap_guest, "aRead(dst=%u, len=%u)", dst, len);
  if (!adapter_ok(FW, index, off, len)) REFUSE(k_trap_host, "aRead(adapter=%u, off=%u, len=%u)", index, off, len);
  memcpy((uint8_t *)_mem + dst, FW->adapters[index].bytes + off, len);
  m3ApiReturn(0);
}

// env.gRead(dst, off, len): copy bytes [off, off+len) of the host-held grammar file
// (grammarLoadExternal: the tables the matcher reads per state, in chunks).
static m3ApiRawFunction(h_gread) {
  m3ApiReturnType(int32_t)
  m3ApiGetArg(uint32_t, dst) m3ApiGetArg(uint32_t, off) m3ApiGetArg(uint32_t, len)
  if (!guest_ok(runtime, dst, len)) REFUSE(k_trap_guest, "gRead(dst=%u, len=%u)", dst, len);
  if (!FW->grammar || (uint64_t)off + len > (uint64_t)FW->grammar_len) REFUSE(k_trap_host, "gRead(off=%u, len=%u)", off, len);
  memcpy((uint8_t *)_mem + dst, FW->grammar + off, len);
  m3ApiReturn(0);
}

// env.exRead(index, out, cap): example `index`'s sentence then label at out; returns
// (sentence bytes << 16) | label bytes, or -1 (no such example, or cap too small).
static m3ApiRawFunction(h_exread) {
  m3ApiReturnType(int32_t)
  m3ApiGetArg(int32_t, index) m3ApiGetArg(uint32_t, out) m3ApiGetArg(int32_t, cap)
  if (index < 0 || index >= FW->n_examples || cap < 0) m3ApiReturn(-1);
  const fw_example *e = &FW->examples[index];
  uint32_t len = e->slen + e->llen;
  if (len > (uint32_t)cap || e->slen > 0xffff || e->llen > 0xffff) m3ApiReturn(-1);
  if (!guest_ok(runtime, out, len)) REFUSE(k_trap_guest, "exRead(out=%u, len=%u)", out, len);
  memcpy((uint8_t *)_mem + out, e->sentence, e->slen);
  memcpy((uint8_t *)_mem + out + e->slen, e->label, e->llen);
  m3ApiReturn((int32_t)((e->slen << 16) | e->llen));
}

// env.loraApply(adapter, storage, aOff, bOff, rank, in, out, k, y, x): y += k·B(A x), host-held A, B.
static m3ApiRawFunction(h_lora_apply) {
  m3ApiGetArg(uint32_t, index) m3ApiGetArg(uint32_t, storage) m3ApiGetArg(uint32_t, a_off) m3ApiGetArg(uint32_t, b_off)
  m3ApiGetArg(int32_t, rank) m3ApiGetArg(int32_t, in) m3ApiGetArg(int32_t, out) m3ApiGetArg(float, k)
  m3ApiGetArg(uint32_t, y) m3ApiGetArg(uint32_t, x)
  uint64_t per = storage == 0 ? 4 : 2;
  if ((storage != 0 && storage != 5) || rank < 1 || rank > 256 || in < 1 || out < 1)
    REFUSE(k_trap_arg, "loraApply(storage=%u, rank=%d, in=%d, out=%d)", storage, rank, in, out);
  if (!adapter_ok(FW, index, a_off, per * (uint64_t)rank * (uint64_t)in) || !adapter_ok(FW, index, b_off, per * (uint64_t)out * (uint64_t)rank))
    REFUSE(k_trap_host, "loraApply(adapter=%u, a=%u, b=%u)", index, a_off, b_off);
  if (!guest_ok(runtime, y, 4 * (uint64_t)out) || !guest_ok(runtime, x, 4 * (uint64_t)in))
    REFUSE(k_trap_guest, "loraApply(y=%u, x=%u, in=%d, out=%d)", y, x, in, out);
  const uint8_t *base = FW->adapters[index].bytes;
  uint8_t *m = (uint8_t *)_mem;
  nk_lora_apply(storage, base + a_off, base + b_off, rank, in, out, k, m + y, m + x);
  m3ApiSuccess();
}

// env.loraApplyBlock(adapter, storage, aOff, bOff, rank, in, out, k, y, x, n): loraApply for n
// inputs x [n][in] into y [n][out].
static m3ApiRawFunction(h_lora_apply_block) {
  m3ApiGetArg(uint32_t, index) m3ApiGetArg(uint32_t, storage) m3ApiGetArg(uint32_t, a_off) m3ApiGetArg(uint32_t, b_off)
  m3ApiGetArg(int32_t, rank) m3ApiGetArg(int32_t, in) m3ApiGetArg(int32_t, out) m3ApiGetArg(float, k)
  m3ApiGetArg(uint32_t, y) m3ApiGetArg(uint32_t, x) m3ApiGetArg(int32_t, n)
  uint64_t per = storage == 0 ? 4 : 2;
  if ((storage != 0 && storage != 5) || rank < 1 || rank > 256 || in < 1 || out < 1 || n < 1)
    REFUSE(k_trap_arg, "loraApplyBlock(storage=%u, rank=%d, in=%d, out=%d, n=%d)", storage, rank, in, out, n);
  if (!adapter_ok(FW, index, a_off, per * (uint64_t)rank * (uint64_t)in) || !adapter_ok(FW, index, b_off, per * (uint64_t)out * (uint64_t)rank))
    REFUSE(k_trap_host, "loraApplyBlock(adapter=%u, a=%u, b=%u)", index, a_off, b_off);
  if (!guest_ok(runtime, y, 4 * (uint64_t)out * (uint64_t)n) || !guest_ok(runtime, x, 4 * (uint64_t)in * (uint64_t)n))
    REFUSE(k_trap_guest, "loraApplyBlock(y=%u, x=%u, in=%d, out=%d, n=%d)", y, x, in, out, n);
  const uint8_t *base = FW->adapters[index].bytes;
  uint8_t *m = (uint8_t *)_mem;
  nk_lora_apply_block(storage, base + a_off, base + b_off, rank, in, out, k, m + y, m + x, n);
  m3ApiSuccess();
}

// Checks a host-side tensor [data, data + bytes) of this type and shape.
static int tensor_ok(fw *f, uint32_t qtype, uint32_t data, int32_t group, int32_t rows, int32_t cols) {
  if (nk_qtype_of(qtype) == NULL || rows <= 0 || cols <= 0) return 0;
  int64_t bytes = nk_tensor_bytes(qtype, rows, cols, group);
  return bytes > 0 && model_ok(f, data, (uint64_t)bytes);
}

static const uint8_t *scales_of(const uint8_t *w, uint32_t qtype, int32_t rows, int32_t cols) {
  int64_t off = nk_scales_offset(qtype, rows, cols);
  return off < 0 ? NULL : w + off;
}

// env.wMatvec(qtype, data, group, rows, cols, y, x, xq, sa): y = W·x for a host-held matrix.
static m3ApiRawFunction(h_wmatvec) {
  m3ApiGetArg(uint32_t, qtype) m3ApiGetArg(uint32_t, data) m3ApiGetArg(int32_t, group)
  m3ApiGetArg(int32_t, rows) m3ApiGetArg(int32_t, cols) m3ApiGetArg(uint32_t, y)
  m3ApiGetArg(uint32_t, x) m3ApiGetArg(uint32_t, xq) m3ApiGetArg(float, sa)
  if (!tensor_ok(FW, qtype, data, group, rows, cols))
    REFUSE(k_trap_host, "wMatvec(qtype=%u, data=%u, rows=%d, cols=%d)", qtype, data, rows, cols);
  int32_t pad = NK_QTYPES[qtype].act_pad;
  uint64_t xin = pad == 0 ? (uint64_t)cols * 4 : (uint64_t)(cols + pad - 1) / pad * pad;
  uint32_t xp = pad == 0 ? x : xq;
  if (!guest_ok(runtime, y, (uint64_t)rows * 4) || !guest_ok(runtime, xp, xin))
    REFUSE(k_trap_guest, "wMatvec(y=%u, x=%u, rows=%d, cols=%d)", y, xp, rows, cols);
  const uint8_t *w = FW->model + data;
  uint8_t *m = (uint8_t *)_mem;
  nk_matvec(qtype, w, scales_of(w, qtype, rows, cols), group, rows, cols, (float *)(m + y),
            (const float *)(m + x), (const int8_t *)(m + xq), sa);
  m3ApiSuccess();
}

// env.wMatmul(qtype, group, cols, n, x, xq, xqStride, sa, dataA, rowsA, yA, dataB, rowsB, yB,
// dataC, rowsC, yC): up to three host matrices (rows 0: absent; A present) on n inputs.
static m3ApiRawFunction(h_wmatmul) {
  m3ApiGetArg(uint32_t, qtype) m3ApiGetArg(int32_t, group) m3ApiGetArg(int32_t, cols) m3ApiGetArg(int32_t, n)
  m3ApiGetArg(uint32_t, x) m3ApiGetArg(uint32_t, xq) m3ApiGetArg(int32_t, stride) m3ApiGetArg(uint32_t, sa)
  uint32_t data[3], y[3];
  int32_t rows[3];
  for (int i = 0; i < 3; i++) { m3ApiGetArg(uint32_t, d) m3ApiGetArg(int32_t, r) m3ApiGetArg(uint32_t, yy) data[i] = d; rows[i] = r; y[i] = yy; }
  if (nk_qtype_of(qtype) == NULL || n < 1 || cols < 1 || rows[0] < 1)
    REFUSE(k_trap_arg, "wMatmul(qtype=%u, n=%d, cols=%d, rows=%d)", qtype, n, cols, rows[0]);
  int32_t pad = NK_QTYPES[qtype].act_pad;
  uint64_t xin = pad == 0 ? (uint64_t)cols * 4 : (uint64_t)(cols + pad - 1) / pad * pad;
  if (pad != 0 && (stride < 0 || (uint64_t)stride < xin)) REFUSE(k_trap_arg, "wMatmul(xqStride=%d, cols=%d)", stride, cols);
  uint64_t xbytes = pad == 0 ? xin * (uint64_t)n : (uint64_t)(n - 1) * (uint64_t)stride + xin;
  if (!guest_ok(runtime, pad == 0 ? x : xq, xbytes) || !guest_ok(runtime, sa, 4 * (uint64_t)n))
    REFUSE(k_trap_guest, "wMatmul(x=%u, xq=%u, sa=%u, n=%d, cols=%d)", x, xq, sa, n, cols);
  nk_mat mats[3];
  int32_t nm = 0;
  uint8_t *m = (uint8_t *)_mem;
  for (int i = 0; i < 3 && rows[i] != 0; i++, nm++) {
    if (!tensor_ok(FW, qtype, data[i], group, rows[i], cols))
      REFUSE(k_trap_host, "wMatmul(qtype=%u, data=%u, rows=%d, cols=%d)", qtype, data[i], rows[i], cols);
    if (!guest_ok(runtime, y[i], (uint64_t)rows[i] * 4 * (uint64_t)n))
      REFUSE(k_trap_guest, "wMatmul(y=%u, rows=%d, n=%d)", y[i], rows[i], n);
    const uint8_t *w = FW->model + data[i];
    mats[nm] = (nk_mat){ w, scales_of(w, qtype, rows[i], cols), rows[i], (float *)(m + y[i]) };
  }
  nk_matmul(qtype, group, cols, n, (const float *)(m + x), (const int8_t *)(m + xq), stride, (const float *)(m + sa), mats, nm);
  m3ApiSuccess();
}

// env.wRow(qtype, data, group, rows, cols, r, out): out[cols] = dequantized row r.
static m3ApiRawFunction(h_wrow) {
  m3ApiGetArg(uint32_t, qtype) m3ApiGetArg(uint32_t, data) m3ApiGetArg(int32_t, group)
  m3ApiGetArg(int32_t, rows) m3ApiGetArg(int32_t, cols) m3ApiGetArg(int32_t, r) m3ApiGetArg(uint32_t, out)
  if (!tensor_ok(FW, qtype, data, group, rows, cols) || r < 0 || r >= rows)
    REFUSE(k_trap_host, "wRow(qtype=%u, data=%u, rows=%d, cols=%d, r=%d)", qtype, data, rows, cols, r);
  if (!guest_ok(runtime, out, (uint64_t)cols * 4)) REFUSE(k_trap_guest, "wRow(out=%u, cols=%d)", out, cols);
  const uint8_t *w = FW->model + data;
  nk_row(qtype, w, scales_of(w, qtype, rows, cols), group, r, cols, (float *)((uint8_t *)_mem + out));
  m3ApiSuccess();
}

// Guest bytes of n rows of `row` bytes each, `stride` apart: (n-1)·stride + row.
static uint64_t strided(int32_t n, int32_t stride, uint64_t row) { return (uint64_t)(n - 1) * (uint64_t)stride + row; }

// env.kvScores(att, q, keys, kScales, n, hs, kvDim, nKvHeads, sqrtHs): attention scores over
// an int8 key cache (nk_kv_scores).
static m3ApiRawFunction(h_kv_scores) {
  m3ApiGetArg(uint32_t, att) m3ApiGetArg(uint32_t, q) m3ApiGetArg(uint32_t, keys) m3ApiGetArg(uint32_t, ks)
  m3ApiGetArg(int32_t, n) m3ApiGetArg(int32_t, hs) m3ApiGetArg(int32_t, kvDim) m3ApiGetArg(int32_t, nkv)
  m3ApiGetArg(float, sqrtHs)
  if (n <= 0 || hs <= 0 || kvDim < 0 || nkv <= 0) REFUSE(k_trap_guest, "kvScores(n=%d, hs=%d, kvDim=%d, nKvHeads=%d)", n, hs, kvDim, nkv);
  if (!guest_ok(runtime, att, (uint64_t)n * 4) || !guest_ok(runtime, q, (uint64_t)hs * 4) ||
      !guest_ok(runtime, keys, strided(n, kvDim, (uint64_t)hs)) || !guest_ok(runtime, ks, strided(n, nkv * 4, 4)))
    REFUSE(k_trap_guest, "kvScores(att=%u, q=%u, keys=%u, scales=%u, n=%d)", att, q, keys, ks, n);
  uint8_t *m = (uint8_t *)_mem;
  nk_kv_scores(m + att, m + q, (const int8_t *)(m + keys), m + ks, n, hs, kvDim, nkv, sqrtHs);
  m3ApiSuccess();
}

// env.kvMix(out, att, values, vScales, n, hs, kvDim, nKvHeads): weighted sum of int8 values.
static m3ApiRawFunction(h_kv_mix) {
  m3ApiGetArg(uint32_t, out) m3ApiGetArg(uint32_t, att) m3ApiGetArg(uint32_t, vals) m3ApiGetArg(uint32_t, vs)
  m3ApiGetArg(int32_t, n) m3ApiGetArg(int32_t, hs) m3ApiGetArg(int32_t, kvDim) m3ApiGetArg(int32_t, nkv)
  if (n <= 0 || hs <= 0 || kvDim < 0 || nkv <= 0) REFUSE(k_trap_guest, "kvMix(n=%d, hs=%d, kvDim=%d, nKvHeads=%d)", n, hs, kvDim, nkv);
  if (!guest_ok(runtime, out, (uint64_t)hs * 4) || !guest_ok(runtime, att, (uint64_t)n * 4) ||
      !guest_ok(runtime, vals, strided(n, kvDim, (uint64_t)hs)) || !guest_ok(runtime, vs, strided(n, nkv * 4, 4)))
    REFUSE(k_trap_guest, "kvMix(out=%u, att=%u, values=%u, scales=%u, n=%d)", out, att, vals, vs, n);
  uint8_t *m = (uint8_t *)_mem;
  nk_kv_mix(m + out, m + att, (const int8_t *)(m + vals), m + vs, n, hs, kvDim, nkv);
  m3ApiSuccess();
}

// env.quantizeActs(q, x, n, qPad) → scale: the module's activation quantizer (nk_quantize).
static m3ApiRawFunction(h_quantize) {
  m3ApiReturnType(float)
  m3ApiGetArg(uint32_t, q) m3ApiGetArg(uint32_t, x) m3ApiGetArg(int32_t, n) m3ApiGetArg(int32_t, pad)
  if (n < 0 || pad < n) REFUSE(k_trap_arg, "quantizeActs(n=%d, qPad=%d)", n, pad);
  if (!guest_ok(runtime, q, (uint64_t)pad) || !guest_ok(runtime, x, 4 * (uint64_t)n))
    REFUSE(k_trap_guest, "quantizeActs(q=%u, x=%u, n=%d, qPad=%d)", q, x, n, pad);
  uint8_t *m = (uint8_t *)_mem;
  m3ApiReturn(nk_quantize((int8_t *)(m + q), m + x, n, pad));
}

// env.swiglu(h, g, n): h = silu(h) · g in place (nk_swiglu).
static m3ApiRawFunction(h_swiglu) {
  m3ApiGetArg(uint32_t, h) m3ApiGetArg(uint32_t, g) m3ApiGetArg(int32_t, n)
  if (n < 0 || !guest_ok(runtime, h, 4 * (uint64_t)n) || !guest_ok(runtime, g, 4 * (uint64_t)n))
    REFUSE(k_trap_guest, "swiglu(h=%u, g=%u, n=%d)", h, g, n);
  uint8_t *m = (uint8_t *)_mem;
  nk_swiglu(m + h, m + g, n);
  m3ApiSuccess();
}

// env.kvHead(out, att, q, keys, kScales, values, vScales, n, hs, kvDim, nKvHeads, sqrtHs): one
// attention head over an int8 cache: kvScores, softmax, kvMix in one call (nk_kv_head).
static m3ApiRawFunction(h_kv_head) {
  m3ApiGetArg(uint32_t, out) m3ApiGetArg(uint32_t, att) m3ApiGetArg(uint32_t, q) m3ApiGetArg(uint32_t, keys)
  m3ApiGetArg(uint32_t, ks) m3ApiGetArg(uint32_t, vals) m3ApiGetArg(uint32_t, vs) m3ApiGetArg(int32_t, n)
  m3ApiGetArg(int32_t, hs) m3ApiGetArg(int32_t, kvDim) m3ApiGetArg(int32_t, nkv) m3ApiGetArg(float, sqrtHs)
  if (n <= 0 || hs <= 0 || kvDim < 0 || nkv <= 0) REFUSE(k_trap_guest, "kvHead(n=%d, hs=%d, kvDim=%d, nKvHeads=%d)", n, hs, kvDim, nkv);
  if (!guest_ok(runtime, out, (uint64_t)hs * 4) || !guest_ok(runtime, att, (uint64_t)n * 4) || !guest_ok(runtime, q, (uint64_t)hs * 4) ||
      !guest_ok(runtime, keys, strided(n, kvDim, (uint64_t)hs)) || !guest_ok(runtime, ks, strided(n, nkv * 4, 4)) ||
      !guest_ok(runtime, vals, strided(n, kvDim, (uint64_t)hs)) || !guest_ok(runtime, vs, strided(n, nkv * 4, 4)))
    REFUSE(k_trap_guest, "kvHead(out=%u, att=%u, q=%u, keys=%u, values=%u, n=%d)", out, att, q, keys, vals, n);
  uint8_t *m = (uint8_t *)_mem;
  nk_kv_head(m + out, m + att, m + q, (const int8_t *)(m + keys), m + ks, (const int8_t *)(m + vals), m + vs, n, hs, kvDim, nkv, sqrtHs);
  m3ApiSuccess();
}

// env.mqttPublish(topic, topicLen, payload, payloadLen, flags) → 0 handed to the MQTT client,
// -1 no broker. flags: bit0-1 QoS (0-2), bit2 retain. The topic is copied to a NUL-terminated
// string (topics of this protocol are under 200 bytes).
#define TOPIC_MAX 255
static m3ApiRawFunction(h_mqtt_publish) {
  m3ApiReturnType(int32_t)
  m3ApiGetArg(uint32_t, t) m3ApiGetArg(uint32_t, tn) m3ApiGetArg(uint32_t, p) m3ApiGetArg(uint32_t, pn)
  m3ApiGetArg(uint32_t, flags)
  if (!guest_ok(runtime, t, tn) || !guest_ok(runtime, p, pn))
    REFUSE(k_trap_guest, "mqttPublish(topic=%u+%u, payload=%u+%u)", t, tn, p, pn);
  if (tn == 0 || tn > TOPIC_MAX || (flags & 3) == 3 || flags > 7)
    REFUSE(k_trap_arg, "mqttPublish(topicLen=%u, flags=%u): topic 1-%d bytes, flags QoS 0-2 | 4 retain", tn, flags, TOPIC_MAX);
  const uint8_t *m = (const uint8_t *)_mem;
  char topic[TOPIC_MAX + 1];
  memcpy(topic, m + t, tn);
  topic[tn] = 0;
  if (memchr(topic, 0, tn)) REFUSE(k_trap_arg, "mqttPublish: topic holds a NUL byte");
  m3ApiReturn(plat_mqtt_publish(topic, m + p, pn, (int)(flags & 3), (int)((flags >> 2) & 1)));
}

// env.agentLog(msg, len): one log line from the module's agent (UTF-8), e.g. why a message
// was refused. Longer lines are cut at 255 bytes.
static m3ApiRawFunction(h_agent_log) {
  m3ApiGetArg(uint32_t, p) m3ApiGetArg(uint32_t, n)
  if (!guest_ok(runtime, p, n)) REFUSE(k_trap_guest, "agentLog(ptr=%u, len=%u)", p, n);
  char line[256 + 16];
  size_t k = n < 255 ? n : 255;
  memcpy(line, "[agent] ", 8);
  memcpy(line + 8, (uint8_t *)_mem + p, k);
  line[8 + k] = 0;
  plat_log(line);
  m3ApiSuccess();
}

static const struct { const char *name, *sig; M3RawCall fn; } k_imports[] = {
  { "abort",       "v(iiii)",       h_abort },
  { "log",         "v(ii)",         h_log },
  { "clockUs",     "I()",           h_clock },
  { "wRead",       "i(iii)",        h_wread },
  { "wMatvec",     "v(iiiiiiiif)",  h_wmatvec },
  { "wRow",        "v(iiiiiii)",    h_wrow },
  { "wMatmul",     "v(iiiiiiiiiiiiiiiii)", h_wmatmul },
  { "aRead",       "i(iiii)",       h_aread },
  { "gRead",       "i(iii)",        h_gread },
  { "exRead",      "i(iii)",        h_exread },
  { "loraApply",   "v(iiiiiiifii)", h_lora_apply },
  { "loraApplyBlock", "v(iiiiiiifiii)", h_lora_apply_block },
  { "kvScores",    "v(iiiiiiiif)",  h_kv_scores },
  { "kvMix",       "v(iiiiiiii)",   h_kv_mix },
  { "kvHead",      "v(iiiiiiiiiiif)", h_kv_head },
  { "quantizeActs", "f(iiii)",      h_quantize },
  { "swiglu",      "v(iii)",        h_swiglu },
  { "mqttPublish", "i(iiiii)",      h_mqtt_publish },
  { "agentLog",    "v(ii)",         h_agent_log },
};

M3Result fw_link_imports(fw *f, IM3Module m) {
  for (size_t i = 0; i < sizeof k_imports / sizeof k_imports[0]; i++) {
    M3Result r = m3_LinkRawFunctionEx(m, "env", k_imports[i].name, k_imports[i].sig, k_imports[i].fn, f);
    // A module need not import everything the table offers.
    if (r && r != m3Err_functionLookupFailed) return r;
  }
  return m3Err_none;
}
