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

// Attention over an int8 KV cache (the device configuration), used when the host enabled
// native kernels (nativeKernels export); same float operations in the same order as the
// module's own loops in model/forward.ts, so results are bit-identical.
// att[t] = dot(q[hs], k_t[hs]) · kScale_t / sqrtHs for t < n; k_t = keys + t·kvDim,
// kScale_t = f32 at kScales + 4·t·nKvHeads.
@external("env", "kvScores")
export declare function kvScores(att: usize, q: usize, keys: usize, kScales: usize, n: i32, hs: i32, kvDim: i32, nKvHeads: i32, sqrtHs: f32): void;

// out[hs] = Σ_t (att[t] · vScale_t) · v_t, accumulated in t order from zero.
@external("env", "kvMix")
export declare function kvMix(out: usize, att: usize, values: usize, vScales: usize, n: i32, hs: i32, kvDim: i32, nKvHeads: i32): void;

// Host-held adapters (the firmware with --host-weights): adapter `adapter`'s file stays in the
// host's memory like the model's. aRead copies [off, off + len) to dst; 0 on success.
@external("env", "aRead")
export declare function aRead(adapter: u32, dst: usize, off: u32, len: u32): i32;

// y[out] += k · B (A x) for the adapter's matrix whose A [rank][inn] and B [out][rank] lie at file
// offsets aOff, bOff in `storage` (f32 0, f16 5), x f32 [inn]: the same float operations in the
// same order as kernels/lora.ts loraForward (f16 widened exactly), so results are bit-identical.
@external("env", "loraApply")
export declare function loraApply(adapter: u32, storage: u32, aOff: u32, bOff: u32, rank: i32, inn: i32, out: i32, k: f32, y: usize, x: usize): void;

// Batched prefill (model/prefill.ts): up to three host matrices of one type that read the same
// n inputs, applied in one call, so the interpreter dispatches once per matrix group per block.
// For each input t < n in order, then each matrix in order (A, B, C: rows 0 = absent), the
// same as wMatvec(qtype, data, group, rows, cols, y + 4·t·rows, x + 4·t·cols,
// xq + t·xqStride, sa[t]): results equal n·3 wMatvec calls bit for bit, and the ternary
// kernels' shared tables still serve A, B and C of one input.
@external("env", "wMatmul")
export declare function wMatmul(qtype: u32, group: i32, cols: i32, n: i32, x: usize, xq: usize, xqStride: i32, sa: usize,
                                dataA: u32, rowsA: i32, yA: usize, dataB: u32, rowsB: i32, yB: usize,
                                dataC: u32, rowsC: i32, yC: usize): void;

// loraApply for n inputs x f32 [n][inn] into y f32 [n][out]: each A and B row widened once per
// call; every output the same float operations as loraApply's (kernels/lora.ts loraForward).
@external("env", "loraApplyBlock")
export declare function loraApplyBlock(adapter: u32, storage: u32, aOff: u32, bOff: u32, rank: i32, inn: i32, out: i32, k: f32,
                                       y: usize, x: usize, n: i32): void;

// The elementwise glue a position interprets otherwise, used when the host enabled native
// kernels (nativeKernels export): the same f32 operations in the same order as the module's
// MVP code (kernels/q8.ts quantizeActs, kernels/f32.ts swiglu and softmax), so results are
// bit-identical. kvHead is kvScores, softmax(att, n), kvMix in one call.
@external("env", "quantizeActs")
export declare function nQuantizeActs(q: usize, x: usize, n: i32, qPad: i32): f32;

@external("env", "swiglu")
export declare function nSwiglu(h: usize, g: usize, n: i32): void;

@external("env", "kvHead")
export declare function kvHead(out: usize, att: usize, q: usize, keys: usize, kScales: usize, values: usize, vScales: usize,
                               n: i32, hs: i32, kvDim: i32, nKvHeads: i32, sqrtHs: f32): void;
