// POSIX platform (Linux, Raspberry Pi): files are read into the process's memory, where the
// model's weights are used in place as an ESP32 uses its mapped flash partition. A copy, not a
// mapping: a model or module file replaced or truncated while a peer runs cannot take it down
// (a MAP_PRIVATE mapping of a truncated file faults with SIGBUS); the peer keeps serving what it
// loaded, and says when the file on disk changed (serve_posix.c).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../core/pack.h"
#include "../core/platform.h"
#include "serve_posix.h"

int plat_map(const char *name, plat_blob *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!*name) { snprintf(err, errlen, "a file path is empty"); return -1; }
  int fd = open(name, O_RDONLY);
  struct stat st;
  if (fd < 0) { snprintf(err, errlen, "%s: %s", name, strerror(errno)); return -1; }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: not a regular file", name);
    close(fd);
    return -1;
  }
  if (st.st_size == 0) { snprintf(err, errlen, "%s: empty file", name); close(fd); return -1; }
  uint8_t *p = malloc((size_t)st.st_size);
  if (!p) { snprintf(err, errlen, "%s: out of memory for %lld bytes", name, (long long)st.st_size); close(fd); return -1; }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t k = read(fd, p + got, (size_t)st.st_size - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  int read_errno = errno;
  close(fd);
  if (got != (size_t)st.st_size) {
    snprintf(err, errlen, "%s: %s", name, got < (size_t)st.st_size && read_errno ? strerror(read_errno) : "changed size while being read");
    free(p);
    return -1;
  }
  out->data = p;
  out->size = (size_t)st.st_size;
  out->handle = p;
  out->map_len = (size_t)st.st_size;
  // A packed partition image (tools/pack-firmware.ts) is checked and unwrapped, as on ESP32.
  if (pack_is_packed(p, (size_t)st.st_size)) {
    char why[64];
    if (pack_unwrap(p, (size_t)st.st_size, &out->data, &out->size, why, sizeof why)) {
      snprintf(err, errlen, "%s: %s", name, why);
      free(p);
      memset(out, 0, sizeof *out);
      return -1;
    }
  }
  return 0;
}

void plat_unmap(plat_blob *b) {
  free(b->handle);
  memset(b, 0, sizeof *b);
}

// One call's bound: SIGALRM after limit_s seconds writes one line and exits 1 (the handler may
// only use async-signal-safe calls: write and _exit).
#define DEFAULT_CALL_TIMEOUT_S 60
static const char *volatile g_call = "";
static volatile uint32_t g_call_limit = 0;

static void on_call_timeout(int sig) {
  (void)sig;
  static const char a[] = "edgellm-fw: error: module: ", b[] = " ran for more than the call timeout (--call-timeout): a damaged or hostile module?\n";
  const char *w = g_call;
  size_t n = 0;
  while (w[n] && n < 64) n++;
  if (write(2, a, sizeof a - 1) < 0 || write(2, w, n) < 0 || write(2, b, sizeof b - 1) < 0) _exit(1);
  _exit(1);
}

void plat_call_begin(const char *what, uint32_t limit_s) {
  static int installed = 0;
  if (!installed) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_call_timeout;
    sigaction(SIGALRM, &sa, NULL);
    installed = 1;
  }
  g_call = what;
  g_call_limit = limit_s ? limit_s : DEFAULT_CALL_TIMEOUT_S;
  struct itimerval t = { { 0, 0 }, { (time_t)g_call_limit, 0 } };
  setitimer(ITIMER_REAL, &t, NULL);
}

void plat_call_end(void) {
  struct itimerval t = { { 0, 0 }, { 0, 0 } };
  setitimer(ITIMER_REAL, &t, NULL);
}

uint64_t plat_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void plat_log(const char *line) { fprintf(stderr, "%s\n", line); }
// edgellm-fw serve redirects generated text to its fleet peer (serve_posix.h).
static void (*g_sink)(const uint8_t *, size_t, void *);
static void *g_sink_ctx;
void plat_set_write_sink(void (*fn)(const uint8_t *, size_t, void *), void *ctx) { g_sink = fn; g_sink_ctx = ctx; }
void plat_write(const uint8_t *bytes, size_t n) { if (g_sink) g_sink(bytes, n, g_sink_ctx); else fwrite(bytes, 1, n, stdout); }
int plat_flush(void) { return fflush(stdout) || ferror(stdout) ? -1 : 0; }

uint64_t plat_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t plat_free_bytes(void) {
  long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (size_t)pages * (size_t)size : 0;
}

// MQTT: `edgellm-fw serve` plugs libmosquitto in (serve_posix.c); `run` has no broker.
static int (*g_pub)(void *, const char *, const uint8_t *, size_t, int, int);
static void *g_pub_ctx;
void plat_set_mqtt_publisher(int (*fn)(void *, const char *, const uint8_t *, size_t, int, int), void *ctx) { g_pub = fn; g_pub_ctx = ctx; }
int plat_mqtt_publish(const char *topic, const uint8_t *payload, size_t len, int qos, int retain) {
  return g_pub ? g_pub(g_pub_ctx, topic, payload, len, qos, retain) : -1;
}
