// edgellm-fw serve (serve_posix.c) and the POSIX platform hooks it sets.
#ifndef EDGELLM_SERVE_POSIX_H
#define EDGELLM_SERVE_POSIX_H
#include <stddef.h>
#include <stdint.h>

// argv[1] is "serve"; module_path: the default MVP module (overridden by --module);
// default_model: the model --decode uses when no --model is given.
int serve_main(int argc, char **argv, const char *module_path, const char *default_model);

// Generated text goes to fn instead of stdout while set (NULL: back to stdout).
void plat_set_write_sink(void (*fn)(const uint8_t *bytes, size_t n, void *ctx), void *ctx);
// plat_mqtt_publish goes to fn while set (NULL: no broker, publishes return -1).
void plat_set_mqtt_publisher(int (*fn)(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos, int retain), void *ctx);
#endif
