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

// The interpreter's bound: a call into the module that runs past its limit (a damaged or hostile
// module looping for ever) ends the process with a line naming the call. POSIX: a timer per call
// (posix/platform_posix.c); ESP32: the task watchdog does it, these only mark the call.
void plat_call_begin(const char *what, uint32_t limit_s);
void plat_call_end(void);

uint64_t plat_now_us(void);                      // monotonic clock
void plat_log(const char *line);                 // diagnostics (stderr / ESP_LOG)
void plat_write(const uint8_t *bytes, size_t n); // generated text (stdout / UART)
int plat_flush(void);                            // 0, or -1 when some output could not be written

uint64_t plat_wall_ms(void);                     // wall clock, ms since the Unix epoch (the agent's nowMs)
size_t plat_free_bytes(void);                    // free RAM for the status message (0: unknown)

// MQTT transport for the module's agent (env.mqttPublish, core/agent_host.h): publish len
// bytes on a NUL-terminated topic with QoS 0-2, retained or not. Returns 0 when handed to the
// MQTT client, -1 when there is no connected broker (the agent ignores it: the gateway's
// leases re-derive anything lost). POSIX: libmosquitto (posix/serve_posix.c); ESP32: esp-mqtt.
int plat_mqtt_publish(const char *topic, const uint8_t *payload, size_t len, int qos, int retain);

#endif
