// One adapter on one matrix, as the inference module holds it (model/lora.ts): the matrix adds
// k·B(A x) after itself; links chain when several adapters are loaded.
export class LoraLink {
  a: usize = 0;   // f32 [rank][in]
  b: usize = 0;   // f32 [out][rank]
  rank: i32 = 0;
  inn: i32 = 0;   // the matrix's columns
  out: i32 = 0;   // the matrix's rows
  k: f32 = 0;     // (alpha / rank) · scale
  ext: u32 = 0;   // host-held adapter index + 1 (a and b are then its file offsets), 0: in memory
  storage: u32 = 0;
  next: LoraLink | null = null;
}
