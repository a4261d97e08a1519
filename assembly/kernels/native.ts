// Host-held weights (the firmware): a model loaded with modelLoadExternal keeps its matrices
// in the host's memory (a memory-mapped flash partition or file), read and applied by these
// native host functions, so linear memory holds only run state, KV cache, norms and tokenizer.
// Models loaded with modelLoad never call them; the Node host links stubs that throw.

// Copies model-file bytes [off, off + len) to dst in linear memory; 0 on success.
@external("env", "wRead")
export declare function wRead(dst: usize, off: u32, len: u32): i32;

// y[rows] = W · x for the host matrix of this type at file offset data (same math as
// Matrix.apply: x f32 for f32 weights, xq/sa int8 activations otherwise).
@external("env", "wMatvec")
export declare function wMatvec(qtype: u32, data: u32, group: i32, rows: i32, cols: i32, y: usize, x: usize, xq: usize, sa: f32): void;

// out[cols] = dequantized row r of the host matrix at file offset data.
@external("env", "wRow")
export declare function wRow(qtype: u32, data: u32, group: i32, rows: i32, cols: i32, r: i32, out: usize): void;
