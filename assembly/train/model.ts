// A Llama model held for training: latent parameters, their quantized forms, gradients,
// Adam moments and the activations of one batch, with the batch forward and backward.
// Dimension key: B sequences, T positions, N = B·T, C dim, KV kv dim, H hidden, V vocab,
// L layers, NH heads, HS head size.
//
// Parameter layout (f32, the order of host/format float-model tensorList with a tied classifier):
//   embedding [V][C], rms_att [L][C], wq [L][C][C], wk [L][KV][C], wv [L][KV][C], wo [L][C][C],
//   rms_ffn [L][C], w1 [L][H][C], w2 [L][C][H], w3 [L][H][C], rms_final [C]
import { ropeTable } from "../kernels/f32";
import {
  actQuantForward, attentionBackward, attentionForward, encoderBackward, encoderForward, matmulBackward,
  matmulForward, residualForward, rmsnormBackward, rmsnormForward, ropeBackward, ropeForward, swigluBackward,
  swigluForward,
} from "./layers";
import { loraBackward, loraForward } from "../kernels/lora";
import { blendLatent, weightsF32, weightsInt4, weightsInt8, weightsTernary } from "./quant";

// Quantization the forward pass simulates (append-only).
export const QUANT_NONE: i32 = 0;     // f32 everything (teacher, gradient checks)
export const QUANT_TERNARY: i32 = 1;  // matrices t2, embedding/classifier as `table`, activations int8
export const QUANT_INT8: i32 = 2;     // matrices int8 per row, embedding/classifier as `table`, activations int8
export const QUANT_INT4: i32 = 3;     // matrices q4 (int4 per row), embedding/classifier as `table`, activations int8

// The embedding / tied classifier when quantized (append-only).
export const TABLE_INT8: i32 = 0;     // q8, one scale per row
export const TABLE_INT4: i32 = 1;     // q4, one absmax/7 scale per row
export const TABLE_TERNARY: i32 = 2;  // ternary (absmean per row, as the layer matrices)

// LoRA targets, bit t of a target mask (adapter files use the model format's kinds, 2..9).
export const LORA_WQ: i32 = 0;
export const LORA_WK: i32 = 1;
export const LORA_WV: i32 = 2;
export const LORA_WO: i32 = 3;
export const LORA_W1: i32 = 4;
export const LORA_W2: i32 = 5;
export const LORA_W3: i32 = 6;
export const LORA_TARGETS: i32 = 7;

@inline function f32s(n: i32): usize { const p = heap.alloc(<usize>n << 2); memory.fill(p, 0, <usize>n << 2); return p; }
@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

export class TrainModel {
  // config
  C: i32; H: i32; L: i32; NH: i32; NKV: i32; V: i32; HS: i32; KV: i32;
  B: i32; T: i32; N: i32;
  quant: i32;
  table: i32;
  attnQuant: i32; // wq, wk, wv, wo: a QUANT_ other than NONE (mixed precision), else quant
  // Quantization ramp: quantized matrices use blend·q + (1 − blend)·w/s (in units of the row
  // scale s), so training can move from the latent f32 weights to the quantized ones
  // gradually; 1 = fully quantized, exactly what the file stores.
  blend: f32 = 1;
  eps: f32 = 1e-5;
  theta: f32 = 10000;
  // parameter offsets (in floats)
  oEmb: i32; oRmsAtt: i32; oWq: i32; oWk: i32; oWv: i32; oWo: i32; oRmsFfn: i32; oW1: i32; oW2: i32; oW3: i32; oRmsFinal: i32;
  nParams: i32;
  params: usize;  // f32 [nParams] latent
  grads: usize;   // f32 [nParams]
  m: usize;       // f32 [nParams] Adam first moment
  v: usize;       // f32 [nParams] Adam second moment
  wInt: usize;    // f32 [nParams] quantized weights (integers when quantized; norms copied)
  wScale: usize;  // f32 [nParams] row scale of matrix row r at the row's first index
  // activations
  cosSin: usize;  // f32 [T][HS]
  x: usize;       // f32 [L+1][N][C] residual stream entering each layer (x[L]: before final norm)
  xm: usize;      // f32 [L][N][C]   residual after attention
  xn1: usize; rs1: usize; xq1: usize; sa1: usize;  // [L][N][C], [L][N], [L][N][C], [L][N]
  q: usize;       // f32 [L][N][C]
  k: usize;       // f32 [L][N][KV]
  vv: usize;      // f32 [L][N][KV]
  att: usize;     // f32 [L][N][NH][T]
  ao: usize; xq2: usize; sa2: usize;               // [L][N][C], [L][N][C], [L][N]
  ob: usize;      // f32 [N][C] scratch for wo / w2 output
  xn2: usize; rs2: usize; xq3: usize; sa3: usize;  // as xn1..
  h1: usize; h3: usize; hg: usize; xq4: usize; sa4: usize;  // [L][N][H] ×4, [L][N]
  xf: usize; rsf: usize; xqf: usize; saf: usize;   // [N][C], [N], [N][C], [N]
  logits: usize;  // f32 [N][V]
  dlogits: usize; // f32 [N][V]
  // backward scratch
  dres: usize; dxn: usize; dq: usize; dk: usize; dv: usize; dao: usize;  // [N][C] / [N][KV]
  dh1: usize; dh3: usize; dhg: usize;  // [N][H]
  dp: usize;      // f32 [T]
  // hidden-state loss: added gradient at each layer's output (0 = none), f32 [L][N][C]
  dHidden: usize = 0;
  // Fine-tuning with adapters (initLora): the base is frozen as the host wrote it (wInt, wScale:
  // the file's codes and scales, never re-quantized, no base gradients), and each targeted matrix
  // of each layer carries A [R][in] then B [out][R] in `lora`, laid out layer by layer, target by
  // target (LORA_WQ..LORA_W3): the adapter file's order.
  frozen: bool = false;
  loraRank: i32 = 0;
  loraTargets: i32 = 0;
  loraK: f32 = 0;                  // (α/R)·s
  loraAt: StaticArray<i32> = new StaticArray<i32>(0); // [L][7] float offset of A in lora, -1 when not targeted
  nLora: i32 = 0;
  lora: usize = 0; loraGrads: usize = 0; loraM: usize = 0; loraV: usize = 0; // f32 [nLora]
  loraU: usize = 0;                // f32 [L][7][N][R] A·x of the forward, for the backward
  loraDu: usize = 0;               // f32 [R] scratch

  constructor(C: i32, H: i32, L: i32, NH: i32, NKV: i32, V: i32, B: i32, T: i32, quant: i32, table: i32, attnQuant: i32) {
    this.C = C; this.H = H; this.L = L; this.NH = NH; this.NKV = NKV; this.V = V;
    this.HS = C / NH; this.KV = C / NH * NKV;
    this.B = B; this.T = T; this.N = B * T; this.quant = quant; this.table = table; this.attnQuant = attnQuant;
    const KV = this.KV, N = this.N;
    let o = 0;
    this.oEmb = o; o += V * C;
    this.oRmsAtt = o; o += L * C;
    this.oWq = o; o += L * C * C;
    this.oWk = o; o += L * KV * C;
    this.oWv = o; o += L * KV * C;
    this.oWo = o; o += L * C * C;
    this.oRmsFfn = o; o += L * C;
    this.oW1 = o; o += L * H * C;
    this.oW2 = o; o += L * C * H;
    this.oW3 = o; o += L * H * C;
    this.oRmsFinal = o; o += C;
    this.nParams = o;
    this.params = f32s(o); this.grads = f32s(o); this.m = f32s(o); this.v = f32s(o);
    this.wInt = f32s(o); this.wScale = f32s(o);
    this.cosSin = f32s(T * this.HS);
    for (let t = 0; t < T; t++) ropeTable(at(this.cosSin, t * this.HS), t, this.HS, this.theta);
    this.x = f32s((L + 1) * N * C); this.xm = f32s(L * N * C);
    this.xn1 = f32s(L * N * C); this.rs1 = f32s(L * N); this.xq1 = f32s(L * N * C); this.sa1 = f32s(L * N);
    this.q = f32s(L * N * C); this.k = f32s(L * N * KV); this.vv = f32s(L * N * KV);
    this.att = f32s(L * N * NH * T);
    this.ao = f32s(L * N * C); this.xq2 = f32s(L * N * C); this.sa2 = f32s(L * N);
    this.ob = f32s(N * C);
    this.xn2 = f32s(L * N * C); this.rs2 = f32s(L * N); this.xq3 = f32s(L * N * C); this.sa3 = f32s(L * N);
    this.h1 = f32s(L * N * H); this.h3 = f32s(L * N * H); this.hg = f32s(L * N * H); this.xq4 = f32s(L * N * H); this.sa4 = f32s(L * N);
    this.xf = f32s(N * C); this.rsf = f32s(N); this.xqf = f32s(N * C); this.saf = f32s(N);
    this.logits = f32s(N * V); this.dlogits = f32s(N * V);
    this.dres = f32s(N * C); this.dxn = f32s(N * C); this.dq = f32s(N * C); this.dk = f32s(N * KV); this.dv = f32s(N * KV);
    this.dao = f32s(N * C); this.dh1 = f32s(N * H); this.dh3 = f32s(N * H); this.dhg = f32s(N * H);
    this.dp = f32s(T);
  }

  get actQuant(): bool { return this.quant != QUANT_NONE; }

  // [in, out] of a LoRA target.
  loraShape(t: i32): StaticArray<i32> {
    const C = this.C, H = this.H, KV = this.KV;
    if (t == LORA_WK || t == LORA_WV) return [C, KV];
    if (t == LORA_W1 || t == LORA_W3) return [C, H];
    if (t == LORA_W2) return [H, C];
    return [C, C];
  }

  // Adds adapters of rank R on the targets in mask and freezes the base; returns their parameter
  // count. A and B start at zero: the host initializes A (B = 0 keeps the base's function).
  initLora(rank: i32, mask: i32, k: f32): i32 {
    this.frozen = true;
    this.loraRank = rank; this.loraTargets = mask; this.loraK = k;
    const at_ = new StaticArray<i32>(this.L * LORA_TARGETS);
    let o = 0;
    for (let l = 0; l < this.L; l++) {
      for (let t = 0; t < LORA_TARGETS; t++) {
        if ((mask >> t) & 1) {
          const s = this.loraShape(t);
          at_[l * LORA_TARGETS + t] = o;
          o += rank * s[0] + s[1] * rank;
        } else at_[l * LORA_TARGETS + t] = -1;
      }
    }
    this.loraAt = at_;
    this.nLora = o;
    this.lora = f32s(o); this.loraGrads = f32s(o); this.loraM = f32s(o); this.loraV = f32s(o);
    this.loraU = f32s(this.L * LORA_TARGETS * this.N * rank);
    this.loraDu = f32s(rank);
    return o;
  }

  private loraApply(l: i32, t: i32, y: usize, x: usize): void {
    const a = this.loraAt.length > 0 ? this.loraAt[l * LORA_TARGETS + t] : -1;
    if (a < 0) return;
    const s = this.loraShape(t), R = this.loraRank;
    loraForward(y, at(this.loraU, (l * LORA_TARGETS + t) * this.N * R), x, at(this.lora, a), at(this.lora, a + R * s[0]), this.N, s[0], s[1], R, this.loraK);
  }

  private loraBack(l: i32, t: i32, dx: usize, dy: usize, x: usize): void {
    const a = this.loraAt.length > 0 ? this.loraAt[l * LORA_TARGETS + t] : -1;
    if (a < 0) return;
    const s = this.loraShape(t), R = this.loraRank;
    loraBackward(dx, at(this.loraGrads, a), at(this.loraGrads, a + R * s[0]), dy, x, at(this.loraU, (l * LORA_TARGETS + t) * this.N * R),
                 at(this.lora, a), at(this.lora, a + R * s[0]), this.loraDu, this.N, s[0], s[1], R, this.loraK);
  }

  // Recomputes wInt / wScale from the latent parameters (call after every update).
  quantizeWeights(): void {
    const C = this.C, H = this.H, L = this.L, KV = this.KV, V = this.V;
    // Norm vectors stay f32.
    memory.copy(this.wInt, this.params, <usize>this.nParams << 2);
    this.matrix(this.oEmb, V, C, this.quant == QUANT_NONE ? QUANT_NONE : this.table == TABLE_INT4 ? QUANT_INT4 : this.table == TABLE_TERNARY ? QUANT_TERNARY : QUANT_INT8);
    const qa = this.attnQuant, qf = this.quant;
    for (let l = 0; l < L; l++) {
      this.matrix(this.oWq + l * C * C, C, C, qa);
      this.matrix(this.oWk + l * KV * C, KV, C, qa);
      this.matrix(this.oWv + l * KV * C, KV, C, qa);
      this.matrix(this.oWo + l * C * C, C, C, qa);
      this.matrix(this.oW1 + l * H * C, H, C, qf);
      this.matrix(this.oW2 + l * C * H, C, H, qf);
      this.matrix(this.oW3 + l * H * C, H, C, qf);
    }
  }

  private matrix(off: i32, rows: i32, cols: i32, quant: i32): void {
    const w = at(this.params, off), wi = at(this.wInt, off);
    // Row scales are kept compactly at the start of the matrix's wScale region.
    const ws = at(this.wScale, off);
    if (quant == QUANT_NONE) weightsF32(wi, ws, w, rows, cols);
    else if (quant == QUANT_INT4) weightsInt4(wi, ws, w, rows, cols);
    else if (quant == QUANT_INT8) weightsInt8(wi, ws, w, rows, cols);
    else weightsTernary(wi, ws, w, rows, cols);
    if (quant != QUANT_NONE && this.blend < 1) blendLatent(wi, ws, w, rows, cols, this.blend);
  }

  // Forward over tokens[N] (i32); logits[N][V].
  forward(tokens: usize): void {
    const C = this.C, H = this.H, KV = this.KV, N = this.N, T = this.T, HS = this.HS;
    const qa = this.actQuant;
    if (!this.frozen) this.quantizeWeights();
    encoderForward(this.x, tokens, at(this.wInt, this.oEmb), at(this.wScale, this.oEmb), N, C);
    for (let l = 0; l < this.L; l++) {
      const NC = l * N * C, NKV = l * N * KV, NH_ = l * N * H, Nl = l * N;
      const x = at(this.x, NC), xm = at(this.xm, NC), xo = at(this.x, NC + N * C);
      // attention block
      rmsnormForward(at(this.xn1, NC), at(this.rs1, Nl), x, at(this.params, this.oRmsAtt + l * C), N, C, this.eps);
      actQuantForward(at(this.xq1, NC), at(this.sa1, Nl), at(this.xn1, NC), N, C, qa);
      this.mm(at(this.q, NC), at(this.xq1, NC), at(this.sa1, Nl), this.oWq + l * C * C, C, C);
      this.mm(at(this.k, NKV), at(this.xq1, NC), at(this.sa1, Nl), this.oWk + l * KV * C, C, KV);
      this.mm(at(this.vv, NKV), at(this.xq1, NC), at(this.sa1, Nl), this.oWv + l * KV * C, C, KV);
      this.loraApply(l, LORA_WQ, at(this.q, NC), at(this.xn1, NC));
      this.loraApply(l, LORA_WK, at(this.k, NKV), at(this.xn1, NC));
      this.loraApply(l, LORA_WV, at(this.vv, NKV), at(this.xn1, NC));
      ropeForward(at(this.q, NC), this.cosSin, N, T, C, HS);
      ropeForward(at(this.k, NKV), this.cosSin, N, T, KV, HS);
      attentionForward(at(this.ao, NC), at(this.att, l * N * this.NH * T), at(this.q, NC), at(this.k, NKV), at(this.vv, NKV), this.B, T, this.NH, this.NKV, HS);
      actQuantForward(at(this.xq2, NC), at(this.sa2, Nl), at(this.ao, NC), N, C, qa);
      this.mm(this.ob, at(this.xq2, NC), at(this.sa2, Nl), this.oWo + l * C * C, C, C);
      this.loraApply(l, LORA_WO, this.ob, at(this.ao, NC));
      memory.copy(xm, x, <usize>(N * C) << 2);
      residualForward(xm, this.ob, N * C);
      // feed-forward block
      rmsnormForward(at(this.xn2, NC), at(this.rs2, Nl), xm, at(this.params, this.oRmsFfn + l * C), N, C, this.eps);
      actQuantForward(at(this.xq3, NC), at(this.sa3, Nl), at(this.xn2, NC), N, C, qa);
      this.mm(at(this.h1, NH_), at(this.xq3, NC), at(this.sa3, Nl), this.oW1 + l * H * C, C, H);
      this.mm(at(this.h3, NH_), at(this.xq3, NC), at(this.sa3, Nl), this.oW3 + l * H * C, C, H);
      this.loraApply(l, LORA_W1, at(this.h1, NH_), at(this.xn2, NC));
      this.loraApply(l, LORA_W3, at(this.h3, NH_), at(this.xn2, NC));
      swigluForward(at(this.hg, NH_), at(this.h1, NH_), at(this.h3, NH_), N * H);
      actQuantForward(at(this.xq4, NH_), at(this.sa4, Nl), at(this.hg, NH_), N, H, qa);
      this.mm(this.ob, at(this.xq4, NH_), at(this.sa4, Nl), this.oW2 + l * C * H, H, C);
      this.loraApply(l, LORA_W2, this.ob, at(this.hg, NH_));
      memory.copy(xo, xm, <usize>(N * C) << 2);
      residualForward(xo, this.ob, N * C);
    }
    rmsnormForward(this.xf, this.rsf, at(this.x, this.L * N * C), at(this.params, this.oRmsFinal), N, C, this.eps);
    actQuantForward(this.xqf, this.saf, this.xf, N, C, qa);
    this.mm(this.logits, this.xqf, this.saf, this.oEmb, C, this.V);
  }

  private mm(y: usize, xq: usize, sa: usize, off: i32, in_: i32, out: i32): void {
    matmulForward(y, xq, sa, at(this.wInt, off), at(this.wScale, off), this.N, in_, out);
  }

  private mmBack(dx: usize, dy: usize, xq: usize, sa: usize, off: i32, in_: i32, out: i32): void {
    matmulBackward(dx, at(this.grads, off), dy, xq, sa, at(this.wInt, off), at(this.wScale, off), this.N, in_, out);
  }

  // Backward from dlogits[N][V]; accumulates into grads (zero them first with zeroGrads).
  backward(tokens: usize): void {
    const C = this.C, H = this.H, KV = this.KV, N = this.N, T = this.T, HS = this.HS;
    const NCb = <usize>(N * C) << 2;
    memory.fill(this.dxn, 0, NCb);
    this.mmBack(this.dxn, this.dlogits, this.xqf, this.saf, this.oEmb, C, this.V);
    memory.fill(this.dres, 0, NCb);
    rmsnormBackward(this.dres, at(this.grads, this.oRmsFinal), this.dxn, at(this.x, this.L * N * C), at(this.params, this.oRmsFinal), this.rsf, N, C);
    for (let l = this.L - 1; l >= 0; l--) {
      const NC = l * N * C, NKV = l * N * KV, NH_ = l * N * H, Nl = l * N;
      if (this.dHidden != 0) residualForward(this.dres, at(this.dHidden, NC), N * C);
      // feed-forward block: xo = xm + w2(swiglu(w1 xn2, w3 xn2))
      memory.fill(this.dhg, 0, <usize>(N * H) << 2);
      this.mmBack(this.dhg, this.dres, at(this.xq4, NH_), at(this.sa4, Nl), this.oW2 + l * C * H, H, C);
      this.loraBack(l, LORA_W2, this.dhg, this.dres, at(this.hg, NH_));
      memory.fill(this.dh1, 0, <usize>(N * H) << 2);
      memory.fill(this.dh3, 0, <usize>(N * H) << 2);
      swigluBackward(this.dh1, this.dh3, this.dhg, at(this.h1, NH_), at(this.h3, NH_), N * H);
      memory.fill(this.dxn, 0, NCb);
      this.mmBack(this.dxn, this.dh1, at(this.xq3, NC), at(this.sa3, Nl), this.oW1 + l * H * C, C, H);
      this.mmBack(this.dxn, this.dh3, at(this.xq3, NC), at(this.sa3, Nl), this.oW3 + l * H * C, C, H);
      this.loraBack(l, LORA_W1, this.dxn, this.dh1, at(this.xn2, NC));
      this.loraBack(l, LORA_W3, this.dxn, this.dh3, at(this.xn2, NC));
      rmsnormBackward(this.dres, at(this.grads, this.oRmsFfn + l * C), this.dxn, at(this.xm, NC), at(this.params, this.oRmsFfn + l * C), at(this.rs2, Nl), N, C);
      // attention block: xm = x + wo(attention(rope(wq xn1), rope(wk xn1), wv xn1))
      memory.fill(this.dao, 0, NCb);
      this.mmBack(this.dao, this.dres, at(this.xq2, NC), at(this.sa2, Nl), this.oWo + l * C * C, C, C);
      this.loraBack(l, LORA_WO, this.dao, this.dres, at(this.ao, NC));
      memory.fill(this.dq, 0, NCb);
      memory.fill(this.dk, 0, <usize>(N * KV) << 2);
      memory.fill(this.dv, 0, <usize>(N * KV) << 2);
      attentionBackward(this.dq, this.dk, this.dv, this.dao, at(this.att, l * N * this.NH * T), at(this.q, NC), at(this.k, NKV), at(this.vv, NKV), this.dp, this.B, T, this.NH, this.NKV, HS);
      ropeBackward(this.dq, this.cosSin, N, T, C, HS);
      ropeBackward(this.dk, this.cosSin, N, T, KV, HS);
      memory.fill(this.dxn, 0, NCb);
      this.mmBack(this.dxn, this.dq, at(this.xq1, NC), at(this.sa1, Nl), this.oWq + l * C * C, C, C);
      this.mmBack(this.dxn, this.dk, at(this.xq1, NC), at(this.sa1, Nl), this.oWk + l * KV * C, C, KV);
      this.mmBack(this.dxn, this.dv, at(this.xq1, NC), at(this.sa1, Nl), this.oWv + l * KV * C, C, KV);
      this.loraBack(l, LORA_WQ, this.dxn, this.dq, at(this.xn1, NC));
      this.loraBack(l, LORA_WK, this.dxn, this.dk, at(this.xn1, NC));
      this.loraBack(l, LORA_WV, this.dxn, this.dv, at(this.xn1, NC));
      rmsnormBackward(this.dres, at(this.grads, this.oRmsAtt + l * C), this.dxn, at(this.x, NC), at(this.params, this.oRmsAtt + l * C), at(this.rs1, Nl), N, C);
    }
    encoderBackward(at(this.grads, this.oEmb), this.dres, tokens, N, C);
  }
}
