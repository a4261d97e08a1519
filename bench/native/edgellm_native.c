/* Baseline for `edgellm bench`: the same Llama forward pass as assembly/model/forward.ts,
 * in plain C (f32, no SIMD intrinsics, no threads), compiled with gcc -O3 like llama2.c's
 * run.c. Reads an f32 edgellm model file (docs/model-format.md), decodes greedily from BOS
 * for N positions, prints the token ids and one JSON line of statistics.
 *
 * usage: edgellm-native MODEL.ellm STEPS [REPEATS] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { HEADER_BYTES = 128, ENTRY_BYTES = 32, QT_F32 = 0 };
enum { K_EMB, K_RMS_ATT, K_WQ, K_WK, K_WV, K_WO, K_RMS_FFN, K_W1, K_W2, K_W3, K_RMS_FINAL, K_CLS, N_KINDS };

typedef struct {
    int dim, hidden, layers, heads, kv_heads, vocab, seq_len;
    float rope_theta, norm_eps;
} Config;

typedef struct {
    const float *emb, *rms_final, *cls;
    const float **w[N_KINDS]; /* per-layer tensors: w[kind][layer] */
} Weights;

typedef struct {
    float *x, *xb, *xb2, *hb, *hb2, *q, *att, *logits; /* [dim] ×3, [hidden] ×2, [dim], [seq], [vocab] */
    float *key_cache, *value_cache;                      /* [layers][seq][kv_dim] */
} RunState;

static size_t g_allocated; /* bytes malloc'd for weights + state: the peak memory we report */

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (!p) { fprintf(stderr, "edgellm-native: out of memory\n"); exit(1); }
    g_allocated += n * size;
    return p;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps) {
    float ss = 0.0f;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    ss = ss / n + eps;
    ss = 1.0f / sqrtf(ss);
    for (int i = 0; i < n; i++) o[i] = w[i] * (ss * x[i]);
}

static void softmax(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++) if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - max); sum += x[i]; }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

/* y[d] = W[d][n] x[n] */
static void matvec(float *y, const float *x, const float *w, int n, int d) {
    for (int i = 0; i < d; i++) {
        float s = 0.0f;
        const float *row = w + (size_t)i * n;
        for (int j = 0; j < n; j++) s += row[j] * x[j];
        y[i] = s;
    }
}

static float *forward(const Config *c, const Weights *w, RunState *s, int token, int pos) {
    int dim = c->dim, hs = dim / c->heads, kv_dim = hs * c->kv_heads, kv_mul = c->heads / c->kv_heads;
    memcpy(s->x, w->emb + (size_t)token * dim, dim * sizeof(float));
    for (int l = 0; l < c->layers; l++) {
        rmsnorm(s->xb, s->x, w->w[K_RMS_ATT][l], dim, c->norm_eps);
        size_t off = ((size_t)l * c->seq_len + pos) * kv_dim;
        float *k = s->key_cache + off, *v = s->value_cache + off;
        matvec(s->q, s->xb, w->w[K_WQ][l], dim, dim);
        matvec(k, s->xb, w->w[K_WK][l], dim, kv_dim);
        matvec(v, s->xb, w->w[K_WV][l], dim, kv_dim);
        for (int i = 0; i < dim; i += 2) {
            int hd = i % hs;
            float val = pos * (1.0f / powf(c->rope_theta, hd / (float)hs));
            float fcr = cosf(val), fci = sinf(val);
            for (int which = 0; which < (i < kv_dim ? 2 : 1); which++) {
                float *vec = which == 0 ? s->q : k;
                float v0 = vec[i], v1 = vec[i + 1];
                vec[i] = v0 * fcr - v1 * fci;
                vec[i + 1] = v0 * fci + v1 * fcr;
            }
        }
        for (int h = 0; h < c->heads; h++) {
            const float *q = s->q + h * hs;
            float *att = s->att;
            for (int t = 0; t <= pos; t++) {
                const float *kt = s->key_cache + ((size_t)l * c->seq_len + t) * kv_dim + (h / kv_mul) * hs;
                float score = 0.0f;
                for (int i = 0; i < hs; i++) score += q[i] * kt[i];
                att[t] = score / sqrtf((float)hs);
            }
            softmax(att, pos + 1);
            float *out = s->xb + h * hs;
            memset(out, 0, hs * sizeof(float));
            for (int t = 0; t <= pos; t++) {
                const float *vt = s->value_cache + ((size_t)l * c->seq_len + t) * kv_dim + (h / kv_mul) * hs;
                for (int i = 0; i < hs; i++) out[i] += att[t] * vt[i];
            }
        }
        matvec(s->xb2, s->xb, w->w[K_WO][l], dim, dim);
        for (int i = 0; i < dim; i++) s->x[i] += s->xb2[i];
        rmsnorm(s->xb, s->x, w->w[K_RMS_FFN][l], dim, c->norm_eps);
        matvec(s->hb, s->xb, w->w[K_W1][l], dim, c->hidden);
        matvec(s->hb2, s->xb, w->w[K_W3][l], dim, c->hidden);
        for (int i = 0; i < c->hidden; i++) {
            float v0 = s->hb[i];
            s->hb[i] = v0 * (1.0f / (1.0f + expf(-v0))) * s->hb2[i];
        }
        matvec(s->xb, s->hb, w->w[K_W2][l], c->hidden, dim);
        for (int i = 0; i < dim; i++) s->x[i] += s->xb[i];
    }
    rmsnorm(s->x, s->x, w->rms_final, dim, c->norm_eps);
    matvec(s->logits, s->x, w->cls, dim, c->vocab);
    return s->logits;
}

/* Maps the f32 tensors of an edgellm file; returns an error message or NULL. */
static const char *map_model(const uint8_t *p, size_t n, Config *c, Weights *w) {
    if (n < HEADER_BYTES || rd32(p) != 0x4d4c4c45u) return "not an edgellm model file";
    if (rd32(p + 64) != n) return "file size does not match its header";
    c->dim = rd32(p + 16); c->hidden = rd32(p + 20); c->layers = rd32(p + 24); c->heads = rd32(p + 28);
    c->kv_heads = rd32(p + 32); c->vocab = rd32(p + 36); c->seq_len = rd32(p + 40);
    memcpy(&c->rope_theta, p + 44, 4); memcpy(&c->norm_eps, p + 48, 4);
    if (c->dim <= 0 || c->dim > 8192 || c->layers <= 0 || c->layers > 256 || c->heads <= 0 || c->kv_heads <= 0 ||
        c->vocab <= 0 || c->seq_len <= 0 || c->seq_len > 65536 || c->hidden <= 0 || c->dim % c->heads) return "bad config";
    uint32_t nt = rd32(p + 52);
    if (HEADER_BYTES + (size_t)nt * ENTRY_BYTES > n) return "tensor table out of bounds";
    for (int k = 0; k < N_KINDS; k++) w->w[k] = xcalloc(c->layers, sizeof(float *));
    for (uint32_t i = 0; i < nt; i++) {
        const uint8_t *e = p + HEADER_BYTES + i * ENTRY_BYTES;
        uint32_t kind = rd32(e), layer = rd32(e + 4), qt = rd32(e + 8), off = rd32(e + 24), bytes = rd32(e + 28);
        if (qt != QT_F32) return "the native baseline runs f32 models only";
        if (kind >= N_KINDS || layer >= (uint32_t)c->layers || (size_t)off + bytes > n) return "bad tensor entry";
        const float *data = (const float *)(p + off);
        if (kind == K_EMB) w->emb = data;
        else if (kind == K_RMS_FINAL) w->rms_final = data;
        else if (kind == K_CLS) w->cls = data;
        else w->w[kind][layer] = data;
    }
    if (!w->cls) w->cls = w->emb; /* tied classifier */
    return w->emb && w->rms_final ? NULL : "missing tensors";
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: edgellm-native MODEL.ellm STEPS [REPEATS]\n"); return 2; }
    int steps = atoi(argv[2]), repeats = argc > 3 ? atoi(argv[3]) : 3;
    FILE *f = fopen(argv[1], "rb");
    if (!f) { fprintf(stderr, "edgellm-native: %s: cannot open\n", argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *file = n > 0 ? malloc((size_t)n) : NULL;
    if (!file || fread(file, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "edgellm-native: %s: cannot read\n", argv[1]); return 1; }
    fclose(f);
    g_allocated += (size_t)n;
    Config c; Weights w = {0};
    const char *err = map_model(file, (size_t)n, &c, &w);
    if (err) { fprintf(stderr, "edgellm-native: %s: %s\n", argv[1], err); return 1; }
    if (steps <= 0 || steps > c.seq_len) steps = c.seq_len;
    int kv_dim = c.dim / c.heads * c.kv_heads;
    RunState s;
    s.x = xcalloc(c.dim, 4); s.xb = xcalloc(c.dim, 4); s.xb2 = xcalloc(c.dim, 4);
    s.hb = xcalloc(c.hidden, 4); s.hb2 = xcalloc(c.hidden, 4); s.q = xcalloc(c.dim, 4);
    s.att = xcalloc(c.seq_len, 4); s.logits = xcalloc(c.vocab, 4);
    s.key_cache = xcalloc((size_t)c.layers * c.seq_len * kv_dim, 4);
    s.value_cache = xcalloc((size_t)c.layers * c.seq_len * kv_dim, 4);
    int *tokens = calloc(steps + 1, sizeof(int));
    double best = 1e30;
    int ran = 0;
    for (int r = 0; r < repeats; r++) {
        int token = 1, pos = 0;
        double t0 = now_s();
        for (; pos < steps; pos++) {
            float *logits = forward(&c, &w, &s, token, pos);
            int next = 0;
            for (int i = 1; i < c.vocab; i++) if (logits[i] > logits[next]) next = i;
            tokens[pos] = next;
            if (next == 1) { pos++; break; }
            token = next;
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
        ran = pos;
    }
    for (int i = 0; i < ran; i++) printf("%d%c", tokens[i], i + 1 < ran ? ' ' : '\n');
    printf("{\"engine\":\"native-c\",\"quant\":\"f32\",\"positions\":%d,\"tokens_per_s\":%.1f,\"peak_memory_bytes\":%zu}\n",
           ran, ran / best, g_allocated);
    free(tokens);
    return 0;
}
