// The module's seal (scripts/seal-wasm.mjs): a trailing custom section "edgellm.crc32" with the
// CRC-32 of every byte before it, checked before wasm3 parses anything. A damaged module can pass
// wasm validation and loop for ever; a sealed one is refused at once.
#include <string.h>
#include "fw_internal.h"
#include "pack.h"

static const uint8_t k_header[] = { 0x00, 18, 13, 'e', 'd', 'g', 'e', 'l', 'l', 'm', '.', 'c', 'r', 'c', '3', '2' };
#define SEAL_BYTES (sizeof k_header + 4)

int fw_check_seal(const uint8_t *m, size_t n, char *err, size_t errlen) {
  if (n < SEAL_BYTES || memcmp(m + n - SEAL_BYTES, k_header, sizeof k_header) != 0)
    return fw_failf(err, errlen, "module: not sealed (no edgellm.crc32 section): a damaged file, or seal it with `node scripts/seal-wasm.mjs FILE.wasm`");
  uint32_t want;
  memcpy(&want, m + n - 4, 4);
  if (pack_crc32(m, n - SEAL_BYTES) != want) return fw_failf(err, errlen, "module: checksum mismatch: the file is damaged (rebuild it with npm run build)");
  return 0;
}
