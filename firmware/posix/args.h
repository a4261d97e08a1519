// Number arguments of the POSIX commands: the whole string must be the number, inside [lo, hi].
#ifndef EDGELLM_ARGS_H
#define EDGELLM_ARGS_H
int parse_double(const char *s, double lo, double hi, double *out);
int parse_u64(const char *s, unsigned long long hi, unsigned long long *out);
#endif
