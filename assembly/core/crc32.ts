// CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), bytewise with a 256-entry table built once.
let table: usize = 0;

function buildTable(): usize {
  const t = heap.alloc(1024);
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    store<u32>(t + (<usize>n << 2), c);
  }
  return t;
}

// Continues a CRC over [p, p + n); start with crc = 0.
export function crc32Update(crc: u32, p: usize, n: usize): u32 {
  if (table == 0) table = buildTable();
  let c = ~crc;
  for (let i: usize = 0; i < n; i++) {
    c = load<u32>(table + (<usize>((c ^ <u32>load<u8>(p + i)) & 0xff) << 2)) ^ (c >>> 8);
  }
  return ~c;
}
