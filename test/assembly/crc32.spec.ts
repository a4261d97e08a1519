import { crc32Update } from "../../assembly/core/crc32";

describe("crc32", () => {
  test("matches the IEEE check value", () => {
    const s = "123456789";
    const p = heap.alloc(9);
    for (let i = 0; i < 9; i++) store<u8>(p + <usize>i, <u8>s.charCodeAt(i));
    expect(crc32Update(0, p, 9)).toBe(0xcbf43926);
    // Incremental updates give the same result.
    expect(crc32Update(crc32Update(0, p, 4), p + 4, 5)).toBe(0xcbf43926);
  });
});
