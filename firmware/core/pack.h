// Packed partition images (tools/pack-firmware.ts): u32 magic "ELPK", u32 payload bytes,
// u32 CRC-32 (IEEE) of the payload, u32 0, then the payload.
#ifndef EDGELLM_PACK_H
#define EDGELLM_PACK_H
#include <stddef.h>
#include <stdint.h>

#define PACK_MAGIC 0x4b504c45u
#define PACK_HEADER 16u

// CRC-32 (IEEE, reflected), bitwise: small code, run once per boot.
uint32_t pack_crc32(const uint8_t *p, size_t n);
int pack_is_packed(const uint8_t *b, size_t n);
// Payload length from a header, or 0 when b is not a pack header. Does not check the CRC.
uint32_t pack_payload_len(const uint8_t *b, size_t n);
// Checks header and CRC; on success points *payload/*len at the payload and returns 0.
int pack_unwrap(const uint8_t *b, size_t n, const uint8_t **payload, size_t *len, char *err, size_t errlen);
#endif
