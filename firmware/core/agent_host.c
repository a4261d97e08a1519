// Drives the module's fleet agent (assembly/agent/, exports agent* in assembly/index.ts)
// under wasm3. Strings cross as (pointer, length) in one guest region allocated once here:
// [topic: AGENT_TOPIC_MAX + 1 bytes][payload: inbox_bytes], also the scratch for the strings
// the agent writes back. Every length the module returns is checked against its buffer.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent_host.h"
#include "fw_internal.h"

#define SMALL_CAP 256   // subscription, will topic / payload, reject reason
#define E_OUT_OF_MEMORY (-14) // assembly/core/errors.ts
#define E_REJECTED (-17)      // agentMessage refused the message
#define E_DUPLICATE_ID (-18)  // agentMessage: another process is online with this peer id

struct agent_host {
  fw *f;
  IM3Function init, caps, subscription, will, connected, message, tick, shutdown, held, reason, set_nonce, add_adapter, serve_commands,
      trainer, trainer_filter;
  uint32_t topic_buf, payload_buf, inbox_bytes;  // guest offsets / size
  char model_id[161], impl[33];
  char sub[SMALL_CAP], will_topic[SMALL_CAP], fed_sub[2][SMALL_CAP];
  uint8_t will_payload[SMALL_CAP]; size_t will_len;
};


// Linear memory [off, off + len), or NULL when out of range.
static uint8_t *guest(agent_host *a, uint32_t off, uint64_t len) {
  uint32_t size = 0;
  uint8_t *mem = m3_GetMemory(a->f->rt, &size, 0);
  if (!mem || (uint64_t)off + len > size) return NULL;
  return mem + off;
}

// Copies n bytes into the guest at off (inside the region allocated in agent_open).
static int put(agent_host *a, uint32_t off, const void *src, size_t n, const char *what, char *err, size_t en) {
  uint8_t *g = guest(a, off, n);
  if (!g) return fw_failf(err, en, "agent: %s: guest buffer out of range", what);
  memcpy(g, src, n);
  return 0;
}

// A string of len bytes the module wrote at off: checked, copied out, NUL-terminated.
static int get_text(agent_host *a, uint32_t off, int32_t len, size_t cap, char *out, const char *what, char *err, size_t en) {
  if (len <= 0 || (size_t)len >= cap) return fw_failf(err, en, "agent: %s: length %d outside 1..%zu", what, (int)len, cap - 1);
  const uint8_t *g = guest(a, off, (uint32_t)len);
  if (!g) return fw_failf(err, en, "agent: %s: guest buffer out of range", what);
  if (memchr(g, 0, (size_t)len)) return fw_failf(err, en, "agent: %s: holds a NUL byte", what);
  memcpy(out, g, (size_t)len);
  out[len] = 0;
  return 0;
}

static int find_all(agent_host *a, char *err, size_t n) {
  fw *f = a->f;
  if (fw_find(f, &a->init, "agentInit", 1, err, n) || fw_find(f, &a->caps, "agentSetCapabilities", 1, err, n) ||
      fw_find(f, &a->subscription, "agentSubscription", 1, err, n) || fw_find(f, &a->will, "agentWill", 1, err, n) ||
      fw_find(f, &a->connected, "agentConnected", 1, err, n) || fw_find(f, &a->message, "agentMessage", 1, err, n) ||
      fw_find(f, &a->tick, "agentTick", 1, err, n) || fw_find(f, &a->shutdown, "agentShutdown", 1, err, n) ||
      fw_find(f, &a->held, "agentHeld", 1, err, n) || fw_find(f, &a->reason, "agentReason", 1, err, n) ||
      fw_find(f, &a->set_nonce, "agentSetNonce", 1, err, n) || fw_find(f, &a->add_adapter, "agentAddAdapter", 0, err, n) ||
      fw_find(f, &a->serve_commands, "agentServeCommands", 0, err, n) || fw_find(f, &a->trainer, "agentTrainer", 0, err, n) ||
      fw_find(f, &a->trainer_filter, "agentTrainerFilter", 0, err, n))
    return -1;
  return 0;
}

// agentWill returns (topicLen << 16) | payloadLen: topic at topicOut, payload at payloadOut.
static int read_will(agent_host *a, char *err, size_t n) {
  uint32_t tp = a->payload_buf, pp = a->payload_buf + SMALL_CAP;
  int32_t cap = SMALL_CAP, r;
  const void *args[] = { &tp, &cap, &pp, &cap };
  if (fw_call_checked(a->f, a->will, "agentWill", &r, 4, args, err, n)) return -1;
  int32_t tl = (int32_t)((uint32_t)r >> 16), pl = r & 0xffff;
  if (get_text(a, tp, tl, sizeof a->will_topic, a->will_topic, "will topic", err, n)) return -1;
  if (pl <= 0 || pl > SMALL_CAP) return fw_failf(err, n, "agent: will payload length %d outside 1..%d", (int)pl, SMALL_CAP);
  const uint8_t *g = guest(a, pp, (uint32_t)pl);
  if (!g) return fw_failf(err, n, "agent: will payload: guest buffer out of range");
  memcpy(a->will_payload, g, (size_t)pl);
  a->will_len = (size_t)pl;
  return 0;
}

int agent_open(agent_host **out, fw *f, const agent_config *c, char *err, size_t n) {
  *out = NULL;
  agent_host *a = calloc(1, sizeof *a);
  if (!a) return fw_failf(err, n, "out of memory");
  a->f = f;
  a->inbox_bytes = c->inbox_bytes ? c->inbox_bytes : AGENT_PAYLOAD_LIMIT;
  size_t fl = strlen(c->fleet), il = strlen(c->id), ml = strlen(c->model_id), kl = strlen(c->impl);
  if (a->inbox_bytes < 3 * SMALL_CAP || a->inbox_bytes > AGENT_PAYLOAD_LIMIT) {
    fw_failf(err, n, "agent: inbox of %u bytes outside %d..%d", a->inbox_bytes, 3 * SMALL_CAP, AGENT_PAYLOAD_LIMIT); goto fail;
  }
  if (fl > 64 || il > 64) { fw_failf(err, n, "agent: --fleet and --id are at most 64 characters"); goto fail; }
  if (ml >= sizeof a->model_id || kl >= sizeof a->impl) { fw_failf(err, n, "agent: model id or impl too long"); goto fail; }
  memcpy(a->model_id, c->model_id, ml + 1);
  memcpy(a->impl, c->impl, kl + 1);
  if (find_all(a, err, n)) goto fail;

  int32_t bytes = (int32_t)(AGENT_TOPIC_MAX + 1 + a->inbox_bytes), p, r;
  const void *aa[] = { &bytes };
  if (fw_call(f, f->alloc, "agent inbox", &p, 1, aa, err, n)) goto fail;
  if (p <= 0 || !guest(a, (uint32_t)p, (uint32_t)bytes)) { fw_failf(err, n, "agent inbox: linear memory could not grow"); goto fail; }
  a->topic_buf = (uint32_t)p;
  a->payload_buf = (uint32_t)p + AGENT_TOPIC_MAX + 1;

  uint32_t fp = a->payload_buf, ip = a->payload_buf + 128;
  int32_t fn = (int32_t)fl, in = (int32_t)il, mq = c->max_queue, hb = c->heartbeat_ms, fm = c->flush_ms;
  if (put(a, fp, c->fleet, fl, "fleet", err, n) || put(a, ip, c->id, il, "id", err, n)) goto fail;
  const void *ia[] = { &fp, &fn, &ip, &in, &mq, &hb, &fm };
  if (fw_call(f, a->init, "agentInit", &r, 7, ia, err, n)) goto fail;
  if (r == E_OUT_OF_MEMORY) { fw_failf(err, n, "agentInit: the agent's buffers do not fit in linear memory: lower --inbox, --max-queue or --ctx, or raise --max-memory"); goto fail; }
  if (r < 0) { fw_failf(err, n, "agentInit: %s", fw_module_error(r)); goto fail; }
  if (agent_capabilities(a, c->tok_per_sec, c->free_mem, err, n)) goto fail;
  if (c->nonce) {
    size_t nl = strlen(c->nonce);
    int32_t nn = (int32_t)nl;
    uint32_t np = a->payload_buf;
    const void *na[] = { &np, &nn };
    if (nl > 16 || put(a, np, c->nonce, nl, "nonce", err, n) || fw_call_checked(f, a->set_nonce, "agentSetNonce", &r, 2, na, err, n)) {
      if (!err[0]) fw_failf(err, n, "agent: bad nonce");
      goto fail;
    }
  }

  uint32_t sp = a->payload_buf;
  int32_t cap = SMALL_CAP;
  const void *sa[] = { &sp, &cap };
  if (fw_call_checked(f, a->subscription, "agentSubscription", &r, 2, sa, err, n)) goto fail;
  if (get_text(a, sp, r, sizeof a->sub, a->sub, "subscription", err, n)) goto fail;
  if (read_will(a, err, n)) goto fail;
  *out = a;
  return 0;
fail:
  agent_close(a);
  return -1;
}

int agent_capabilities(agent_host *a, float tok_per_sec, int32_t free_mem, char *err, size_t n) {
  size_t ml = strlen(a->model_id), kl = strlen(a->impl);
  uint32_t mp = a->payload_buf, kp = a->payload_buf + SMALL_CAP;
  int32_t mn = (int32_t)ml, kn = (int32_t)kl, r;
  if (put(a, mp, a->model_id, ml, "model id", err, n) || put(a, kp, a->impl, kl, "impl", err, n)) return -1;
  const void *ca[] = { &mp, &mn, &kp, &kn, &tok_per_sec, &free_mem };
  return fw_call_checked(a->f, a->caps, "agentSetCapabilities", &r, 6, ca, err, n);
}

int agent_add_adapter(agent_host *a, const char *id, int32_t held, char *err, size_t n) {
  if (!a->add_adapter) return fw_failf(err, n, "module: no agentAddAdapter export (rebuild the module)");
  size_t il = strlen(id);
  if (il == 0 || il > 128) return fw_failf(err, n, "adapter id '%s': 1-128 characters", id);
  uint32_t ip = a->payload_buf;
  int32_t in = (int32_t)il, r;
  if (put(a, ip, id, il, "adapter id", err, n)) return -1;
  const void *args[] = { &ip, &in, &held };
  return fw_call_checked(a->f, a->add_adapter, "agentAddAdapter", &r, 3, args, err, n);
}

int agent_serve_commands(agent_host *a, const uint8_t *grammar, size_t len, int external, char *err, size_t n) {
  if (!a->serve_commands) return fw_failf(err, n, "module: no agentServeCommands export (rebuild the module)");
  if (fw_grammar_hold(a->f, grammar, len, external, err, n)) return -1;
  int32_t r;
  if (fw_call(a->f, a->serve_commands, "agentServeCommands", &r, 0, NULL, err, n)) return -1;
  if (r == E_OUT_OF_MEMORY) return fw_failf(err, n, "commands: the grammar's tables do not fit in linear memory: raise --max-memory");
  if (r < 0) return fw_failf(err, n, "commands: %s", fw_module_error(r));
  return 0;
}

int agent_trainer(agent_host *a, const fw_example *examples, int32_t count, char *err, size_t n) {
  if (!a->trainer || !a->trainer_filter) return fw_failf(err, n, "module: no agentTrainer export (rebuild the module)");
  if (count < 1) return fw_failf(err, n, "federated training needs at least one example");
  uint32_t text_cap = 2;
  for (int32_t i = 0; i < count; i++) {
    if (examples[i].slen > 0xffff || examples[i].llen > 0xffff || examples[i].slen + examples[i].llen > 0xffff)
      return fw_failf(err, n, "data line %u: over 65,535 bytes", examples[i].line);
    if (examples[i].slen + examples[i].llen > text_cap) text_cap = examples[i].slen + examples[i].llen;
  }
  fw_set_examples(a->f, examples, count);
  int32_t tc = (int32_t)text_cap, r;
  const void *ta[] = { &count, &tc };
  if (fw_call(a->f, a->trainer, "agentTrainer", &r, 2, ta, err, n)) return -1;
  if (r == E_OUT_OF_MEMORY) return fw_failf(err, n, "federated training: its buffers do not fit in linear memory: raise --max-memory");
  if (r < 0) return fw_failf(err, n, "agentTrainer: %s", fw_module_error(r));
  for (int32_t which = 0; which < 2; which++) {
    uint32_t sp = a->payload_buf;
    int32_t cap = SMALL_CAP;
    const void *sa[] = { &which, &sp, &cap };
    if (fw_call_checked(a->f, a->trainer_filter, "agentTrainerFilter", &r, 3, sa, err, n)) return -1;
    if (get_text(a, sp, r, sizeof a->fed_sub[which], a->fed_sub[which], "trainer subscription", err, n)) return -1;
  }
  return 0;
}

const char *agent_trainer_subscription(const agent_host *a, int which) { return which >= 0 && which < 2 && a->fed_sub[which][0] ? a->fed_sub[which] : NULL; }

const char *agent_subscription(const agent_host *a) { return a->sub; }
const char *agent_will_topic(const agent_host *a) { return a->will_topic; }
const uint8_t *agent_will_payload(const agent_host *a, size_t *len) { *len = a->will_len; return a->will_payload; }
uint32_t agent_inbox_bytes(const agent_host *a) { return a->inbox_bytes; }

int agent_connected(agent_host *a, double now_ms, char *err, size_t n) {
  int32_t r;
  const void *args[] = { &now_ms };
  return fw_call_checked(a->f, a->connected, "agentConnected", &r, 1, args, err, n);
}

int agent_message(agent_host *a, const char *topic, const uint8_t *payload, size_t len, double now_ms,
                  int *refused, char *reason, size_t rn, char *err, size_t n) {
  *refused = 0;
  reason[0] = 0;
  size_t tl = strlen(topic);
  if (tl == 0 || tl > AGENT_TOPIC_MAX) {
    *refused = 2;
    snprintf(reason, rn, "topic of %zu bytes (at most %d)", tl, AGENT_TOPIC_MAX);
    return 0;
  }
  // Over the protocol's limit: the module refuses it on its length alone, before reading a
  // byte (its ABI says so), so the bytes are not copied. Within the limit but over a smaller
  // inbox: refused here.
  if (len > AGENT_PAYLOAD_LIMIT) len = len > INT32_MAX ? INT32_MAX : len;
  else if (len > a->inbox_bytes) {
    *refused = 2;
    snprintf(reason, rn, "payload of %zu bytes does not fit the inbox of %u bytes", len, a->inbox_bytes);
    return 0;
  }
  if (put(a, a->topic_buf, topic, tl, "topic", err, n) ||
      (len <= AGENT_PAYLOAD_LIMIT && put(a, a->payload_buf, payload, len, "payload", err, n)))
    return -1;
  uint32_t tp = a->topic_buf, pp = a->payload_buf;
  int32_t tn = (int32_t)tl, pn = (int32_t)len, r;
  const void *args[] = { &tp, &tn, &pp, &pn, &now_ms };
  if (fw_call(a->f, a->message, "agentMessage", &r, 5, args, err, n)) return -1;
  if (r >= 0) return 0;
  if (r == E_DUPLICATE_ID) return fw_failf(err, n, "another process is online with this peer id (it connected first): give each peer its own --id");
  if (r != E_REJECTED) return fw_failf(err, n, "agentMessage: %s", fw_module_error(r));
  *refused = 1;
  // The reason text (the payload buffer is free again once the call returned).
  uint32_t op = a->payload_buf;
  int32_t cap = (int32_t)(rn < SMALL_CAP ? rn : SMALL_CAP) - 1, k;
  const void *ra[] = { &op, &cap };
  if (fw_call(a->f, a->reason, "agentReason", &k, 2, ra, err, n)) return -1;
  if (k <= 0 || get_text(a, op, k, rn, reason, "reason", err, n))
    snprintf(reason, rn, "%s", fw_module_error(r));
  return 0;
}

int agent_tick(agent_host *a, double now_ms, int32_t max_positions, uint32_t *wait_ms, char *err, size_t n) {
  int32_t r;
  const void *args[] = { &now_ms, &max_positions };
  if (fw_call_checked(a->f, a->tick, "agentTick", &r, 2, args, err, n)) return -1;
  *wait_ms = (uint32_t)r;
  return 0;
}

int agent_shutdown(agent_host *a, char *err, size_t n) {
  int32_t r;
  return fw_call_checked(a->f, a->shutdown, "agentShutdown", &r, 0, NULL, err, n);
}

int32_t agent_held(agent_host *a) {
  int32_t r = -1;
  char err[8];
  if (fw_call(a->f, a->held, "agentHeld", &r, 0, NULL, err, sizeof err)) return -1;
  return r;
}

void agent_close(agent_host *a) { free(a); }
