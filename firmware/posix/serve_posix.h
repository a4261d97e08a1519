// edgellm-fw serve (serve_posix.c) and the POSIX platform's output sink it uses.
#ifndef EDGELLM_SERVE_POSIX_H
#define EDGELLM_SERVE_POSIX_H
#include <stddef.h>
#include <stdint.h>

// argv[1] is "serve"; module_path: the default MVP module (overridden by --module).
int serve_main(int argc, char **argv, const char *module_path);

// Generated text goes to fn instead of stdout while set (NULL: back to stdout).
void plat_set_write_sink(void (*fn)(const uint8_t *bytes, size_t n, void *ctx), void *ctx);
#endif
