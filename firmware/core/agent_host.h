// The device side of the fleet protocol (docs/protocol.md §4 Peer) runs inside the module
// (assembly/agent/): it parses task/cancel messages, queues and runs tasks, and publishes
// status, heartbeats, accept/reject, tokens and results through env.mqttPublish. A platform
// is only its MQTT transport, clock and log; this is the one place that drives the agent's
// exports (same code on POSIX and ESP32).
//
// Calls come from one thread (the module is not reentrant). Typical host loop:
//   agent_open → set the MQTT will (agent_will_*) → connect → on every connection:
//   subscribe agent_subscription(), then agent_connected; then forever: each received
//   message → agent_message; agent_tick → sleep at most wait_ms or until a message arrives;
//   on stop: agent_shutdown, disconnect, agent_close.
#ifndef EDGELLM_AGENT_HOST_H
#define EDGELLM_AGENT_HOST_H
#include <stddef.h>
#include <stdint.h>
#include "fw.h"

// The protocol's payload limit (docs/protocol.md §1): the default inbox. A longer payload goes
// to the module with its true length and no bytes (it refuses it on the length alone).
#define AGENT_PAYLOAD_LIMIT 65536
#define AGENT_TOPIC_MAX 255

typedef struct agent_host agent_host;

typedef struct {
  const char *fleet, *id;     // names (^[A-Za-z0-9_-]{1,64}$, checked by the module)
  int32_t max_queue;          // tasks held at most (1..64)
  int32_t heartbeat_ms, flush_ms;
  const char *model_id, *impl;
  float tok_per_sec;
  int32_t free_mem;           // bytes, for the status message
  uint32_t inbox_bytes;       // guest buffer for one received payload (0: AGENT_PAYLOAD_LIMIT)
  const char *nonce;          // this process's presence nonce: 1-16 lower-case hex digits (NULL: none)
} agent_config;

// Each int function returns 0 on success, else -1 with a one-line message in err: a trap,
// a module error, or linear memory past fw_config.max_memory. After -1 the module's state is
// unknown: close it.
int agent_open(agent_host **out, fw *f, const agent_config *c, char *err, size_t errlen);
// Announced capabilities again (freeMem changes).
int agent_capabilities(agent_host *a, float tok_per_sec, int32_t free_mem, char *err, size_t errlen);

const char *agent_subscription(const agent_host *a);  // topic filter: edgellm/v1/<fleet>/to/<id>/+
const char *agent_will_topic(const agent_host *a);    // peer/<id>/status, retained, QoS 1
const uint8_t *agent_will_payload(const agent_host *a, size_t *len);
uint32_t agent_inbox_bytes(const agent_host *a);      // largest payload agent_message takes

// Held adapter `held` (fw_adapter_hold) served as `id` (^[A-Za-z0-9_.-]{1,128}$): announced in
// the status, named by tasks. After agent_open, before agent_connected.
int agent_add_adapter(agent_host *a, const char *id, int32_t held, char *err, size_t errlen);
// Serve commands tasks (docs/protocol.md §3) with the compiled home-command grammar grammar[len]
// (kept by the caller: copied into linear memory, or with `external` read from it through
// env.gRead). After agent_open, before agent_connected.
int agent_serve_commands(agent_host *a, const uint8_t *grammar, size_t len, int external, char *err, size_t errlen);
// Take part in federated MeZO rounds (docs/protocol.md §9) with examples[count] (kept by the
// caller: the module reads one at a time through env.exRead). After agent_open, before
// agent_connected; then also subscribe agent_trainer_subscription(a, 0) and (a, 1).
int agent_trainer(agent_host *a, const fw_example *examples, int32_t count, char *err, size_t errlen);
// The trainer's filters: 0 edgellm/v1/<fleet>/fed/round, 1 …/fedto/<id>/+ (NULL: not training).
const char *agent_trainer_subscription(const agent_host *a, int which);
// After every (re)connection, once subscribed: the online status.
int agent_connected(agent_host *a, double now_ms, char *err, size_t errlen);
// One received message. *refused: 0 handled; 1 the module rejected it (state unchanged; it
// logged the reason through env.agentLog; the reason also in reason[]); 2 refused by the host
// without reaching the module (a payload within the protocol's limit but over the inbox, a
// topic over AGENT_TOPIC_MAX): the caller logs reason[].
int agent_message(agent_host *a, const char *topic, const uint8_t *payload, size_t len, double now_ms,
                  int *refused, char *reason, size_t reasonlen, char *err, size_t errlen);
// Runs up to max_positions positions of work. *wait_ms: 0 when there is more work now, else
// the time until the agent next needs a call (heartbeat, flush), unless a message comes first.
int agent_tick(agent_host *a, double now_ms, int32_t max_positions, uint32_t *wait_ms, char *err, size_t errlen);
// Graceful stop: the agent publishes the offline status (retained) itself.
int agent_shutdown(agent_host *a, char *err, size_t errlen);
int32_t agent_held(agent_host *a);                    // tasks queued + running (-1: error)
void agent_close(agent_host *a);                      // the fw stays open (fw_close it after)
#endif
