// The fleet protocol (docs/protocol.md) for the firmware peer: parses the two inbound kinds
// (task, cancel) with the schema's checks, and writes the outbound kinds. Flat JSON only.
#ifndef EDGELLM_FLEET_MSG_H
#define EDGELLM_FLEET_MSG_H
#include <stddef.h>
#include <stdint.h>

#define FLEET_MAX_PAYLOAD 65536
#define FLEET_MAX_PROMPT 8192
#define FLEET_NAME_MAX 64

typedef struct {
  char task_id[FLEET_NAME_MAX + 1];
  uint32_t attempt, lease_ms, deadline_ms;
  char prompt[FLEET_MAX_PROMPT + 1]; size_t prompt_len;
  int32_t steps;
  float temperature, topp;
  uint64_t seed;
} fleet_task;

typedef struct { char task_id[FLEET_NAME_MAX + 1]; } fleet_cancel;

int fleet_name_ok(const char *s, size_t n);

// 0 on success, else -1 with the reason in err (one line).
int fleet_parse_task(const uint8_t *p, size_t n, fleet_task *out, char *err, size_t errlen);
int fleet_parse_cancel(const uint8_t *p, size_t n, fleet_cancel *out, char *err, size_t errlen);

// A growable output buffer for building payloads.
typedef struct { char *data; size_t len, cap; int oom; } fleet_buf;
void fleet_buf_free(fleet_buf *b);
void fleet_buf_raw(fleet_buf *b, const char *s, size_t n);
#define FLEET_LIT(b, lit) fleet_buf_raw((b), (lit), sizeof(lit) - 1)
void fleet_buf_fmt(fleet_buf *b, const char *fmt, ...);
void fleet_buf_str(fleet_buf *b, const char *s);        // a JSON string literal, escaped
void fleet_buf_b64(fleet_buf *b, const uint8_t *p, size_t n); // a JSON string of base64
#endif
