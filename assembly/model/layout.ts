// Byte offsets of the model file's header and tensor-table fields (docs/model-format.md); the
// TypeScript twin is HEADER / ENTRY in host/format/spec.ts.
export const MAGIC: u32 = 0x4d4c4c45; // "ELLM"
export const VERSION: u32 = 1;
export const HEADER_BYTES: u32 = 128;
export const ENTRY_BYTES: u32 = 32;
export const FLAG_SHARED_CLASSIFIER: u32 = 1;

export const H_MAGIC: usize = 0;
export const H_VERSION: usize = 4;
export const H_HEADER_BYTES: usize = 8;
export const H_FLAGS: usize = 12;
export const H_DIM: usize = 16;
export const H_HIDDEN_DIM: usize = 20;
export const H_N_LAYERS: usize = 24;
export const H_N_HEADS: usize = 28;
export const H_N_KV_HEADS: usize = 32;
export const H_VOCAB_SIZE: usize = 36;
export const H_SEQ_LEN: usize = 40;
export const H_ROPE_THETA: usize = 44;
export const H_NORM_EPS: usize = 48;
export const H_N_TENSORS: usize = 52;
export const H_TOKENIZER_OFFSET: usize = 56;
export const H_TOKENIZER_BYTES: usize = 60;
export const H_FILE_BYTES: usize = 64;
export const H_CHECKSUM: usize = 124;

export const EN_KIND: usize = 0;
export const EN_LAYER: usize = 4;
export const EN_QTYPE: usize = 8;
export const EN_ROWS: usize = 12;
export const EN_COLS: usize = 16;
export const EN_GROUP: usize = 20;
export const EN_OFFSET: usize = 24;
export const EN_BYTES: usize = 28;
