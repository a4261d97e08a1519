// ESP32 platform: module and model are memory-mapped flash partitions (labels "module" and
// "model" in partitions.csv), so weights are read in place by the native kernels.
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_partition.h"
#include "esp_task_wdt.h"
#include "esp_timer.h"
#include "pack.h"
#include "platform.h"
#include "serve_esp32.h"

static const char *TAG = "edgellm";

// A partition holds a packed image (core/pack.h): map just the header's length, check the CRC.
int plat_map(const char *label, plat_blob *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const esp_partition_t *p = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_ANY, label);
  if (!p) { snprintf(err, errlen, "partition '%s' not found", label); return -1; }
  uint8_t hdr[PACK_HEADER];
  esp_err_t e = esp_partition_read(p, 0, hdr, sizeof hdr);
  if (e != ESP_OK) { snprintf(err, errlen, "partition '%s': read: %s", label, esp_err_to_name(e)); return -1; }
  uint32_t len = pack_payload_len(hdr, sizeof hdr);
  if (len == 0 || len > p->size - PACK_HEADER) {
    snprintf(err, errlen, "partition '%s' holds no packed image (flash it with tools/pack-firmware)", label);
    return -1;
  }
  const void *ptr;
  esp_partition_mmap_handle_t h;
  e = esp_partition_mmap(p, 0, PACK_HEADER + len, ESP_PARTITION_MMAP_DATA, &ptr, &h);
  if (e != ESP_OK) { snprintf(err, errlen, "partition '%s': mmap: %s", label, esp_err_to_name(e)); return -1; }
  char why[64];
  size_t n;
  if (pack_unwrap(ptr, PACK_HEADER + len, &out->data, &n, why, sizeof why)) {
    esp_partition_munmap(h);
    snprintf(err, errlen, "partition '%s': %s", label, why);
    return -1;
  }
  out->size = n;
  out->handle = (void *)(uintptr_t)h;
  return 0;
}

void plat_unmap(plat_blob *b) {
  if (b->data) esp_partition_munmap((esp_partition_mmap_handle_t)(uintptr_t)b->handle);
  memset(b, 0, sizeof *b);
}

// The calling task is subscribed to the task watchdog for the length of each call into the
// module, so a call that never returns (a damaged or hostile module) resets the chip after
// CONFIG_ESP_TASK_WDT_TIMEOUT_S (sdkconfig.defaults: 30 s, panic on expiry); between calls the
// task may block on its inbox as long as it likes. limit_s is POSIX's (--call-timeout).
void plat_call_begin(const char *what, uint32_t limit_s) {
  (void)what; (void)limit_s;
  esp_task_wdt_add(NULL); // ESP_ERR_INVALID_ARG when already subscribed: still watched
  esp_task_wdt_reset();
}
void plat_call_end(void) { esp_task_wdt_delete(NULL); }

uint64_t plat_now_us(void) { return (uint64_t)esp_timer_get_time(); }
void plat_log(const char *line) { ESP_LOGI(TAG, "%s", line); }
void plat_write(const uint8_t *bytes, size_t n) { fwrite(bytes, 1, n, stdout); }
int plat_flush(void) { return fflush(stdout) ? -1 : 0; }

uint64_t plat_wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL); // set by SNTP (serve_esp32.c); time since boot before that
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

size_t plat_free_bytes(void) { return heap_caps_get_free_size(MALLOC_CAP_8BIT); }

// MQTT through esp-mqtt's outbox (esp_mqtt_client_enqueue: never blocks the serve task on the
// network). -1 before the client exists or when the outbox refuses.
static esp_mqtt_client_handle_t s_mqtt;
void esp32_set_mqtt_client(esp_mqtt_client_handle_t c) { s_mqtt = c; }
int plat_mqtt_publish(const char *topic, const uint8_t *payload, size_t len, int qos, int retain) {
  if (!s_mqtt || len > INT32_MAX) return -1;
  return esp_mqtt_client_enqueue(s_mqtt, topic, (const char *)payload, (int)len, qos, retain, true) < 0 ? -1 : 0;
}
