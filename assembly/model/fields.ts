// The model fields a host reads with modelField(i): one list, append-only. Twins:
// MODEL_FIELD in host/engine/exports.ts and FW_FIELD_* in firmware/core/fw.h.
export const MF_DIM: i32 = 0;
export const MF_HIDDEN_DIM: i32 = 1;
export const MF_N_LAYERS: i32 = 2;
export const MF_N_HEADS: i32 = 3;
export const MF_N_KV_HEADS: i32 = 4;
export const MF_VOCAB_SIZE: i32 = 5;
export const MF_SEQ_LEN: i32 = 6;
export const MF_SHARED_CLASSIFIER: i32 = 7; // 1 when the classifier is the embedding
export const MF_HAS_TOKENIZER: i32 = 8;
export const MF_CTX: i32 = 9;               // positions of the run state
export const MF_COUNT: i32 = 10;
