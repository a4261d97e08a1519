// edgellm-fw serve: the firmware as a fleet peer (docs/protocol.md §6). The protocol itself
// runs inside the module (assembly/agent/, driven through core/agent_host.h); this file is
// its libmosquitto transport:
//   network thread (mosquitto_loop_start): on connect subscribe and flag it; every received
//     message is copied into a bounded inbox (dropped when full, with a log line: at most
//     DROPS_LOGGED_PER_SECOND of them, the next one counting those left out). It never
//     touches the module.
//   main thread: agentConnected after each connect, drains the inbox into agentMessage,
//     agentTick(now, TICK_POSITIONS), and sleeps at most the ms the tick returned or until a
//     message, a connect or a signal arrives (one condition variable).
//   signal thread: SIGINT / SIGTERM → stop: agentShutdown (offline status), then disconnect.
// TLS: an mqtts:// broker (default port 8883) is verified against --cafile, else the system's
// CA certificates, and its certificate must name the host of the URL; --cert/--key add a
// client certificate. libmosquitto's own error lines (certificate verify failed, …) go to the
// log and into the startup error.
// A fatal error (a trap, memory past --max-memory) exits without a clean disconnect, so the
// broker publishes the last will.
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <mosquitto.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../core/agent_host.h"
#include "../core/fw.h"
#include "../core/platform.h"
#include "serve_posix.h"

#define INBOX_MAX 32        // received messages waiting for the main thread
#define TICK_POSITIONS 4    // positions per agentTick: the inbox is drained between ticks
#define FLUSH_MS 20         // tokens batched at most this long (protocol §4)
#define PROBE_POSITIONS 64  // the speed probe for the status message
#define DROPS_LOGGED_PER_SECOND 10
#define MAX_ADAPTERS 32     // a peer holds at most this many (host/fleet/schemas.ts MAX_PEER_ADAPTERS)
#define E_ADAPTER_BASE (-19)
#define E_OUT_OF_MEMORY (-14)

static const char k_usage[] =
  "usage: edgellm-fw serve --broker mqtt[s]://HOST[:PORT] --model M.ellm [-z TOK] --id ID [--fleet F]\n"
  "                        [--username U] [--password P] [--cafile CA.pem] [--cert C.pem --key K.pem]\n"
  "                        [--connect-timeout MS] [--max-queue N] [--heartbeat MS]\n"
  "                        [--host-weights] [--max-memory BYTES] [--ctx N] [--kv-int8] [--inbox BYTES]\n"
  "                        [--adapters DIR] [--commands GRAMMAR.egrm] [--train-data FILE.tsv]\n"
  "                        [--module edgellm.wasm (edgellm-fed.wasm with --train-data)] [--stack BYTES] [--call-timeout SECONDS]\n"
  "       edgellm-fw serve --decode task|cancel|round|chunk|ack [--model M.ellm] [--fleet F] [--id ID] < payload\n";

typedef struct { char *topic; uint8_t *payload; size_t len; } inbox_msg;

typedef struct {
  struct mosquitto *mq;
  char sub[AGENT_TOPIC_MAX + 1];
  char presence[AGENT_TOPIC_MAX + 1]; // our own status topic: the agent guards what is retained there
  char fed[2][AGENT_TOPIC_MAX + 1];   // --train-data: federated announcements and the trainer's inbox ("": none)
  uint32_t inbox_bytes;           // payloads over this are queued without their bytes (refused)
  pthread_mutex_t mu;
  pthread_cond_t cv;              // inbox, connects, stop
  inbox_msg inbox[INBOX_MAX];
  int head, count;
  unsigned connects;
  unsigned received, dropped;     // messages, since the start
  uint64_t drop_window_us;        // drop log lines: this second's start, lines logged, left out
  unsigned drops_logged, drops_quiet;
  int stop;
  // The first connection must succeed (serve exits otherwise); later ones libmosquitto retries.
  int started;                    // the broker accepted the first connection
  int failed, fail_rc;            // before that: 1 refused (CONNACK code), 2 closed (reason), 3 mq_err
  char mq_err[320];               // before that: libmosquitto's error lines (TLS: why)
} transport;

static void logf_(const char *fmt, ...) {
  char line[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  plat_log(line);
}

static int publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos, int retain) {
  transport *t = ctx;
  if (len > INT_MAX) return -1;
  int rc = mosquitto_publish(t->mq, NULL, topic, (int)len, payload, qos, retain != 0);
  if (rc == MOSQ_ERR_SUCCESS) return 0;
  if (rc != MOSQ_ERR_NO_CONN) logf_("edgellm-fw serve: publish %s: %s", topic, mosquitto_strerror(rc));
  return -1;
}

// Before the first connection is accepted, the first failure is recorded for
// first_connection(); returns 0 once serving.
static int first_failure(transport *t, int kind, int rc, const char *line) {
  pthread_mutex_lock(&t->mu);
  int started = t->started;
  if (!started && line) { // every line of the failure ("Unable to load client key file …; … key values mismatch")
    size_t k = strlen(t->mq_err), l = strlen(line);
    if (l && line[l - 1] == '.') l--;
    snprintf(t->mq_err + k, sizeof t->mq_err - k, "%s%.*s", k ? "; " : "", (int)l, line);
  }
  if (!started && !t->failed) { t->failed = kind; t->fail_rc = rc; pthread_cond_signal(&t->cv); }
  pthread_mutex_unlock(&t->mu);
  return !started;
}

// libmosquitto's log: an error line says why a (TLS) connection attempt failed: unreadable
// CA file, "certificate verify failed", key and certificate not matching, the broker's alert.
// Before the first connection it is the startup error (the handshake may fail in the network
// thread, which then retries without calling on_disconnect); afterwards it is logged (a
// failing reconnection: a line per attempt, attempts 1-2 s apart).
static void on_log(struct mosquitto *mq, void *ud, int level, const char *str) {
  (void)mq;
  if ((level & MOSQ_LOG_ERR) && !first_failure(ud, 3, 0, str)) logf_("edgellm-fw serve: mqtt: %s", str);
}

static void on_disconnect(struct mosquitto *mq, void *ud, int rc) {
  (void)mq;
  if (rc && !first_failure(ud, 2, rc, NULL)) logf_("edgellm-fw serve: disconnected from the broker (%s); reconnecting", mosquitto_strerror(rc));
}

static void on_connect(struct mosquitto *mq, void *ud, int rc) {
  transport *t = ud;
  if (rc) {
    if (!first_failure(t, 1, rc, NULL)) logf_("edgellm-fw serve: broker refused the connection: %s", mosquitto_connack_string(rc));
    return;
  }
  int s = mosquitto_subscribe(mq, NULL, t->sub, 1);
  if (s != MOSQ_ERR_SUCCESS) logf_("edgellm-fw serve: subscribe %s: %s", t->sub, mosquitto_strerror(s));
  s = mosquitto_subscribe(mq, NULL, t->presence, 1);
  if (s != MOSQ_ERR_SUCCESS) logf_("edgellm-fw serve: subscribe %s: %s", t->presence, mosquitto_strerror(s));
  for (int i = 0; i < 2; i++) {
    if (!t->fed[i][0]) continue;
    s = mosquitto_subscribe(mq, NULL, t->fed[i], 1);
    if (s != MOSQ_ERR_SUCCESS) logf_("edgellm-fw serve: subscribe %s: %s", t->fed[i], mosquitto_strerror(s));
  }
  pthread_mutex_lock(&t->mu);
  t->started = 1;
  t->connects++;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

// Network thread: copy and queue. A payload over the agent's inbox keeps only its length
// (the main thread refuses it with a log line); a full inbox drops the message.
static void on_message(struct mosquitto *mq, void *ud, const struct mosquitto_message *m) {
  (void)mq;
  transport *t = ud;
  size_t len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
  inbox_msg e = { .topic = strdup(m->topic), .payload = NULL, .len = len };
  if (len <= t->inbox_bytes) e.payload = malloc(len ? len : 1);
  if (!e.topic || (len <= t->inbox_bytes && !e.payload)) {
    logf_("edgellm-fw serve: dropped message on %s: out of memory", m->topic);
    free(e.topic); free(e.payload);
    return;
  }
  if (e.payload && len) memcpy(e.payload, m->payload, len);
  uint64_t now = plat_now_us();
  unsigned quiet = 0;
  int full, log_it = 0;
  pthread_mutex_lock(&t->mu);
  t->received++;
  full = t->count == INBOX_MAX;
  if (!full) {
    t->inbox[(t->head + t->count) % INBOX_MAX] = e;
    t->count++;
    pthread_cond_signal(&t->cv);
  } else {
    t->dropped++;
    if (now - t->drop_window_us >= 1000000u) { t->drop_window_us = now; t->drops_logged = 0; }
    if (t->drops_logged < DROPS_LOGGED_PER_SECOND) { log_it = 1; t->drops_logged++; quiet = t->drops_quiet; t->drops_quiet = 0; }
    else t->drops_quiet++;
  }
  pthread_mutex_unlock(&t->mu);
  if (full) {
    if (log_it && quiet) logf_("edgellm-fw serve: dropped message on %s: inbox full (%d waiting) (and %u more not logged)", m->topic, INBOX_MAX, quiet);
    else if (log_it) logf_("edgellm-fw serve: dropped message on %s: inbox full (%d waiting)", m->topic, INBOX_MAX);
    free(e.topic); free(e.payload);
  }
}

// Signal thread: SIGINT / SIGTERM are blocked everywhere else and arrive here.
static void *signal_thread(void *arg) {
  transport *t = arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  pthread_mutex_lock(&t->mu);
  t->stop = 1;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

// mqtt://, tcp:// or no scheme: plain, port 1883; mqtts://: TLS, port 8883.
static int parse_broker(const char *url, char *host, size_t hn, int *port, int *tls) {
  const char *h = url;
  *tls = 0;
  if (!strncmp(h, "mqtt://", 7)) h += 7; else if (!strncmp(h, "tcp://", 6)) h += 6;
  else if (!strncmp(h, "mqtts://", 8)) { h += 8; *tls = 1; }
  else if (strstr(h, "://")) return -1;
  const char *colon;
  size_t len;
  if (*h == '[') { // an IPv6 literal: [::1] or [::1]:1883
    const char *close = strchr(h, ']');
    if (!close) return -1;
    h++;
    len = (size_t)(close - h);
    colon = close[1] == ':' ? close + 1 : NULL;
    if (close[1] && close[1] != ':' && close[1] != '/') return -1;
  } else {
    colon = strrchr(h, ':');
    len = colon ? (size_t)(colon - h) : strlen(h);
  }
  if (!len || len >= hn) return -1;
  memcpy(host, h, len); host[len] = 0;
  *port = *tls ? 8883 : 1883;
  if (colon) { char *e; long v = strtol(colon + 1, &e, 10); if (*e && *e != '/') return -1; if (v < 1 || v > 65535) return -1; *port = (int)v; }
  return 0;
}

// "<file stem>-<checksum hex>", as host/fleet/peer.ts modelId().
static void model_id(const char *path, const plat_blob *m, char *out, size_t n) {
  const char *slash = strrchr(path, '/');
  const char *stem = slash ? slash + 1 : path;
  const char *dot = strrchr(stem, '.');
  size_t len = dot && dot != stem ? (size_t)(dot - stem) : strlen(stem);
  if (len > 100) len = 100;
  char clean[101];
  for (size_t i = 0; i < len; i++) {
    char c = stem[i];
    int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    clean[i] = ok ? c : '_';
  }
  clean[len] = 0;
  uint32_t sum = 0;
  if (m->size >= 128) memcpy(&sum, m->data + 124, 4);
  snprintf(out, n, "%s-%08x", clean, sum);
}

static int takes_value(const char *a) {
  static const char *const k[] = { "--broker", "--model", "-z", "--tokenizer", "--id", "--fleet", "--username", "--password",
                                   "--cafile", "--cert", "--key", "--module", "--decode", "--max-queue", "--connect-timeout",
                                   "--heartbeat", "--max-memory", "--ctx", "--inbox", "--stack", "--call-timeout", "--adapters", "--commands",
                                   "--train-data" };
  for (size_t i = 0; i < sizeof k / sizeof *k; i++) if (!strcmp(a, k[i])) return 1;
  return 0;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  for (const char *c = *s == '-' ? s + 1 : s; *c; c++) if (*c < '0' || *c > '9') return -1; // no spaces, no signs but a leading '-'
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

typedef struct {
  const char *broker, *model, *tok, *id, *fleet, *user, *pass, *module, *decode, *cafile, *cert, *key, *adapters, *commands, *train_data;
  long max_queue, heartbeat, max_memory, ctx, inbox, stack, connect_timeout, call_timeout;
  int host_weights, kv_int8;
} serve_opts;

static int parse_opts(int argc, char **argv, serve_opts *o) {
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--host-weights")) { o->host_weights = 1; continue; }
    if (!strcmp(a, "--kv-int8")) { o->kv_int8 = 1; continue; }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 1; }
    if (!takes_value(a)) { fprintf(stderr, "edgellm-fw: error: unknown option '%s'\n%s", a, k_usage); return -1; }
    if (!v) { fprintf(stderr, "edgellm-fw: error: option '%s' needs a value\n%s", a, k_usage); return -1; }
    const char *bad = NULL;
    if (!strcmp(a, "--broker")) o->broker = v;
    else if (!strcmp(a, "--model")) o->model = v;
    else if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer")) o->tok = v;
    else if (!strcmp(a, "--id")) o->id = v;
    else if (!strcmp(a, "--fleet")) o->fleet = v;
    else if (!strcmp(a, "--username")) o->user = v;
    else if (!strcmp(a, "--password")) o->pass = v;
    else if (!strcmp(a, "--cafile")) o->cafile = v;
    else if (!strcmp(a, "--cert")) o->cert = v;
    else if (!strcmp(a, "--key")) o->key = v;
    else if (!strcmp(a, "--module")) o->module = v;
    else if (!strcmp(a, "--decode")) o->decode = v;
    else if (!strcmp(a, "--adapters")) o->adapters = v;
    else if (!strcmp(a, "--commands")) o->commands = v;
    else if (!strcmp(a, "--train-data")) o->train_data = v;
    else if (!strcmp(a, "--max-queue")) { if (parse_int(v, 1, 64, &o->max_queue)) bad = "max-queue must be an integer in [1, 64]"; }
    else if (!strcmp(a, "--connect-timeout")) { if (parse_int(v, 100, 3600000, &o->connect_timeout)) bad = "connect-timeout must be ms in [100, 3600000]"; }
    else if (!strcmp(a, "--heartbeat")) { if (parse_int(v, 50, 3600000, &o->heartbeat)) bad = "heartbeat must be ms in [50, 3600000]"; }
    else if (!strcmp(a, "--max-memory")) { if (parse_int(v, 0, 0x7fff0000L, &o->max_memory)) bad = "max-memory must be a byte count below 2 GiB"; }
    else if (!strcmp(a, "--ctx")) { if (parse_int(v, 1, 65536, &o->ctx)) bad = "ctx must be an integer in [1, 65536]"; }
    else if (!strcmp(a, "--inbox")) { if (parse_int(v, 1024, AGENT_PAYLOAD_LIMIT, &o->inbox)) bad = "inbox must be bytes in [1024, 65536]"; }
    else if (!strcmp(a, "--call-timeout")) { if (parse_int(v, 1, 86400, &o->call_timeout)) bad = "call timeout must be seconds in [1, 86400]"; }
    else if (!strcmp(a, "--stack")) { if (parse_int(v, MIN_STACK, 64L << 20, &o->stack)) bad = "stack must be bytes in [" MIN_STACK_TEXT ", 64 MiB]"; }
    else { fprintf(stderr, "edgellm-fw: error: unknown option '%s'\n%s", a, k_usage); return -1; }
    if (bad) { fprintf(stderr, "edgellm-fw: error: %s, got '%s'\n", bad, v); return -1; }
    i++;
  }
  return 0;
}

// A TLS file given on the command line: readable, and PEM with the expected block ("-----BEGIN
// CERTIFICATE-----", "-----BEGIN … PRIVATE KEY-----"). libmosquitto checks the rest (a corrupt
// block, a key that does not match its certificate) when it connects.
static int check_pem(const char *flag, const char *path, const char *begin, const char *end, char *err, size_t n) {
  enum { MAX = 1 << 20 };
  FILE *fp = fopen(path, "rb");
  if (!fp) { snprintf(err, n, "%s '%s': %s", flag, path, strerror(errno)); return -1; }
  char *buf = malloc(MAX + 1);
  size_t len = buf ? fread(buf, 1, MAX, fp) : 0;
  int rc = -1;
  if (!buf) snprintf(err, n, "%s '%s': out of memory", flag, path);
  else if (ferror(fp)) snprintf(err, n, "%s '%s': %s", flag, path, strerror(errno));
  else if (len == 0) snprintf(err, n, "%s '%s' is empty", flag, path);
  else {
    buf[len] = 0;
    const char *b = strstr(buf, begin);
    if (!b || !strstr(b, end)) snprintf(err, n, "%s '%s' is not PEM: no \"%s…%s\" in its first MiB", flag, path, begin, end);
    else rc = 0;
  }
  free(buf);
  fclose(fp);
  return rc;
}

// The capabilities' freeMem: headroom under --max-memory, else the machine's free RAM.
static int32_t free_mem(fw *f, const serve_opts *o) {
  if (o->max_memory) {
    uint32_t used = fw_memory_bytes(f);
    return used < (uint32_t)o->max_memory ? (int32_t)((uint32_t)o->max_memory - used) : 0;
  }
  size_t b = plat_free_bytes();
  return b > INT32_MAX ? INT32_MAX : (int32_t)b;
}

// One module instance with its agent: the model mapped, the speed measured, agentInit done.
typedef struct {
  plat_blob mod, model, tok; fw *f; agent_host *a; double tok_per_sec; char nonce[17];
  plat_blob adapter[MAX_ADAPTERS]; int n_adapters; // held (mapped for the process's lifetime)
  plat_blob grammar;                               // --commands: the compiled home-command grammar
  plat_blob train; fw_example *examples; int32_t n_examples; // --train-data: this home's examples (never sent)
  char adapter_ids[600];                           // "home kitchen …" for the start line
} peer_engine;

// This process's presence nonce: 16 hex digits from the OS's randomness (the clock and pid when
// it has none), telling our status from another process's with the same --id.
static void make_nonce(char out[17]) {
  uint64_t v = 0;
  FILE *r = fopen("/dev/urandom", "rb");
  if (!r || fread(&v, sizeof v, 1, r) != 1) v = plat_now_us() ^ ((uint64_t)getpid() << 32) ^ plat_wall_ms();
  if (r) fclose(r);
  snprintf(out, 17, "%016llx", (unsigned long long)v);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// ^[A-Za-z0-9_.-]{1,128}$: the protocol's adapter id.
static int adapter_id_ok(const char *id, size_t len) {
  if (len < 1 || len > 128) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = id[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) return 0;
  }
  return 1;
}

// --adapters DIR: every DIR/*.ella made for the model, held by the module (copied into linear
// memory once; with --host-weights left in host memory like the weights) and announced under
// its file name without .ella; the module's agent attaches a task's adapter when it starts.
// One for another base is skipped with a line; a damaged one, a name that is not an id, more
// than MAX_ADAPTERS, or linear memory past --max-memory stop the peer here, before it connects.
static int load_adapters(peer_engine *e, const serve_opts *o, const char *model_path, char *err, size_t n) {
  const char *dir = o->adapters;
  DIR *d = opendir(dir);
  if (!d) return fw_failf(err, n, "--adapters %s: %s", dir, strerror(errno));
  char **names = NULL;
  size_t count = 0, cap = 0;
  int rc = -1, skipped = 0;
  struct dirent *ent;
  while ((ent = readdir(d))) {
    size_t l = strlen(ent->d_name);
    if (l <= 5 || strcmp(ent->d_name + l - 5, ".ella")) continue;
    if (count == cap) {
      char **more = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
      if (!more) { fw_failf(err, n, "--adapters %s: out of memory", dir); goto done; }
      names = more;
    }
    if (!(names[count] = strdup(ent->d_name))) { fw_failf(err, n, "--adapters %s: out of memory", dir); goto done; }
    count++;
  }
  if (count) qsort(names, count, sizeof *names, by_name);
  for (size_t i = 0; i < count; i++) {
    char path[PATH_MAX], id[129];
    size_t il = strlen(names[i]) - 5;
    if (!adapter_id_ok(names[i], il)) {
      fw_failf(err, n, "--adapters %s: %s: '%.*s' is not an adapter id (1-128 of A-Z a-z 0-9 _ . -); rename the file", dir, names[i], (int)(il > 200 ? 200 : il), names[i]);
      goto done;
    }
    memcpy(id, names[i], il);
    id[il] = 0;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    plat_blob b = {0};
    if (plat_map(path, &b, err, n)) goto done;
    int32_t held = 0;
    uint32_t in_use = fw_memory_bytes(e->f);
    if (fw_adapter_hold(e->f, b.data, b.size, o->host_weights, &held, err, n)) { plat_unmap(&b); goto done; }
    if (held == E_ADAPTER_BASE) {
      logf_("edgellm-fw serve: --adapters: skipped %s: made for another base model than %s", path, model_path);
      plat_unmap(&b);
      skipped++;
      continue;
    }
    if (held < 0 || e->n_adapters == MAX_ADAPTERS) {
      if (held == E_OUT_OF_MEMORY)
        fw_failf(err, n, "--adapters: %s (%zu bytes) does not fit in linear memory under --max-memory %ld (%u bytes in use before it): "
                 "raise --max-memory or hold fewer adapters%s", path, b.size, o->max_memory, in_use,
                 o->host_weights ? "" : ", or serve with --host-weights (adapters then stay in host memory)");
      else if (held < 0) fw_failf(err, n, "--adapters: %s: %s", path, fw_module_error(held));
      else fw_failf(err, n, "--adapters %s: more than %d adapters for this model; a peer holds at most %d", dir, MAX_ADAPTERS, MAX_ADAPTERS);
      plat_unmap(&b);
      goto done;
    }
    e->adapter[e->n_adapters++] = b; // referenced by the module from now on (in place, or host-held)
    if (agent_add_adapter(e->a, id, held, err, n)) goto done;
    size_t k = strlen(e->adapter_ids);
    snprintf(e->adapter_ids + k, sizeof e->adapter_ids - k, "%s%s", k ? " " : "", id);
  }
  if (e->n_adapters == 0)
    logf_("edgellm-fw serve: --adapters %s: no adapter for %s (%d for other models skipped); serving without adapters", dir, model_path, skipped);
  rc = 0;
done:
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
  closedir(d);
  return rc;
}

static int engine_open(peer_engine *e, const serve_opts *o, const char *model_path, char *err, size_t n) {
  make_nonce(e->nonce);
  if (plat_map(o->module, &e->mod, err, n) || plat_map(model_path, &e->model, err, n) ||
      (o->tok && plat_map(o->tok, &e->tok, err, n)))
    return -1;
  fw_config c = { .module = e->mod.data, .module_len = e->mod.size, .model = e->model.data, .model_len = e->model.size,
                  .tokenizer = e->tok.data, .tok_len = e->tok.size, .ctx = (int32_t)o->ctx, .kv_int8 = o->kv_int8,
                  .host_weights = o->host_weights, .max_memory = (uint32_t)o->max_memory, .stack_bytes = (uint32_t)o->stack, .compile_all = COMPILE_ALL,
                  .call_timeout_s = (uint32_t)o->call_timeout };
  if (fw_open(&e->f, &c, err, n)) return -1;
  if (!o->decode && fw_speed(e->f, PROBE_POSITIONS, &e->tok_per_sec, err, n)) return -1;
  char mid[160];
  model_id(model_path, &e->model, mid, sizeof mid);
  agent_config ac = { .fleet = o->fleet, .id = o->id, .max_queue = (int32_t)o->max_queue, .heartbeat_ms = (int32_t)o->heartbeat,
                      .flush_ms = FLUSH_MS, .model_id = mid, .impl = "wasm3", .tok_per_sec = (float)e->tok_per_sec,
                      .free_mem = 0, .inbox_bytes = (uint32_t)o->inbox, .nonce = e->nonce };
  if (agent_open(&e->a, e->f, &ac, err, n)) return -1;
  if (o->adapters && load_adapters(e, o, model_path, err, n)) return -1;
  // --commands: the grammar stays mapped; with --host-weights in host memory (flash), read by env.gRead.
  if (o->commands) {
    uint32_t in_use = fw_memory_bytes(e->f);
    if (plat_map(o->commands, &e->grammar, err, n)) return -1;
    if (agent_serve_commands(e->a, e->grammar.data, e->grammar.size, o->host_weights, err, n)) {
      char why[400];
      snprintf(why, sizeof why, "%s", err);
      return fw_failf(err, n, "--commands %s: %s (%u bytes of linear memory in use before it%s)", o->commands, why, in_use,
                      o->host_weights ? "" : "; --host-weights leaves the grammar in host memory");
    }
  }
  if (o->train_data) {
    char why[300];
    uint32_t in_use = fw_memory_bytes(e->f);
    if (plat_map(o->train_data, &e->train, err, n)) return -1;
    if (fw_parse_examples((const char *)e->train.data, e->train.size, &e->examples, &e->n_examples, why, sizeof why))
      return fw_failf(err, n, "--train-data %s: %s", o->train_data, why);
    if (agent_trainer(e->a, e->examples, e->n_examples, why, sizeof why))
      return fw_failf(err, n, "--train-data %s: %s (%u bytes of linear memory in use before it)", o->train_data, why, in_use);
  }
  return agent_capabilities(e->a, (float)e->tok_per_sec, free_mem(e->f, o), err, n);
}

static void engine_close(peer_engine *e) {
  agent_close(e->a);
  fw_close(e->f);
  for (int i = 0; i < e->n_adapters; i++) plat_unmap(&e->adapter[i]);
  plat_unmap(&e->grammar);
  free(e->examples);
  plat_unmap(&e->train);
  plat_unmap(&e->tok);
  plat_unmap(&e->model);
  plat_unmap(&e->mod);
  memset(e, 0, sizeof *e);
}

// --decode: prints each publish the agent makes ("> topic qos retain payload")
static int print_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos, int retain) {
  (void)ctx;
  printf("> %s %d %d %.*s\n", topic, qos, retain, (int)len, (const char *)payload);
  return 0;
}

// `edgellm-fw serve --decode task|cancel|round|chunk|ack`: one payload from stdin through the
// module's agentMessage, as the peer would receive it on edgellm/v1/<fleet>/to/<id>/<kind> (the
// federated kinds on fed/round and fedto/<id>/<kind>, with --train-data FILE for a trainer). Prints
// what the agent publishes, then "ok" (exit 0) or "reject: <reason>" (exit 1).
static int decode_main(serve_opts *o, const char *default_model) {
  static uint8_t buf[AGENT_PAYLOAD_LIMIT + 1];
  char err[320], reason[256], topic[AGENT_TOPIC_MAX + 1];
  peer_engine e = {0};
  int rc = 2, refused = 0;
  size_t len = fread(buf, 1, sizeof buf, stdin), k;
  uint8_t rest[4096];
  while ((k = fread(rest, 1, sizeof rest, stdin)) > 0) len += k; // only the length of a payload over the limit matters
  if (ferror(stdin)) { snprintf(err, sizeof err, "reading stdin: %s", strerror(errno)); goto fail; }
  if (!o->id) o->id = "decode";
  if (!strcmp(o->decode, "round")) snprintf(topic, sizeof topic, "edgellm/v1/%.64s/fed/round", o->fleet);
  else if (!strcmp(o->decode, "chunk") || !strcmp(o->decode, "ack")) snprintf(topic, sizeof topic, "edgellm/v1/%.64s/fedto/%.64s/%.64s", o->fleet, o->id, o->decode);
  else snprintf(topic, sizeof topic, "edgellm/v1/%.64s/to/%.64s/%.64s", o->fleet, o->id, o->decode);
  plat_set_mqtt_publisher(print_publish, NULL);
  if (engine_open(&e, o, o->model ? o->model : default_model, err, sizeof err)) goto fail;
  if (agent_message(e.a, topic, buf, len, (double)plat_wall_ms(), &refused, reason, sizeof reason, err, sizeof err)) goto fail;
  if (refused) printf("reject: %s\n", reason); else printf("ok\n");
  rc = refused ? 1 : 0;
fail:
  if (rc == 2) fprintf(stderr, "edgellm-fw: error: %s\n", err);
  plat_set_mqtt_publisher(NULL, NULL);
  engine_close(&e);
  return rc;
}

// Why the first connection failed: libmosquitto's error line if it logged one (TLS), else
// the reason (closed: the broker closed it before accepting it; over TLS it does that when it
// refuses the client's certificate or its absence).
static void connect_error(const serve_opts *o, int tls, const char *mq_err, int closed, const char *reason, char *err, size_t n) {
  if (mq_err[0]) snprintf(err, n, "cannot connect to the broker %s: %s", o->broker, mq_err);
  else if (closed && tls && o->cert)
    snprintf(err, n, "cannot connect to the broker %s: it closed the TLS connection during setup; it may not accept the client certificate '%s'", o->broker, o->cert);
  else if (closed && tls)
    snprintf(err, n, "cannot connect to the broker %s: it closed the TLS connection during setup; it may require a client certificate (--cert, --key)", o->broker);
  else if (closed) snprintf(err, n, "cannot connect to the broker %s: it closed the connection before accepting it (%s)", o->broker, reason);
  else snprintf(err, n, "cannot reach the broker %s: %s", o->broker, reason);
}

// Waits until the broker accepts the first connection (0; 1 on a stop signal). A refusal
// (bad credentials), a connection closed before the CONNACK (a TLS rejection) or no CONNACK
// within --connect-timeout is a startup error, as for the Node peer; later connections
// libmosquitto retries on its own.
static int first_connection(transport *t, const serve_opts *o, int tls, char *err, size_t n) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += o->connect_timeout / 1000;
  ts.tv_nsec += (o->connect_timeout % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
  char mq_err[sizeof t->mq_err];
  pthread_mutex_lock(&t->mu);
  while (!t->started && !t->failed && !t->stop) {
    if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT) break;
  }
  int started = t->started, stop = t->stop, failed = t->failed, rc = t->fail_rc;
  memcpy(mq_err, t->mq_err, sizeof mq_err);
  pthread_mutex_unlock(&t->mu);
  if (started) return 0;
  if (stop) return 1;
  if (failed == 3) connect_error(o, tls, mq_err, 0, "", err, n);
  else if (failed == 1) snprintf(err, n, "the broker %s refused the connection: %s", o->broker, mosquitto_connack_string(rc));
  else if (failed == 2) connect_error(o, tls, mq_err, 1, mosquitto_strerror(rc), err, n);
  else snprintf(err, n, "no connection to %s within %ld ms", o->broker, o->connect_timeout);
  return -1;
}

// The model file as loaded (the peer serves its in-memory copy, platform_posix.c): a change on
// disk is logged once per change, so an operator knows the peer still serves the old model.
typedef struct { const char *path; off_t size; struct timespec mtime; uint64_t next_check_us; } file_watch;

static void watch_start(file_watch *w, const char *path) {
  struct stat st;
  memset(w, 0, sizeof *w);
  w->path = path;
  if (stat(path, &st) == 0) { w->size = st.st_size; w->mtime = st.st_mtim; }
}

static void watch_check(file_watch *w) {
  uint64_t now = plat_now_us();
  if (now < w->next_check_us) return;
  w->next_check_us = now + 1000000u;
  struct stat st;
  int gone = stat(w->path, &st) != 0;
  if (!gone && st.st_size == w->size && st.st_mtim.tv_sec == w->mtime.tv_sec && st.st_mtim.tv_nsec == w->mtime.tv_nsec) return;
  logf_("edgellm-fw serve: model file %s %s on disk; still serving the copy loaded at start (restart the peer to load it)",
        w->path, gone ? "was removed" : "changed");
  if (gone) { w->size = -1; memset(&w->mtime, 0, sizeof w->mtime); }
  else { w->size = st.st_size; w->mtime = st.st_mtim; }
}

// The main thread's loop; returns 0 on a stop signal, -1 with err on a fatal module error.
static int serve_loop(transport *t, agent_host *a, fw *f, const serve_opts *o, const char *model_path, float tok_per_sec, char *err, size_t n) {
  file_watch model_watch;
  watch_start(&model_watch, model_path);
  unsigned seen_connects = 0, handed = 0, refused_agent = 0, refused_host = 0;
  uint32_t mem0 = fw_memory_bytes(f), mem_seen = mem0, heap0 = fw_heap_top(f);
  char reason[256];
  for (;;) {
    pthread_mutex_lock(&t->mu);
    int stop = t->stop;
    unsigned connects = t->connects;
    pthread_mutex_unlock(&t->mu);
    if (stop) break;
    if (connects != seen_connects) {
      seen_connects = connects;
      if (agent_capabilities(a, tok_per_sec, free_mem(f, o), err, n)) return -1;
      if (agent_connected(a, (double)plat_wall_ms(), err, n)) return -1;
    }
    for (;;) { // drain the inbox
      inbox_msg m;
      pthread_mutex_lock(&t->mu);
      int have = t->count > 0;
      if (have) { m = t->inbox[t->head]; t->head = (t->head + 1) % INBOX_MAX; t->count--; }
      pthread_mutex_unlock(&t->mu);
      if (!have) break;
      int refused = 0;
      static const uint8_t none[1];
      int r = agent_message(a, m.topic, m.payload ? m.payload : none, m.len, (double)plat_wall_ms(), &refused, reason, sizeof reason, err, n);
      if (!r && refused == 2) logf_("edgellm-fw serve: ignored message: %s: %s", m.topic, reason); // 1: the agent logged it
      handed++;
      refused_agent += refused == 1;
      refused_host += refused == 2;
      free(m.topic); free(m.payload);
      if (r) return -1;
    }
    watch_check(&model_watch);
    uint32_t wait_ms = 0;
    if (agent_tick(a, (double)plat_wall_ms(), TICK_POSITIONS, &wait_ms, err, n)) return -1;
    uint32_t mem = fw_memory_bytes(f);
    if (mem != mem_seen) { logf_("edgellm-fw serve: linear memory grew from %u to %u bytes", mem_seen, mem); mem_seen = mem; }
    if (wait_ms == 0) continue;
    if (wait_ms > 1000) wait_ms = 1000;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&t->mu);
    while (!t->stop && t->count == 0 && t->connects == seen_connects) {
      if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&t->mu);
  }
  uint32_t heap1 = fw_heap_top(f);
  pthread_mutex_lock(&t->mu);
  unsigned received = t->received, dropped = t->dropped;
  pthread_mutex_unlock(&t->mu);
  logf_("edgellm-fw serve: stopping; linear memory %u bytes (%u when serving began), heap top %u (%u); "
        "messages: %u received, %u dropped (inbox full), %u taken from the inbox (%u refused by the agent, %u by the host)",
        fw_memory_bytes(f), mem0, heap1, heap0, received, dropped, handed, refused_agent, refused_host);
  return 0;
}

int serve_main(int argc, char **argv, const char *module_path, const char *default_model) {
  serve_opts o = { .fleet = "default", .pass = getenv("EDGELLM_MQTT_PASSWORD"), .module = module_path,
                   .max_queue = 2, .heartbeat = 1000, .connect_timeout = 10000 };
  int parsed = parse_opts(argc, argv, &o);
  if (parsed) return parsed > 0 ? 0 : 2; // > 0: --help printed
  // A trainer needs the module built with the federated trainer (build/edgellm-fed.wasm beside
  // build/edgellm.wasm); the plain one leaves it out to keep a device's linear memory free.
  static char fed_module[PATH_MAX + 32];
  size_t ml = strlen(module_path), tail = strlen("edgellm.wasm");
  if (o.train_data && o.module == module_path && ml >= tail && ml + 4 < sizeof fed_module && !strcmp(module_path + ml - tail, "edgellm.wasm")) {
    snprintf(fed_module, sizeof fed_module, "%.*sedgellm-fed.wasm", (int)(ml - tail), module_path);
    o.module = fed_module;
  }
  if (o.decode) {
    static const char *const kinds[] = { "task", "cancel", "round", "chunk", "ack" };
    int known = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) known |= !strcmp(o.decode, kinds[i]);
    if (!known) { fprintf(stderr, "edgellm-fw: error: --decode takes task, cancel, round, chunk or ack, got '%s'\n", o.decode); return 2; }
    if (strcmp(o.decode, "task") && strcmp(o.decode, "cancel") && !o.train_data) { fprintf(stderr, "edgellm-fw: error: --decode %s needs --train-data FILE (a trainer's messages)\n", o.decode); return 2; }
    return decode_main(&o, default_model);
  }
  char host[256];
  int port, tls;
  if (!o.broker || !o.model || !o.id) { fprintf(stderr, "edgellm-fw: error: serve needs --broker, --model and --id\n%s", k_usage); return 2; }
  if (parse_broker(o.broker, host, sizeof host, &port, &tls)) { fprintf(stderr, "edgellm-fw: error: broker must be mqtt://host[:port] or mqtts://host[:port], got '%s'\n", o.broker); return 2; }
  if (!o.cert != !o.key) { fprintf(stderr, "edgellm-fw: error: --cert and --key go together (the client certificate and its private key)\n"); return 2; }
  if (!tls && (o.cafile || o.cert)) { fprintf(stderr, "edgellm-fw: error: --cafile, --cert and --key need an mqtts:// broker, got '%s'\n", o.broker); return 2; }

  static transport T;
  transport *t = &T;
  peer_engine e = {0};
  char err[640];
  int rc = 1, mosq_init = 0, loop_started = 0, disconnected = 0, sig_started = 0;
  pthread_t sig_thread;
  pthread_condattr_t ca;
  memset(t, 0, sizeof *t);
  pthread_mutex_init(&t->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->cv, &ca);
  pthread_condattr_destroy(&ca);
  // SIGINT / SIGTERM only reach the signal thread (the mosquitto thread inherits the mask).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  if (pthread_create(&sig_thread, NULL, signal_thread, t)) { snprintf(err, sizeof err, "cannot start the signal thread"); goto fail; }
  sig_started = 1;

  if (o.cafile && check_pem("--cafile", o.cafile, "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----", err, sizeof err)) goto fail;
  if (o.cert && (check_pem("--cert", o.cert, "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----", err, sizeof err) ||
                 check_pem("--key", o.key, "-----BEGIN", "PRIVATE KEY-----", err, sizeof err))) goto fail;
  if (engine_open(&e, &o, o.model, err, sizeof err)) goto fail;
  snprintf(t->sub, sizeof t->sub, "%s", agent_subscription(e.a));
  snprintf(t->presence, sizeof t->presence, "%s", agent_will_topic(e.a));
  for (int i = 0; i < 2; i++) snprintf(t->fed[i], sizeof t->fed[i], "%s", agent_trainer_subscription(e.a, i) ? agent_trainer_subscription(e.a, i) : "");
  t->inbox_bytes = agent_inbox_bytes(e.a);

  mosquitto_lib_init();
  mosq_init = 1;
  char cid[100];
  // A client id of its own: two processes given one --id must not take the connection from each
  // other, but see each other's presence (the agent stops the later one).
  snprintf(cid, sizeof cid, "edgellm-peer-%.64s-%.8s", o.id, e.nonce);
  if (!(t->mq = mosquitto_new(cid, true, t))) { snprintf(err, sizeof err, "mosquitto_new failed"); goto fail; }
  mosquitto_int_option(t->mq, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_int_option(t->mq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_log_callback_set(t->mq, on_log);
  int mrc;
  if (tls) {
    // Without --cafile: the system's CA certificates (as the Node peer's default; OpenSSL's
    // default paths, SSL_CERT_FILE / SSL_CERT_DIR honoured). mosquitto_tls_set, needed for a
    // client certificate, insists on a CA file or directory: then the default directory too.
    if (!o.cafile && (mrc = mosquitto_int_option(t->mq, MOSQ_OPT_TLS_USE_OS_CERTS, 1)) != MOSQ_ERR_SUCCESS) {
      snprintf(err, sizeof err, "TLS: system CA certificates: %s", mosquitto_strerror(mrc)); goto fail;
    }
    const char *capath = NULL;
    if (!o.cafile && o.cert) {
      const char *env_dir = getenv(X509_get_default_cert_dir_env());
      capath = env_dir ? env_dir : X509_get_default_cert_dir();
    }
    if ((o.cafile || o.cert) && (mrc = mosquitto_tls_set(t->mq, o.cafile, capath, o.cert, o.key, NULL)) != MOSQ_ERR_SUCCESS) {
      snprintf(err, sizeof err, "TLS: mosquitto_tls_set: %s", mosquitto_strerror(mrc)); goto fail;
    }
    // Verify the broker's certificate (and, by default, that it names the URL's host).
    if ((mrc = mosquitto_tls_opts_set(t->mq, 1 /* SSL_VERIFY_PEER */, NULL, NULL)) != MOSQ_ERR_SUCCESS) {
      snprintf(err, sizeof err, "TLS: mosquitto_tls_opts_set: %s", mosquitto_strerror(mrc)); goto fail;
    }
  }
  if (o.user) mosquitto_username_pw_set(t->mq, o.user, o.pass);
  size_t wl;
  const uint8_t *will = agent_will_payload(e.a, &wl);
  mrc = mosquitto_will_set(t->mq, agent_will_topic(e.a), (int)wl, will, 1, true);
  if (mrc != MOSQ_ERR_SUCCESS) { snprintf(err, sizeof err, "last will: %s", mosquitto_strerror(mrc)); goto fail; }
  mosquitto_connect_callback_set(t->mq, on_connect);
  mosquitto_message_callback_set(t->mq, on_message);
  mosquitto_disconnect_callback_set(t->mq, on_disconnect);
  mosquitto_reconnect_delay_set(t->mq, 1, 2, false);
  plat_set_mqtt_publisher(publish, t);
  if ((mrc = mosquitto_connect(t->mq, host, port, 10)) != MOSQ_ERR_SUCCESS) {
    int closed = tls && mrc == MOSQ_ERR_ERRNO && errno == EPROTO; // the broker closed it during the handshake
    connect_error(&o, tls, t->mq_err, closed, mosquitto_strerror(mrc), err, sizeof err); // (MOSQ_ERR_ERRNO: strerror(errno))
    goto fail;
  }
  if ((mrc = mosquitto_loop_start(t->mq)) != MOSQ_ERR_SUCCESS) { snprintf(err, sizeof err, "mosquitto_loop_start: %s", mosquitto_strerror(mrc)); goto fail; }
  loop_started = 1;
  int first = first_connection(t, &o, tls, err, sizeof err);
  if (first == 1) { rc = 0; goto fail; } // stopped while connecting: nothing announced yet
  if (first) goto fail;
  fprintf(stderr, "edgellm-fw serve: peer %s serving %s (%.0f tok/s, ctx %d, linear memory %u bytes, heap top %u%s%s%s) on %s\n", o.id,
          o.model, e.tok_per_sec, fw_field(e.f, FW_FIELD_CTX), fw_memory_bytes(e.f), fw_heap_top(e.f), e.n_adapters ? ", adapters " : "", e.adapter_ids,
          o.commands ? ", commands" : "", o.broker);
  if (o.train_data) fprintf(stderr, "edgellm-fw serve: peer %s trains in federated rounds (mezo) on %d examples of %s\n", o.id, e.n_examples, o.train_data);

  if (serve_loop(t, e.a, e.f, &o, o.model ? o.model : default_model, (float)e.tok_per_sec, err, sizeof err)) goto fail; // fatal: no clean disconnect, the will goes out
  if (agent_shutdown(e.a, err, sizeof err)) goto fail;
  struct timespec d = { 0, 200 * 1000000L };
  nanosleep(&d, NULL); // let the network thread send the offline status
  mosquitto_disconnect(t->mq);
  disconnected = 1;
  rc = 0;
fail:
  if (rc) fprintf(stderr, "edgellm-fw: error: %s\n", err);
  plat_set_mqtt_publisher(NULL, NULL);
  if (loop_started) mosquitto_loop_stop(t->mq, !disconnected); // force: no disconnect was sent
  if (t->mq) mosquitto_destroy(t->mq);
  if (mosq_init) mosquitto_lib_cleanup();
  if (sig_started) {
    pthread_kill(sig_thread, SIGTERM); // no-op if it already took a signal and returned
    pthread_join(sig_thread, NULL);
  }
  for (; t->count > 0; t->count--, t->head = (t->head + 1) % INBOX_MAX) { free(t->inbox[t->head].topic); free(t->inbox[t->head].payload); }
  engine_close(&e);
  return rc;
}
