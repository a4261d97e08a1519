// Activation-aware scaling for int8 post-training quantization (SmoothQuant): per input
// channel j of a matrix group, s_j = max|X_j|^α / max|W_:,j|^(1−α); the activations are
// divided by s (folded into the producer: the RMSNorm weight before wq/wk/wv and w1/w3, the
// w3 rows before w2) and the weights' columns multiplied by s, so the float model is
// unchanged but activation outliers move into weights, where per-row scales absorb them.
// Calibration statistics come from the training module's f32 forward over sample text.
import { tensorKey, type FloatModel } from "../format/float-model.js";
import { Kind } from "../format/spec.js";
import { instantiateTrain } from "../train/module.js";
import { TrainNet } from "../train/net.js";

// Per layer, per input channel absmax of the attention input, FFN input and FFN hidden.
export interface ActStats { att: Float32Array[]; ffn: Float32Array[]; hid: Float32Array[] }

export function calibrate(m: FloatModel, docs: Int32Array[], seq: number): ActStats {
  const c = m.config, x = instantiateTrain();
  const T = Math.min(seq, c.seqLen);
  const net = new TrainNet(x, c, 1, T, "f32");
  net.load(m);
  const stats: ActStats = {
    att: Array.from({ length: c.nLayers }, () => new Float32Array(c.dim)),
    ffn: Array.from({ length: c.nLayers }, () => new Float32Array(c.dim)),
    hid: Array.from({ length: c.nLayers }, () => new Float32Array(c.hiddenDim)),
  };
  const tok = x.alloc(4 * T);
  for (const d of docs) {
    for (let start = 0; start < d.length; start += T) {
      const n = Math.min(T, d.length - start);
      const buf = new Int32Array(x.memory.buffer, tok, T);
      buf.fill(0); buf.set(d.subarray(start, start + n));
      x.forward(net.id, tok);
      for (let l = 0; l < c.nLayers; l++) {
        const take = (which: number, into: Float32Array) => {
          const w = into.length, a = new Float32Array(x.memory.buffer, x.activation(net.id, which, l), T * w);
          for (let t = 0; t < n; t++) for (let j = 0; j < w; j++) into[j] = Math.max(into[j], Math.abs(a[t * w + j]));
        };
        take(0, stats.att[l]); take(2, stats.ffn[l]); take(3, stats.hid[l]);
      }
    }
  }
  return stats;
}

function colAbsMax(ws: Float32Array[], cols: number): Float32Array {
  const out = new Float32Array(cols);
  for (const w of ws) for (let i = 0; i < w.length; i++) out[i % cols] = Math.max(out[i % cols], Math.abs(w[i]));
  return out;
}

function factors(act: Float32Array, wmax: Float32Array, alpha: number): Float32Array {
  return act.map((a, j) => {
    const s = Math.pow(Math.max(a, 1e-5), alpha) / Math.pow(Math.max(wmax[j], 1e-5), 1 - alpha);
    return Number.isFinite(s) && s > 0 ? s : 1;
  });
}

// A new FloatModel with smoothing factors folded in (alpha 0 would still rescale by weights;
// callers skip smoothing entirely for "off").
export function smooth(m: FloatModel, st: ActStats, alpha: number): FloatModel {
  const c = m.config, D = c.dim, H = c.hiddenDim;
  const out: FloatModel = { config: { ...c }, tensors: new Map([...m.tensors].map(([k, v]) => [k, v.slice()])), tokenizer: m.tokenizer };
  const t = (k: Kind, l: number) => out.tensors.get(tensorKey(k, l))!;
  for (let l = 0; l < c.nLayers; l++) {
    // Attention input: rms_att / s, wq/wk/wv columns · s.
    const sa = factors(st.att[l], colAbsMax([t(Kind.Wq, l), t(Kind.Wk, l), t(Kind.Wv, l)], D), alpha);
    const ra = t(Kind.RmsAtt, l);
    for (let j = 0; j < D; j++) ra[j] /= sa[j];
    for (const k of [Kind.Wq, Kind.Wk, Kind.Wv]) { const w = t(k, l); for (let i = 0; i < w.length; i++) w[i] *= sa[i % D]; }
    // FFN input: rms_ffn / s, w1/w3 columns · s.
    const sf = factors(st.ffn[l], colAbsMax([t(Kind.W1, l), t(Kind.W3, l)], D), alpha);
    const rf = t(Kind.RmsFfn, l);
    for (let j = 0; j < D; j++) rf[j] /= sf[j];
    for (const k of [Kind.W1, Kind.W3]) { const w = t(k, l); for (let i = 0; i < w.length; i++) w[i] *= sf[i % D]; }
    // FFN hidden (silu(w1 x) · (w3 x)): w3 rows / s, w2 columns · s.
    const sh = factors(st.hid[l], colAbsMax([t(Kind.W2, l)], H), alpha);
    const w3 = t(Kind.W3, l), w2 = t(Kind.W2, l);
    for (let j = 0; j < H; j++) for (let i = 0; i < D; i++) w3[j * D + i] /= sh[j];
    for (let i = 0; i < w2.length; i++) w2[i] *= sh[i % H];
  }
  return out;
}
