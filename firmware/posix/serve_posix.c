// edgellm-fw serve: the firmware core as a fleet peer (docs/protocol.md) over libmosquitto.
// One task at a time on the wasm3 engine; tokens streamed while it runs; heartbeats from the
// same thread between pieces; the network thread (mosquitto_loop_start) only queues work.
// A cancel or a deadline stops the running task at the next position (fw_gen.should_stop).
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../core/fw.h"
#include "../core/platform.h"
#include "fleet_msg.h"
#include "serve_posix.h"

#define QMAX 8

typedef struct {
  struct mosquitto *mq;
  char id[FLEET_NAME_MAX + 1], fleet[FLEET_NAME_MAX + 1], base[256], model_id[160], quant[16];
  int ctx, vocab, max_queue, heartbeat_ms;
  double tok_per_sec;
  pthread_mutex_t mu; pthread_cond_t cv;
  fleet_task queue[QMAX]; int qn;
  fleet_task running; int busy, cancel_running;
  uint64_t queued_at_us[QMAX], running_deadline_us;
  // output of the running task (main thread only)
  uint8_t *out; size_t out_len, out_cap, sent; uint64_t last_flush_us, next_beat_us;
  int oom;
} peer;

static volatile sig_atomic_t g_stop = 0;

// Asked by fw_generate before every position: a cancel from the network thread, the task's
// deadline, or a signal ends the running task there.
static int running_should_stop(void *ctx) {
  peer *p = ctx;
  pthread_mutex_lock(&p->mu);
  int cancel = p->cancel_running;
  pthread_mutex_unlock(&p->mu);
  return cancel || g_stop || (p->running_deadline_us && plat_now_us() > p->running_deadline_us);
}
static void on_signal(int s) { (void)s; g_stop = 1; }

static void logf_(const char *fmt, const char *a, const char *b) {
  char line[600];
  snprintf(line, sizeof line, fmt, a, b);
  plat_log(line);
}

static void topic(peer *p, char *out, size_t n, const char *dir, const char *kind) { snprintf(out, n, "%.200s/%.8s/%.64s/%.16s", p->base, dir, p->id, kind); }

static void publish(peer *p, const char *kind, fleet_buf *b, int qos, int retain) {
  char t[400];
  topic(p, t, sizeof t, "peer", kind);
  if (b->oom) { plat_log("edgellm-fw serve: out of memory building a message"); return; }
  int rc = mosquitto_publish(p->mq, NULL, t, (int)b->len, b->data, qos, retain);
  if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) logf_("edgellm-fw serve: publish %s: %s", kind, mosquitto_strerror(rc));
}

static void send_status(peer *p, int online) {
  fleet_buf b = {0};
  FLEET_LIT(&b, "{\"v\":1,\"kind\":\"status\",\"id\":");
  fleet_buf_str(&b, p->id);
  if (!online) FLEET_LIT(&b, ",\"online\":false}");
  else {
    pthread_mutex_lock(&p->mu);
    int held = p->qn + p->busy;
    pthread_mutex_unlock(&p->mu);
    fleet_buf_fmt(&b, ",\"online\":true,\"ts\":%llu,\"impl\":\"wasm3\",\"model\":{\"id\":", (unsigned long long)time(NULL) * 1000ull);
    fleet_buf_str(&b, p->model_id);
    fleet_buf_fmt(&b, ",\"quant\":\"%s\",\"ctx\":%d,\"vocab\":%d},\"tokPerSec\":%.1f,\"freeMem\":%d,\"queue\":%d,\"maxQueue\":%d}",
                  p->quant, p->ctx, p->vocab, p->tok_per_sec, 0, held, p->max_queue);
  }
  publish(p, "status", &b, 1, 1);
  fleet_buf_free(&b);
}

static void send_ack(peer *p, const char *kind, const fleet_task *t, const char *reason) {
  fleet_buf b = {0};
  fleet_buf_fmt(&b, "{\"v\":1,\"kind\":\"%s\",\"taskId\":", kind);
  fleet_buf_str(&b, t->task_id);
  fleet_buf_fmt(&b, ",\"attempt\":%u", t->attempt);
  if (reason) { FLEET_LIT(&b, ",\"reason\":"); fleet_buf_str(&b, reason); }
  FLEET_LIT(&b, "}");
  publish(p, kind, &b, 1, 0);
  fleet_buf_free(&b);
}

static void send_result(peer *p, const fleet_task *t, const char *status, const uint8_t *data, size_t n, int tokens, double ms, const char *error) {
  fleet_buf b = {0};
  if ((n + 2) / 3 * 4 > 60000) { status = "failed"; error = "output is over the message limit"; n = 0; }
  FLEET_LIT(&b, "{\"v\":1,\"kind\":\"result\",\"taskId\":");
  fleet_buf_str(&b, t->task_id);
  fleet_buf_fmt(&b, ",\"attempt\":%u,\"status\":\"%s\",\"data\":", t->attempt, status);
  fleet_buf_b64(&b, data, n);
  fleet_buf_fmt(&b, ",\"tokens\":%d,\"elapsedMs\":%.3f", tokens, ms);
  if (error) { FLEET_LIT(&b, ",\"error\":"); fleet_buf_str(&b, error); }
  FLEET_LIT(&b, "}");
  publish(p, "result", &b, 1, 0);
  fleet_buf_free(&b);
}

static void send_heartbeat(peer *p) {
  fleet_buf b = {0};
  FLEET_LIT(&b, "{\"v\":1,\"kind\":\"heartbeat\",\"id\":");
  fleet_buf_str(&b, p->id);
  pthread_mutex_lock(&p->mu);
  fleet_buf_fmt(&b, ",\"ts\":%llu,\"queue\":%d,\"tasks\":[", (unsigned long long)time(NULL) * 1000ull, p->qn + p->busy);
  int first = 1;
  if (p->busy) { fleet_buf_str(&b, p->running.task_id); first = 0; }
  for (int i = 0; i < p->qn; i++) { if (!first) FLEET_LIT(&b, ","); fleet_buf_str(&b, p->queue[i].task_id); first = 0; }
  pthread_mutex_unlock(&p->mu);
  FLEET_LIT(&b, "]}");
  publish(p, "heartbeat", &b, 0, 0);
  fleet_buf_free(&b);
  p->next_beat_us = plat_now_us() + (uint64_t)p->heartbeat_ms * 1000u;
}

static void flush_tokens(peer *p) {
  if (!p->busy || p->out_len == p->sent) return; // busy: a task is running (not the speed probe)
  fleet_buf b = {0};
  FLEET_LIT(&b, "{\"v\":1,\"kind\":\"tokens\",\"taskId\":");
  fleet_buf_str(&b, p->running.task_id);
  fleet_buf_fmt(&b, ",\"attempt\":%u,\"offset\":%zu,\"data\":", p->running.attempt, p->sent);
  fleet_buf_b64(&b, p->out + p->sent, p->out_len - p->sent);
  FLEET_LIT(&b, "}");
  publish(p, "tokens", &b, 0, 0);
  fleet_buf_free(&b);
  p->sent = p->out_len;
  p->last_flush_us = plat_now_us();
}

// Receives the engine's pieces (platform sink): buffer, stream, keep heartbeating.
static void on_piece(const uint8_t *bytes, size_t n, void *ctx) {
  peer *p = ctx;
  if (p->out_len + n > p->out_cap) {
    size_t cap = p->out_cap ? p->out_cap * 2 : 4096;
    while (cap < p->out_len + n) cap *= 2;
    uint8_t *d = realloc(p->out, cap);
    if (!d) { p->oom = 1; return; }
    p->out = d; p->out_cap = cap;
  }
  memcpy(p->out + p->out_len, bytes, n);
  p->out_len += n;
  if (!p->busy) return;
  uint64_t now = plat_now_us();
  if (p->out_len - p->sent >= 1024 || now - p->last_flush_us >= 20000) flush_tokens(p);
  if (now >= p->next_beat_us) send_heartbeat(p);
}

static void on_connect(struct mosquitto *mq, void *ud, int rc) {
  peer *p = ud;
  if (rc) { logf_("edgellm-fw serve: broker refused the connection: %s%s", mosquitto_connack_string(rc), ""); return; }
  char t[400];
  snprintf(t, sizeof t, "%s/to/%s/+", p->base, p->id);
  mosquitto_subscribe(mq, NULL, t, 1);
  send_status(p, 1);
}

static int held_index(peer *p, const char *task_id) {
  for (int i = 0; i < p->qn; i++) if (!strcmp(p->queue[i].task_id, task_id)) return i;
  return -1;
}

static void on_message(struct mosquitto *mq, void *ud, const struct mosquitto_message *m) {
  (void)mq;
  peer *p = ud;
  char prefix[400], err[200];
  topic(p, prefix, sizeof prefix, "to", "");
  size_t pl = strlen(prefix);
  if (strncmp(m->topic, prefix, pl)) return;
  const char *kind = m->topic + pl;
  if (!strcmp(kind, "task")) {
    static fleet_task t; // the network thread is the only writer
    if (fleet_parse_task(m->payload, (size_t)m->payloadlen, &t, err, sizeof err)) { logf_("edgellm-fw serve: ignored message: %s: %s", m->topic, err); return; }
    pthread_mutex_lock(&p->mu);
    int i = held_index(p, t.task_id);
    const char *reason = NULL;
    if (p->busy && !strcmp(p->running.task_id, t.task_id)) p->running.attempt = t.attempt;
    else if (i >= 0) p->queue[i].attempt = t.attempt;
    else if (p->qn + p->busy >= p->max_queue || p->qn >= QMAX) reason = "queue full";
    else if (t.steps > p->ctx) reason = "steps exceed the context";
    else {
      p->queued_at_us[p->qn] = plat_now_us();
      p->queue[p->qn++] = t;
      pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    send_ack(p, reason ? "reject" : "accept", &t, reason);
  } else if (!strcmp(kind, "cancel")) {
    fleet_cancel c;
    if (fleet_parse_cancel(m->payload, (size_t)m->payloadlen, &c, err, sizeof err)) { logf_("edgellm-fw serve: ignored message: %s: %s", m->topic, err); return; }
    fleet_task dropped; int was_queued = 0;
    pthread_mutex_lock(&p->mu);
    int i = held_index(p, c.task_id);
    if (i >= 0) {
      dropped = p->queue[i]; was_queued = 1;
      memmove(&p->queue[i], &p->queue[i + 1], sizeof p->queue[0] * (size_t)(p->qn - i - 1));
      memmove(&p->queued_at_us[i], &p->queued_at_us[i + 1], sizeof p->queued_at_us[0] * (size_t)(p->qn - i - 1));
      p->qn--;
    } else if (p->busy && !strcmp(p->running.task_id, c.task_id)) p->cancel_running = 1;
    pthread_mutex_unlock(&p->mu);
    if (was_queued) send_result(p, &dropped, "cancelled", NULL, 0, 0, 0, NULL);
  } else {
    logf_("edgellm-fw serve: ignored message: %s: unknown kind%s", m->topic, "");
  }
}

static int parse_broker(const char *url, char *host, size_t hn, int *port) {
  const char *h = url;
  if (!strncmp(h, "mqtt://", 7)) h += 7; else if (!strncmp(h, "tcp://", 6)) h += 6;
  else if (strstr(h, "://")) return -1;
  const char *colon = strrchr(h, ':');
  size_t len = colon ? (size_t)(colon - h) : strlen(h);
  if (!len || len >= hn) return -1;
  memcpy(host, h, len); host[len] = 0;
  *port = 1883;
  if (colon) { char *e; long v = strtol(colon + 1, &e, 10); if (*e && *e != '/') return -1; if (v < 1 || v > 65535) return -1; *port = (int)v; }
  return 0;
}

static void model_facts(peer *p, const char *path, const plat_blob *m) {
  const char *slash = strrchr(path, '/');
  const char *stem = slash ? slash + 1 : path;
  size_t n = strcspn(stem, ".");
  if (n > 100) n = 100;
  uint32_t sum = 0, nt = 0, q = 0;
  if (m->size >= 128) { memcpy(&sum, m->data + 124, 4); memcpy(&nt, m->data + 52, 4); }
  for (uint32_t i = 0; i < nt && 128 + 32 * (size_t)(i + 1) <= m->size; i++) {
    uint32_t kind; memcpy(&kind, m->data + 128 + 32 * i, 4);
    if (kind == 2) { memcpy(&q, m->data + 128 + 32 * i + 8, 4); break; }
  }
  char clean[101];
  for (size_t i = 0; i < n; i++) clean[i] = fleet_name_ok(stem + i, 1) || stem[i] == '.' ? stem[i] : '_';
  clean[n] = 0;
  snprintf(p->model_id, sizeof p->model_id, "%s-%08x", clean, sum);
  snprintf(p->quant, sizeof p->quant, "%s", q == 0 ? "f32" : q == 1 ? "int8" : q == 2 ? "ternary" : "unknown");
}

// `edgellm-fw serve --decode task|cancel`: checks one payload from stdin the way the peer
// does and prints "ok" or "reject: <reason>" (exit 0 / 1); the protocol vectors test this.
static int decode_main(const char *kind) {
  static uint8_t buf[FLEET_MAX_PAYLOAD + 2];
  size_t n = fread(buf, 1, sizeof buf, stdin);
  char err[200];
  static fleet_task t;
  fleet_cancel c;
  int rc;
  if (!strcmp(kind, "task")) rc = fleet_parse_task(buf, n, &t, err, sizeof err);
  else if (!strcmp(kind, "cancel")) rc = fleet_parse_cancel(buf, n, &c, err, sizeof err);
  else { snprintf(err, sizeof err, "unknown kind '%s'", kind); rc = -1; }
  if (rc) { printf("reject: %s\n", err); return 1; }
  printf("ok\n");
  return 0;
}

int serve_main(int argc, char **argv, const char *module_path) {
  if (argc == 4 && !strcmp(argv[2], "--decode")) return decode_main(argv[3]);
  const char *broker = NULL, *model_path = NULL, *tok_path = NULL, *id = NULL, *fleet = "default", *user = NULL, *pass = getenv("EDGELLM_MQTT_PASSWORD");
  int max_queue = 2, heartbeat = 1000, host_weights = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--host-weights")) { host_weights = 1; continue; } // native matvecs, as `run --host-weights`
    if (!v) { fprintf(stderr, "edgellm-fw: error: option '%s' needs a value\n", a); return 2; }
    if (!strcmp(a, "--broker")) broker = v;
    else if (!strcmp(a, "--model")) model_path = v;
    else if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer")) tok_path = v;
    else if (!strcmp(a, "--id")) id = v;
    else if (!strcmp(a, "--fleet")) fleet = v;
    else if (!strcmp(a, "--username")) user = v;
    else if (!strcmp(a, "--password")) pass = v;
    else if (!strcmp(a, "--module")) module_path = v;
    else if (!strcmp(a, "--max-queue")) { max_queue = atoi(v); if (max_queue < 1 || max_queue > QMAX) { fprintf(stderr, "edgellm-fw: error: max-queue must be in [1, %d]\n", QMAX); return 2; } }
    else if (!strcmp(a, "--heartbeat")) { heartbeat = atoi(v); if (heartbeat < 50) { fprintf(stderr, "edgellm-fw: error: heartbeat must be at least 50 ms\n"); return 2; } }
    else { fprintf(stderr, "edgellm-fw: error: unknown option '%s'\nusage: edgellm-fw serve --broker mqtt://HOST:PORT --model M.ellm [-z TOK] --id ID [--fleet F] [--username U] [--password P] [--max-queue N] [--heartbeat MS] [--host-weights]\n", a); return 2; }
    i++;
  }
  char host[256]; int port;
  if (!broker || !model_path || !id) { fprintf(stderr, "edgellm-fw: error: serve needs --broker, --model and --id\n"); return 2; }
  if (parse_broker(broker, host, sizeof host, &port)) { fprintf(stderr, "edgellm-fw: error: broker must be mqtt://host[:port], got '%s'\n", broker); return 2; }
  if (!fleet_name_ok(id, strlen(id)) || !fleet_name_ok(fleet, strlen(fleet))) { fprintf(stderr, "edgellm-fw: error: --id and --fleet must be 1-64 characters of A-Z a-z 0-9 _ -\n"); return 2; }

  static peer P;
  peer *p = &P;
  memset(p, 0, sizeof *p);
  snprintf(p->id, sizeof p->id, "%s", id);
  snprintf(p->fleet, sizeof p->fleet, "%s", fleet);
  snprintf(p->base, sizeof p->base, "edgellm/v1/%s", fleet);
  p->max_queue = max_queue; p->heartbeat_ms = heartbeat;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);

  char err[320];
  plat_blob mod = {0}, model = {0}, tok = {0};
  fw *f = NULL;
  int rc = 1;
  if (plat_map(module_path, &mod, err, sizeof err) || plat_map(model_path, &model, err, sizeof err) || (tok_path && plat_map(tok_path, &tok, err, sizeof err))) goto fail;
  fw_config c = { .module = mod.data, .module_len = mod.size, .model = model.data, .model_len = model.size, .tokenizer = tok.data, .tok_len = tok.size, .ctx = 0, .host_weights = host_weights };
  if (fw_open(&f, &c, err, sizeof err)) goto fail;
  p->ctx = fw_field(f, 9); p->vocab = fw_field(f, 5);
  model_facts(p, model_path, &model);

  // Measured speed for the announcement: a short greedy run, output discarded.
  plat_set_write_sink(on_piece, p);
  fw_gen probe = { .prompt = "", .prompt_len = 0, .steps = p->ctx < 64 ? p->ctx : 64, .temperature = 0, .topp = 1, .seed = 1 };
  fw_stats st;
  p->next_beat_us = ~0ull;
  if (fw_generate(f, &probe, &st, err, sizeof err)) goto fail;
  p->tok_per_sec = st.tokens > 1 && st.elapsed_us ? (st.tokens - 1) / (st.elapsed_us / 1e6) : 1;
  p->out_len = p->sent = 0;

  mosquitto_lib_init();
  char cid[100];
  snprintf(cid, sizeof cid, "edgellm-peer-%.64s", p->id);
  p->mq = mosquitto_new(cid, true, p);
  if (!p->mq) { snprintf(err, sizeof err, "mosquitto_new failed"); goto fail; }
  mosquitto_int_option(p->mq, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_int_option(p->mq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  if (user) mosquitto_username_pw_set(p->mq, user, pass);
  {
    char t[400], will[200];
    topic(p, t, sizeof t, "peer", "status");
    int wl = snprintf(will, sizeof will, "{\"v\":1,\"kind\":\"status\",\"id\":\"%s\",\"online\":false}", p->id);
    mosquitto_will_set(p->mq, t, wl, will, 1, true);
  }
  mosquitto_connect_callback_set(p->mq, on_connect);
  mosquitto_message_callback_set(p->mq, on_message);
  mosquitto_reconnect_delay_set(p->mq, 1, 2, false);
  int mrc = mosquitto_connect(p->mq, host, port, 10);
  if (mrc != MOSQ_ERR_SUCCESS) { snprintf(err, sizeof err, "cannot reach the broker %s: %s", broker, mosquitto_strerror(mrc)); goto fail; }
  mosquitto_loop_start(p->mq);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  fprintf(stderr, "edgellm-fw serve: peer %s serving %s (%.0f tok/s, ctx %d) on %s\n", p->id, p->model_id, p->tok_per_sec, p->ctx, broker);

  p->next_beat_us = plat_now_us();
  uint32_t base_heap = 0; // heap top after the first task of this instance
  while (!g_stop) {
    pthread_mutex_lock(&p->mu);
    if (p->qn == 0) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 50 * 1000000L;
      if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
      pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    int have = p->qn > 0;
    uint64_t queued_at = 0;
    if (have) {
      p->running = p->queue[0];
      queued_at = p->queued_at_us[0];
      memmove(&p->queue[0], &p->queue[1], sizeof p->queue[0] * (size_t)(p->qn - 1));
      memmove(&p->queued_at_us[0], &p->queued_at_us[1], sizeof p->queued_at_us[0] * (size_t)(p->qn - 1));
      p->qn--;
      p->busy = 1; p->cancel_running = 0;
    }
    pthread_mutex_unlock(&p->mu);
    if (plat_now_us() >= p->next_beat_us) send_heartbeat(p);
    if (!have) continue;

    fleet_task *t = &p->running;
    p->out_len = p->sent = 0; p->oom = 0; p->last_flush_us = plat_now_us();
    p->running_deadline_us = t->deadline_ms ? queued_at + (uint64_t)t->deadline_ms * 1000u : 0;
    fw_gen g = { .prompt = t->prompt, .prompt_len = t->prompt_len, .steps = t->steps, .temperature = t->temperature,
                 .topp = t->topp, .seed = t->seed, .should_stop = running_should_stop, .stop_ctx = p };
    uint64_t t0 = plat_now_us();
    int grc = fw_generate(f, &g, &st, err, sizeof err);
    flush_tokens(p);
    double ms = (plat_now_us() - t0) / 1000.0;
    pthread_mutex_lock(&p->mu);
    int cancelled = p->cancel_running;
    fleet_task done = *t;   // the attempt may have been updated by a reassignment
    p->busy = 0;
    pthread_mutex_unlock(&p->mu);
    int expired = t->deadline_ms && plat_now_us() > queued_at + (uint64_t)t->deadline_ms * 1000u;
    if (grc || p->oom) send_result(p, &done, "failed", NULL, 0, 0, ms, p->oom ? "out of memory" : err);
    else if (cancelled) send_result(p, &done, "cancelled", p->out, p->out_len, st.tokens, ms, NULL);
    else if (expired) send_result(p, &done, "expired", p->out, p->out_len, st.tokens, ms, NULL);
    else if (st.stopped) send_result(p, &done, "failed", NULL, 0, st.tokens, ms, "peer stopping"); // signal: the gateway reassigns
    else send_result(p, &done, "done", p->out, p->out_len, st.tokens, ms, NULL);
    // The module's bump heap keeps every prompt: start a fresh instance once it has grown.
    if (grc == 0 && !base_heap) base_heap = st.heap_bytes;
    else if (grc == 0 && st.heap_bytes > base_heap + (1u << 20)) {
      fw_close(f);
      f = NULL;
      if (fw_open(&f, &c, err, sizeof err)) { send_status(p, 0); goto fail; }
      base_heap = 0;
    }
  }
  fprintf(stderr, "edgellm-fw serve: stopping\n");
  send_status(p, 0);
  {
    struct timespec d = { 0, 200 * 1000000L };
    nanosleep(&d, NULL); // let the network thread send it
  }
  mosquitto_disconnect(p->mq);
  mosquitto_loop_stop(p->mq, false);
  rc = 0;
fail:
  if (rc) fprintf(stderr, "edgellm-fw: error: %s\n", err);
  if (p->mq) mosquitto_destroy(p->mq);
  mosquitto_lib_cleanup();
  plat_set_write_sink(NULL, NULL);
  free(p->out);
  fw_close(f);
  plat_unmap(&tok);
  plat_unmap(&model);
  plat_unmap(&mod);
  return rc;
}
