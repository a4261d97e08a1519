// Base64 (RFC 4648 standard alphabet, padded), as Node's Buffer.toString("base64") writes it:
// generated text travels as base64 because a token's piece can be part of a UTF-8 sequence.

// Characters for n bytes.
@inline export function base64Len(n: i32): i32 { return ((n + 2) / 3) * 4; }

@inline function sextet(v: u32): u8 {
  // A-Z a-z 0-9 + /
  if (v < 26) return <u8>(0x41 + v);
  if (v < 52) return <u8>(0x61 + v - 26);
  if (v < 62) return <u8>(0x30 + v - 52);
  return v == 62 ? 0x2b : 0x2f;
}

// Writes base64 of src[n] at dst (room for base64Len(n) bytes); returns the characters written.
export function base64Encode(src: usize, n: i32, dst: usize): i32 {
  let o: usize = dst;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (<u32>load<u8>(src + <usize>i) << 16) | (<u32>load<u8>(src + <usize>i, 1) << 8) | <u32>load<u8>(src + <usize>i, 2);
    store<u8>(o, sextet(v >> 18)); store<u8>(o, sextet((v >> 12) & 63), 1);
    store<u8>(o, sextet((v >> 6) & 63), 2); store<u8>(o, sextet(v & 63), 3);
    o += 4;
  }
  const rest = n - i;
  if (rest > 0) {
    let v = <u32>load<u8>(src + <usize>i) << 16;
    if (rest == 2) v |= <u32>load<u8>(src + <usize>i, 1) << 8;
    store<u8>(o, sextet(v >> 18)); store<u8>(o, sextet((v >> 12) & 63), 1);
    store<u8>(o, rest == 2 ? sextet((v >> 6) & 63) : 0x3d, 2);
    store<u8>(o, 0x3d, 3);
    o += 4;
  }
  return <i32>(o - dst);
}

@inline function sextetOf(c: u32): i32 {
  if (c >= 0x41 && c <= 0x5a) return <i32>c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return <i32>c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30 + 52;
  if (c == 0x2b) return 62;
  if (c == 0x2f) return 63;
  return -1;
}

// Whether src[n] matches ^[A-Za-z0-9+/]*={0,2}$ (the protocol's chunk data).
export function base64Valid(src: usize, n: i32): bool {
  let end = n;
  while (end > 0 && n - end < 2 && load<u8>(src + <usize>(end - 1)) == 0x3d) end--;
  for (let i = 0; i < end; i++) if (sextetOf(<u32>load<u8>(src + <usize>i)) < 0) return false;
  return true;
}

// Decodes base64 src[n] (the protocol's pattern ^[A-Za-z0-9+/]*={0,2}$, padding optional as
// Buffer.from reads it) into dst[cap]; returns the bytes, or -1 when a character is outside
// the alphabet or the bytes would pass cap.
export function base64Decode(src: usize, n: i32, dst: usize, cap: i32): i32 {
  let end = n;
  while (end > 0 && n - end < 2 && load<u8>(src + <usize>(end - 1)) == 0x3d) end--;
  let acc: u32 = 0, bits = 0, out = 0;
  for (let i = 0; i < end; i++) {
    const v = sextetOf(<u32>load<u8>(src + <usize>i));
    if (v < 0) return -1;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (out >= cap) return -1;
      store<u8>(dst + <usize>out, <u8>(acc >> <u32>bits));
      out++;
    }
  }
  return out;
}
