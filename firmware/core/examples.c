// SENTENCE<TAB>LABEL training data as the firmware reads it (edgellm-fw finetune, a federated
// trainer's --train-data): the rules of host/commands/examples.ts, so both hosts train on the
// same examples. The examples point into the caller's buffer.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fw.h"

// Every byte sequence a well-formed UTF-8 code point (no overlongs, surrogates or > U+10FFFF);
// on failure *bad is the offset of the first bad byte.
static int valid_utf8(const uint8_t *s, size_t n, size_t *bad) {
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!k || i + k > n || (k == 2 && c < 0xc2)) { *bad = i; return 0; }
    uint32_t cp = k == 1 ? c : k == 2 ? c & 0x1f : k == 3 ? c & 0x0f : c & 0x07;
    for (size_t j = 1; j < k; j++) {
      if ((s[i + j] & 0xc0) != 0x80) { *bad = i; return 0; }
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff))) { *bad = i; return 0; }
    i += k;
  }
  return 1;
}

static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// SENTENCE<TAB>LABEL lines of d[n] (\n, \r\n or \r; blank lines skipped), trimmed, into *out.
int fw_parse_examples(const char *d, size_t n, fw_example **out, int32_t *count, char *err, size_t en) {
  size_t bad;
  if (!valid_utf8((const uint8_t *)d, n, &bad)) return snprintf(err, en, "not UTF-8 text (byte %zu)", bad), -1;
  size_t cap = 64;
  int32_t k = 0;
  fw_example *ex = malloc(cap * sizeof *ex);
  if (!ex) return snprintf(err, en, "out of memory"), -1;
  uint32_t line = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && d[j] != '\n' && d[j] != '\r') j++;
    line++;
    const char *a = d + i, *b = d + j;
    i = j + (j < n && d[j] == '\r' && j + 1 < n && d[j + 1] == '\n' ? 2 : 1);
    while (a < b && is_space(*a)) a++;
    while (b > a && is_space(b[-1])) b--;
    if (a == b) continue;
    const char *tab = memchr(a, '\t', (size_t)(b - a));
    if (!tab) { free(ex); return snprintf(err, en, "line %u has no label (expected SENTENCE<TAB>LABEL)", line), -1; }
    if (memchr(tab + 1, '\t', (size_t)(b - tab - 1))) { free(ex); return snprintf(err, en, "line %u has more than one tab", line), -1; }
    const char *s1 = tab, *l0 = tab + 1;
    while (s1 > a && is_space(s1[-1])) s1--;
    while (l0 < b && is_space(*l0)) l0++;
    if (s1 == a) { free(ex); return snprintf(err, en, "line %u has an empty sentence", line), -1; }
    if (l0 == b) { free(ex); return snprintf(err, en, "line %u has no label (expected SENTENCE<TAB>LABEL)", line), -1; }
    if ((size_t)k == cap) {
      fw_example *more = realloc(ex, 2 * cap * sizeof *ex);
      if (!more) { free(ex); return snprintf(err, en, "out of memory"), -1; }
      ex = more; cap *= 2;
    }
    ex[k++] = (fw_example){ .sentence = a, .slen = (uint32_t)(s1 - a), .label = l0, .llen = (uint32_t)(b - l0), .line = line };
  }
  if (k == 0) { free(ex); return snprintf(err, en, "no examples"), -1; }
  *out = ex;
  *count = k;
  return 0;
}

