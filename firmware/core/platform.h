// The platform interface: everything the core needs from the device or OS. The POSIX build
// (firmware/posix) and the ESP-IDF build (firmware/esp32) each implement it once.
#ifndef EDGELLM_PLATFORM_H
#define EDGELLM_PLATFORM_H
#include <stddef.h>
#include <stdint.h>

// Read-only bytes that stay valid until plat_unmap: a memory-mapped file on POSIX, a
// memory-mapped flash partition on ESP32. Model weights are used in place from here.
typedef struct {
  const uint8_t *data;
  size_t size;
  void *handle;   // platform private
  size_t map_len; // platform private
} plat_blob;

// name: a file path (POSIX) or a partition label (ESP32). 0 on success, else -1 with err set.
int plat_map(const char *name, plat_blob *out, char *err, size_t errlen);
void plat_unmap(plat_blob *b);

uint64_t plat_now_us(void);                      // monotonic clock
void plat_log(const char *line);                 // diagnostics (stderr / ESP_LOG)
void plat_write(const uint8_t *bytes, size_t n); // generated text (stdout / UART)
void plat_flush(void);

// MQTT bridge for the device agent (issue C): publish bytes on a topic. Returns 0 when
// queued, -1 when the platform has no connected broker.
int plat_mqtt_publish(const char *topic, size_t topic_len, const uint8_t *payload, size_t len);

#endif
