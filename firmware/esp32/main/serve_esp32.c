// The ESP32 fleet peer (CONFIG_EDGELLM_SERVE): the same host of the module's agent as
// firmware/posix/serve_posix.c, with esp-mqtt as the transport. NOT compiled in this
// repository's CI (no ESP-IDF): it mirrors the POSIX code, which is tested, call for call:
//   esp-mqtt task (event handler): on connect subscribe and queue a "connected" marker; each
//     received message (reassembled from esp-mqtt's fragments) is copied into a bounded
//     FreeRTOS queue, dropped with a log line when full. It never touches the module.
//   serve task: agent_connected on each marker, agent_message per message, agent_tick(now,
//     TICK_POSITIONS), then waits on the queue at most the ms the tick returned.
// TLS (an mqtts:// CONFIG_EDGELLM_BROKER_URI), as POSIX's --cafile / --cert / --key: the broker
// is verified against the CA PEM embedded from CONFIG_EDGELLM_MQTT_CA_FILE, else against
// ESP-IDF's certificate bundle (POSIX: the system's CAs), and its certificate must name the
// URI's host; CONFIG_EDGELLM_MQTT_CLIENT_CERT_FILE / _KEY_FILE add a client certificate.
// main/CMakeLists.txt embeds the files. Unlike POSIX, a failing first connection is not
// fatal: a device has no one to restart it, so esp-mqtt retries, with a log line each time.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "esp_crt_bundle.h"
#include "esp_event.h"
#include "esp_heap_caps.h"
#include "esp_netif.h"
#include "esp_random.h"
#include "esp_sntp.h"
#include "esp_wifi.h"
#include "mbedtls/error.h"
#include "mbedtls/x509_crt.h"
#include "mqtt_client.h"
#include "nvs_flash.h"
#include "agent_host.h"
#include "fw.h"
#include "platform.h"
#include "serve_esp32.h"

#define INBOX_DEPTH 4        // queued messages (each up to CONFIG_EDGELLM_INBOX bytes of heap)
#define TICK_POSITIONS 4     // as serve_posix.c
#define FLUSH_MS 20
#define PROBE_POSITIONS 32
#define DROPS_LOGGED_PER_SECOND 10

// The PEM files embedded by main/CMakeLists.txt (NUL-terminated).
#ifdef EDGELLM_MQTT_CA
extern const char mqtt_ca_pem_start[] asm("_binary_mqtt_ca_pem_start");
#endif
#if defined(EDGELLM_MQTT_CLIENT_CERT) && defined(EDGELLM_MQTT_CLIENT_KEY)
extern const char mqtt_client_cert_pem_start[] asm("_binary_mqtt_client_cert_pem_start");
extern const char mqtt_client_key_pem_start[] asm("_binary_mqtt_client_key_pem_start");
#endif

typedef struct { char *topic; uint8_t *payload; size_t len; } inbox_msg; // topic NULL: "connected"

typedef struct {
  QueueHandle_t inbox;
  char sub[AGENT_TOPIC_MAX + 1];
  char presence[AGENT_TOPIC_MAX + 1]; // our own status topic: the agent guards what is retained there
  uint32_t inbox_bytes;
  inbox_msg partial;  // a message esp-mqtt delivers in fragments (event handler only)
  size_t partial_got;
  int partial_drop;
  unsigned dropped, drops_logged;  // event handler only
  uint64_t drop_window_us;
} transport;

static EventGroupHandle_t s_wifi;
#define WIFI_UP BIT0

static void logf_(const char *fmt, ...) {
  char line[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  plat_log(line);
}

// Queues a received message (the event handler's only contact with the serve task). A full
// queue drops it, with a log line at most DROPS_LOGGED_PER_SECOND times a second (as POSIX).
static void enqueue(transport *t, inbox_msg *m) {
  if (xQueueSend(t->inbox, m, m->topic ? 0 : pdMS_TO_TICKS(1000)) != pdTRUE) {
    uint64_t now = plat_now_us();
    t->dropped++;
    if (now - t->drop_window_us >= 1000000u) { t->drop_window_us = now; t->drops_logged = 0; }
    if (t->drops_logged++ < DROPS_LOGGED_PER_SECOND)
      logf_("edgellm serve: dropped message on %s: inbox full (%u dropped so far)", m->topic ? m->topic : "(connect)", t->dropped);
    free(m->topic);
    free(m->payload);
  }
  memset(m, 0, sizeof *m);
}

static void on_mqtt(void *arg, esp_event_base_t base, int32_t id, void *data) {
  (void)base;
  transport *t = arg;
  esp_mqtt_event_handle_t ev = data;
  if (id == MQTT_EVENT_CONNECTED) {
    if (esp_mqtt_client_subscribe(ev->client, t->sub, 1) < 0) logf_("edgellm serve: subscribe %s failed", t->sub);
    if (esp_mqtt_client_subscribe(ev->client, t->presence, 1) < 0) logf_("edgellm serve: subscribe %s failed", t->presence);
    inbox_msg marker = {0};
    enqueue(t, &marker);
  } else if (id == MQTT_EVENT_DATA) {
    if (ev->current_data_offset == 0) { // first fragment: it carries the topic
      free(t->partial.topic); free(t->partial.payload);
      memset(&t->partial, 0, sizeof t->partial);
      t->partial_got = 0;
      t->partial.len = (size_t)ev->total_data_len;
      t->partial.topic = strndup(ev->topic, (size_t)ev->topic_len);
      // Over the inbox: only the length travels (agent_message refuses it with a reason).
      t->partial_drop = t->partial.len > t->inbox_bytes;
      if (!t->partial_drop) t->partial.payload = malloc(t->partial.len ? t->partial.len : 1);
      if (!t->partial.topic || (!t->partial_drop && !t->partial.payload)) {
        plat_log("edgellm serve: dropped a message: out of memory");
        free(t->partial.topic); free(t->partial.payload);
        memset(&t->partial, 0, sizeof t->partial);
        return;
      }
    }
    if (!t->partial.topic) return; // the rest of a message already dropped
    if (!t->partial_drop && (size_t)ev->current_data_offset + (size_t)ev->data_len <= t->partial.len)
      memcpy(t->partial.payload + ev->current_data_offset, ev->data, (size_t)ev->data_len);
    t->partial_got += (size_t)ev->data_len;
    if (t->partial_got >= t->partial.len) enqueue(t, &t->partial);
  } else if (id == MQTT_EVENT_DISCONNECTED) {
    plat_log("edgellm serve: disconnected from the broker (esp-mqtt reconnects)");
  } else if (id == MQTT_EVENT_ERROR && ev->error_handle) {
    // Why a connection failed, one line per attempt (reconnect_timeout_ms apart): over TLS
    // mbedtls' error and, when the broker's certificate did not verify, why ("not correctly
    // signed by the trusted CA", "Common Name (CN) does not match").
    const esp_mqtt_error_codes_t *e = ev->error_handle;
    if (e->error_type == MQTT_ERROR_TYPE_TCP_TRANSPORT) {
      char tls_err[96] = "", verify[128] = "";
      if (e->esp_tls_stack_err) mbedtls_strerror(e->esp_tls_stack_err, tls_err, sizeof tls_err);
      if (e->esp_tls_cert_verify_flags) {
        mbedtls_x509_crt_verify_info(verify, sizeof verify, "", (uint32_t)e->esp_tls_cert_verify_flags);
        verify[strcspn(verify, "\n")] = 0; // the first reason
      }
      logf_("edgellm serve: cannot connect to the broker %s: %s%s%s%s%s (errno %d)", CONFIG_EDGELLM_BROKER_URI,
            esp_err_to_name(e->esp_tls_last_esp_err), tls_err[0] ? ": " : "", tls_err, verify[0] ? ": " : "", verify,
            e->esp_transport_sock_errno);
    } else if (e->error_type == MQTT_ERROR_TYPE_CONNECTION_REFUSED) {
      logf_("edgellm serve: the broker %s refused the connection (CONNACK code %d)", CONFIG_EDGELLM_BROKER_URI, (int)e->connect_return_code);
    }
  }
}

static void on_wifi(void *arg, esp_event_base_t base, int32_t id, void *data) {
  (void)arg; (void)data;
  if (base == WIFI_EVENT && (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED)) {
    xEventGroupClearBits(s_wifi, WIFI_UP);
    esp_wifi_connect();
  } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
    xEventGroupSetBits(s_wifi, WIFI_UP);
  }
}

static int wifi_up(char *err, size_t n) {
  esp_err_t e = nvs_flash_init();
  if (e == ESP_ERR_NVS_NO_FREE_PAGES || e == ESP_ERR_NVS_NEW_VERSION_FOUND) { nvs_flash_erase(); e = nvs_flash_init(); }
  if (e != ESP_OK) { snprintf(err, n, "nvs: %s", esp_err_to_name(e)); return -1; }
  s_wifi = xEventGroupCreate();
  ESP_ERROR_CHECK(esp_netif_init());
  ESP_ERROR_CHECK(esp_event_loop_create_default());
  esp_netif_create_default_wifi_sta();
  wifi_init_config_t wc = WIFI_INIT_CONFIG_DEFAULT();
  ESP_ERROR_CHECK(esp_wifi_init(&wc));
  ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_wifi, NULL));
  ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_wifi, NULL));
  wifi_config_t sta = {0};
  snprintf((char *)sta.sta.ssid, sizeof sta.sta.ssid, "%s", CONFIG_EDGELLM_WIFI_SSID);
  snprintf((char *)sta.sta.password, sizeof sta.sta.password, "%s", CONFIG_EDGELLM_WIFI_PASSWORD);
  ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
  ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &sta));
  ESP_ERROR_CHECK(esp_wifi_start());
  if (!(xEventGroupWaitBits(s_wifi, WIFI_UP, pdFALSE, pdTRUE, pdMS_TO_TICKS(30000)) & WIFI_UP)) {
    snprintf(err, n, "wifi: no IP address from '%s' after 30 s", CONFIG_EDGELLM_WIFI_SSID);
    return -1;
  }
  // nowMs is wall-clock time (deadlines, status ts): SNTP sets it.
  esp_sntp_setoperatingmode(SNTP_OPMODE_POLL);
  esp_sntp_setservername(0, "pool.ntp.org");
  esp_sntp_init();
  return 0;
}

static int32_t free_mem(fw *f) {
  uint32_t used = fw_memory_bytes(f);
  return used < CONFIG_EDGELLM_MAX_MEMORY ? (int32_t)(CONFIG_EDGELLM_MAX_MEMORY - used) : 0;
}

void serve_task(void *arg) {
  (void)arg;
  static char err[256], reason[256];
  static transport T;
  transport *t = &T;
  plat_blob mod = {0}, model = {0};
  fw *f = NULL;
  agent_host *a = NULL;
  esp_mqtt_client_handle_t mq = NULL;
  double tps = 0;
  memset(t, 0, sizeof *t);
  int tls = !strncmp(CONFIG_EDGELLM_BROKER_URI, "mqtts://", 8);
#if defined(EDGELLM_MQTT_CA) || defined(EDGELLM_MQTT_CLIENT_CERT)
  if (!tls) { // as POSIX: certificates without TLS are a configuration error, not silently unused
    snprintf(err, sizeof err, "CONFIG_EDGELLM_MQTT_*_FILE certificates need an mqtts:// broker, got '%s'", CONFIG_EDGELLM_BROKER_URI);
    goto fail;
  }
#endif
  if (wifi_up(err, sizeof err)) goto fail;
  if (plat_map("module", &mod, err, sizeof err) || plat_map("model", &model, err, sizeof err)) goto fail;
  fw_config c = {
    .module = mod.data, .module_len = mod.size, .model = model.data, .model_len = model.size,
    .ctx = CONFIG_EDGELLM_CTX, .kv_int8 = 1, .host_weights = 1,
    .max_memory = CONFIG_EDGELLM_MAX_MEMORY, .stack_bytes = CONFIG_EDGELLM_WASM_STACK,
  };
  if (fw_open(&f, &c, err, sizeof err) || fw_speed(f, PROBE_POSITIONS, &tps, err, sizeof err)) goto fail;
  // This boot's presence nonce (esp_random: the RF subsystem's entropy once Wi-Fi is up).
  char nonce[17];
  snprintf(nonce, sizeof nonce, "%08lx%08lx", (unsigned long)esp_random(), (unsigned long)esp_random());
  agent_config ac = { .fleet = CONFIG_EDGELLM_FLEET, .id = CONFIG_EDGELLM_PEER_ID, .max_queue = CONFIG_EDGELLM_MAX_QUEUE,
                      .heartbeat_ms = CONFIG_EDGELLM_HEARTBEAT_MS, .flush_ms = FLUSH_MS, .model_id = CONFIG_EDGELLM_MODEL_ID,
                      .impl = "wasm3", .tok_per_sec = (float)tps, .free_mem = 0, .inbox_bytes = CONFIG_EDGELLM_INBOX,
                      .nonce = nonce };
  if (agent_open(&a, f, &ac, err, sizeof err) || agent_capabilities(a, (float)tps, free_mem(f), err, sizeof err)) goto fail;
  snprintf(t->sub, sizeof t->sub, "%s", agent_subscription(a));
  snprintf(t->presence, sizeof t->presence, "%s", agent_will_topic(a));
  t->inbox_bytes = agent_inbox_bytes(a);
  if (!(t->inbox = xQueueCreate(INBOX_DEPTH, sizeof(inbox_msg)))) { snprintf(err, sizeof err, "no memory for the inbox"); goto fail; }

  size_t wl;
  const uint8_t *will = agent_will_payload(a, &wl);
  char cid[96];
  snprintf(cid, sizeof cid, "edgellm-peer-%.64s-%.8s", CONFIG_EDGELLM_PEER_ID, nonce); // its own: see agent/peer.ts presence
  esp_mqtt_client_config_t mc = {
    .broker.address.uri = CONFIG_EDGELLM_BROKER_URI,
    .credentials.client_id = cid,
    .credentials.username = CONFIG_EDGELLM_MQTT_USERNAME[0] ? CONFIG_EDGELLM_MQTT_USERNAME : NULL,
    .credentials.authentication.password = CONFIG_EDGELLM_MQTT_PASSWORD[0] ? CONFIG_EDGELLM_MQTT_PASSWORD : NULL,
    .session.protocol_ver = MQTT_PROTOCOL_V_3_1_1,
    .session.disable_clean_session = false,
    .session.last_will = { .topic = agent_will_topic(a), .msg = (const char *)will, .msg_len = (int)wl, .qos = 1, .retain = 1 },
    .network.reconnect_timeout_ms = 2000,
  };
  if (tls) {
#ifdef EDGELLM_MQTT_CA
    mc.broker.verification.certificate = mqtt_ca_pem_start; // PEM: NUL-terminated, no length needed
#else
    mc.broker.verification.crt_bundle_attach = esp_crt_bundle_attach; // CONFIG_MBEDTLS_CERTIFICATE_BUNDLE
#endif
#if defined(EDGELLM_MQTT_CLIENT_CERT) && defined(EDGELLM_MQTT_CLIENT_KEY)
    mc.credentials.authentication.certificate = mqtt_client_cert_pem_start;
    mc.credentials.authentication.key = mqtt_client_key_pem_start;
#endif
  }
  if (!(mq = esp_mqtt_client_init(&mc))) { snprintf(err, sizeof err, "esp_mqtt_client_init failed"); goto fail; }
  esp32_set_mqtt_client(mq);
  esp_mqtt_client_register_event(mq, ESP_EVENT_ANY_ID, on_mqtt, t);
  if (esp_mqtt_client_start(mq) != ESP_OK) { snprintf(err, sizeof err, "esp_mqtt_client_start failed"); goto fail; }
  printf("edgellm: peer %s serving %s (%.1f tok/s, linear memory %u bytes) on %s\n", CONFIG_EDGELLM_PEER_ID,
         CONFIG_EDGELLM_MODEL_ID, tps, (unsigned)fw_memory_bytes(f), CONFIG_EDGELLM_BROKER_URI);

  uint32_t wait_ms = 0;
  for (;;) { // runs until a fatal error: a device peer has no stop signal
    inbox_msg m;
    while (xQueueReceive(t->inbox, &m, pdMS_TO_TICKS(wait_ms)) == pdTRUE) {
      wait_ms = 0; // drain what is queued, then tick
      int r = 0, refused = 0;
      if (!m.topic) {
        r = agent_capabilities(a, (float)tps, free_mem(f), err, sizeof err) || agent_connected(a, (double)plat_wall_ms(), err, sizeof err);
      } else {
        static const uint8_t none[1];
        r = agent_message(a, m.topic, m.payload ? m.payload : none, m.len, (double)plat_wall_ms(), &refused, reason, sizeof reason, err, sizeof err);
        if (!r && refused == 2) logf_("edgellm serve: ignored message: %s: %s", m.topic, reason); // 1: the agent logged it
      }
      free(m.topic);
      free(m.payload);
      if (r) goto fail;
    }
    if (agent_tick(a, (double)plat_wall_ms(), TICK_POSITIONS, &wait_ms, err, sizeof err)) goto fail;
    if (wait_ms > 1000) wait_ms = 1000;
  }
fail:
  printf("edgellm: error: %s\n", err);
  // No clean disconnect: the broker publishes the last will (offline status).
  esp32_set_mqtt_client(NULL);
  if (mq) esp_mqtt_client_destroy(mq);
  if (t->inbox) {
    inbox_msg m;
    while (xQueueReceive(t->inbox, &m, 0) == pdTRUE) { free(m.topic); free(m.payload); }
    vQueueDelete(t->inbox);
  }
  free(t->partial.topic);
  free(t->partial.payload);
  agent_close(a);
  fw_close(f);
  plat_unmap(&model);
  plat_unmap(&mod);
  vTaskDelete(NULL);
}
