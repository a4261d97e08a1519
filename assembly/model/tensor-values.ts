// What every reader refuses in a tensor's stored numbers (host/format/reader.ts applies the same
// rule, so the module, the firmware and Node refuse the same files with the same code):
// a non-finite f32 (every weight of an f32 tensor, the scales of a quantized one: codes are
// integers), a t5 byte above 242, a t2 code 3 inside a row (its padding is never read).
// The checksum cannot catch these: a broken tool writes them and then seals the file.
import { QT_T2, QT_T5, qtRowBytes, qtScales, scalesOffset, SCALES_NONE, SCALES_PER_GROUP } from "./qtypes";
import { wRead } from "../kernels/native";

export const CHUNK_BYTES: u32 = 1024; // the external reader's buffer (a multiple of t2's 16-byte blocks)

@inline function finite(v: f32): bool { return v - v == 0; }

function floatsOk(p: usize, n: usize): bool {
  for (let i: usize = 0; i < n; i++) if (!finite(load<f32>(p + (i << 2)))) return false;
  return true;
}

// Bytes [j0, j0 + n) of one row of t2 or t5 codes at p.
function codesOk(qtype: u32, p: usize, j0: i32, n: i32, cols: i32): bool {
  if (qtype == QT_T5) {
    for (let j = 0; j < n; j++) if (load<u8>(p + <usize>j) > 242) return false;
    return true;
  }
  for (let j = 0; j < n; j++) {
    const b = <i32>load<u8>(p + <usize>j);
    const threes = b & (b >> 1) & 0x55; // bit 2k set: code k of this byte is 3
    if (threes == 0) continue;
    const at = j0 + j, first = (at >> 4) * 64 + (at & 15); // column of code 0; code k is 16k further
    for (let k = 0; k < 4; k++) if ((threes >> (2 * k)) & 1 && first + 16 * k < cols) return false;
  }
  return true;
}

@inline function floatCount(qtype: u32, rows: i32, cols: i32, group: i32): usize {
  const s = qtScales(qtype);
  return <usize>rows * <usize>(s == SCALES_NONE ? cols : s == SCALES_PER_GROUP ? cols / group : <i32>1);
}

@inline function floatsAt(qtype: u32, rows: i32, cols: i32): usize {
  return qtScales(qtype) == SCALES_NONE ? 0 : <usize>scalesOffset(qtype, rows, cols);
}

// A tensor in linear memory at data (its shape and size already checked).
export function tensorValuesOk(qtype: u32, rows: i32, cols: i32, group: i32, data: usize): bool {
  if (!floatsOk(data + floatsAt(qtype, rows, cols), floatCount(qtype, rows, cols, group))) return false;
  if (qtype != QT_T2 && qtype != QT_T5) return true;
  const rb = <i32>qtRowBytes(qtype, cols);
  for (let r = 0; r < rows; r++) if (!codesOk(qtype, data + <usize>r * <usize>rb, 0, rb, cols)) return false;
  return true;
}

// The same for a tensor that stays in the host's memory at file offset off, read through
// env.wRead in chunks of CHUNK_BYTES into buf.
export function externalTensorValuesOk(qtype: u32, rows: i32, cols: i32, group: i32, off: u32, buf: usize): bool {
  const floatsOff = off + <u32>floatsAt(qtype, rows, cols);
  const floatBytes = <u32>floatCount(qtype, rows, cols, group) << 2;
  for (let at: u32 = 0; at < floatBytes; at += CHUNK_BYTES) {
    const len = min(CHUNK_BYTES, floatBytes - at);
    wRead(buf, floatsOff + at, len);
    if (!floatsOk(buf, <usize>(len >> 2))) return false;
  }
  if (qtype != QT_T2 && qtype != QT_T5) return true;
  const rb = <u32>qtRowBytes(qtype, cols);
  for (let r = 0; r < rows; r++) {
    for (let j: u32 = 0; j < rb; j += CHUNK_BYTES) {
      const len = min(CHUNK_BYTES, rb - j);
      wRead(buf, off + <u32>r * rb + j, len);
      if (!codesOk(qtype, buf, <i32>j, <i32>len, cols)) return false;
    }
  }
  return true;
}
