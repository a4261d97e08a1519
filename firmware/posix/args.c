#include <errno.h>
#include <stdlib.h>
#include "args.h"

int parse_double(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno || !(v >= lo && v <= hi)) return -1;
  *out = v;
  return 0;
}

int parse_u64(const char *s, unsigned long long hi, unsigned long long *out) {
  char *end;
  if (!*s) return -1;
  for (const char *c = s; *c; c++) if (*c < '0' || *c > '9') return -1; // strtoull would take " -1"
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno || v > hi) return -1;
  *out = v;
  return 0;
}
