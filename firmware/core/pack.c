#include "pack.h"
#include <stdio.h>
#include <string.h>

// Bitwise CRC-32 (IEEE, reflected): small code, run once per boot.
uint32_t pack_crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

int pack_is_packed(const uint8_t *b, size_t n) { return n >= PACK_HEADER && rd32(b) == PACK_MAGIC; }

uint32_t pack_payload_len(const uint8_t *b, size_t n) { return pack_is_packed(b, n) ? rd32(b + 4) : 0; }

int pack_unwrap(const uint8_t *b, size_t n, const uint8_t **payload, size_t *len, char *err, size_t errlen) {
  if (!pack_is_packed(b, n)) { snprintf(err, errlen, "not a packed image (bad magic)"); return -1; }
  uint32_t plen = rd32(b + 4);
  if (plen == 0 || plen > n - PACK_HEADER) { snprintf(err, errlen, "packed image is truncated"); return -1; }
  if (pack_crc32(b + PACK_HEADER, plen) != rd32(b + 8)) { snprintf(err, errlen, "packed image CRC mismatch"); return -1; }
  *payload = b + PACK_HEADER;
  *len = plen;
  return 0;
}
