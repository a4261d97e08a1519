// The 32-bit size build has no libmosquitto: `edgellm-fw serve` (posix/serve_posix.c) is left
// out and main.c's call is renamed to this stub (-Dserve_main=serve_stub32).
#include <stdio.h>
int serve_stub32(int argc, char **argv, const char *module, const char *model) {
  (void)argc; (void)argv; (void)module; (void)model;
  fputs("edgellm-fw: error: serve is not part of the 32-bit size build\n", stderr);
  return 2;
}
