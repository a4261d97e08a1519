// One model inside a training module instance: the parameter layout (the order of
// float-model tensorList with a tied classifier, as assembly/train/model.ts), loading from a
// FloatModel, and exporting the trained model as f32 or as the exact quantized image.
import { FloatModel, tensorKey, tensorList } from "../format/float-model.js";
import { QTYPES } from "../format/qtypes.js";
import { TERNARY_QTYPE, type TernaryFormat } from "../format/convert.js";
import { ATTENTION_KINDS, Kind, ModelConfig, QType, tensorShape } from "../format/spec.js";
import type { ModelImage, TensorRecord } from "../format/writer.js";
import type { TrainExports } from "./module.js";

export type TrainQuant = "f32" | "ternary" | "int8" | "q4";
const QUANT_IDS: Record<TrainQuant, number> = { f32: 0, ternary: 1, int8: 2, q4: 3 };
// The embedding / tied classifier of a quantized student: q8, q4 or ternary, one scale per row.
export type TableQuant = "int8" | "q4" | "ternary";
const TABLE_IDS: Record<TableQuant, number> = { int8: 0, q4: 1, ternary: 2 };

export interface TensorSpan { kind: Kind; layer: number; offset: number; rows: number; cols: number }

// Offsets (in floats) of every tensor in the flat parameter buffer.
export function paramLayout(c: ModelConfig): TensorSpan[] {
  if (!c.sharedClassifier) throw new Error("training needs a classifier tied to the embedding");
  const spans: TensorSpan[] = [];
  let offset = 0;
  for (const [kind, layer] of tensorList(c)) {
    const [rows, cols] = tensorShape(c, kind);
    spans.push({ kind, layer, offset, rows, cols });
    offset += rows * cols;
  }
  return spans;
}

export const isMatrix = (k: Kind) => k !== Kind.RmsAtt && k !== Kind.RmsFfn && k !== Kind.RmsFinal;

export class TrainNet {
  readonly id: number;
  readonly layout: TensorSpan[];
  readonly n: number;
  private zeroTokens?: number; // i32 [batch·seq] of token 0, toImage's refresh batch

  // attention: the quantization of wq, wk, wv, wo when it differs from the other matrices'.
  constructor(readonly x: TrainExports, readonly config: ModelConfig, readonly batch: number, readonly seq: number, readonly quant: TrainQuant,
    readonly table: TableQuant = "int8", readonly attention: TrainQuant = quant) {
    const c = config;
    if (quant === "f32" && table !== "int8") throw new Error(`an f32 student keeps an f32 embedding (got embedding ${table})`);
    if ((quant === "f32") !== (attention === "f32")) throw new Error(`f32 and quantized matrices cannot be mixed (${quant}, attention ${attention})`);
    this.id = x.create(c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, batch, seq, QUANT_IDS[quant], TABLE_IDS[table], QUANT_IDS[attention]);
    if (this.id < 0) throw new Error(`training module refused the shape ${JSON.stringify(c)}`);
    this.layout = paramLayout(c);
    this.n = x.nParams(this.id);
    const last = this.layout[this.layout.length - 1];
    if (last.offset + last.rows * last.cols !== this.n) throw new Error("parameter layout disagrees with the training module");
  }

  private view(ptr: number, n = this.n): Float32Array { return new Float32Array(this.x.memory.buffer, ptr, n); }
  get params(): Float32Array { return this.view(this.x.params(this.id)); }
  get grads(): Float32Array { return this.view(this.x.grads(this.id)); }
  get moment1(): Float32Array { return this.view(this.x.moment1(this.id)); }
  get moment2(): Float32Array { return this.view(this.x.moment2(this.id)); }
  get logits(): Float32Array { return this.view(this.x.logits(this.id), this.batch * this.seq * this.config.vocabSize); }

  load(m: FloatModel): void {
    const p = this.params;
    for (const s of this.layout) {
      const t = m.tensors.get(tensorKey(s.kind, s.layer));
      if (!t || t.length !== s.rows * s.cols) throw new Error(`tensor ${s.kind}/${s.layer} missing or of the wrong size`);
      p.set(t, s.offset);
    }
  }

  toFloatModel(tokenizer?: Uint8Array): FloatModel {
    const p = this.params;
    const tensors = new Map<string, Float32Array>();
    for (const s of this.layout) tensors.set(tensorKey(s.kind, s.layer), p.slice(s.offset, s.offset + s.rows * s.cols));
    return { config: { ...this.config }, tensors, tokenizer };
  }

  // Quantization ramp: 0 runs the latent f32 weights (with quantized activations), 1 (the
  // default) the quantized ones; between, their weighted mean (assembly/train/model.ts).
  setQuantBlend(blend: number): void { this.x.setQuantBlend(this.id, blend); }

  // The model exactly as the training forward ran it: quantized integers and row scales
  // packed unchanged into t2 or t5 / q8 / q4 tensors (norms f32). Runs forward once, fully
  // quantized, to refresh them.
  toImage(tokenizer?: Uint8Array, ternaryFormat: TernaryFormat = "t2"): ModelImage {
    this.setQuantBlend(1);
    this.zeroTokens ??= this.x.alloc(4 * this.batch * this.seq); // the module has no free: one buffer per net
    new Int32Array(this.x.memory.buffer, this.zeroTokens, this.batch * this.seq).fill(0);
    this.x.forward(this.id, this.zeroTokens); // a batch of token 0 refreshes wInt/wScale
    const wi = this.view(this.x.quantWeights(this.id)), ws = this.view(this.x.quantScales(this.id));
    const p = this.params;
    const tensors: TensorRecord[] = [];
    for (const s of this.layout) {
      const n = s.rows * s.cols;
      if (!isMatrix(s.kind) || this.quant === "f32") {
        const w = p.slice(s.offset, s.offset + n);
        tensors.push({ kind: s.kind, layer: s.layer, qtype: QType.F32, rows: s.rows, cols: s.cols, group: 0, data: new Uint8Array(w.buffer) });
        continue;
      }
      const ints = wi.subarray(s.offset, s.offset + n), scales = ws.slice(s.offset, s.offset + s.rows);
      const q = this.quantOf(s.kind);
      const qtype = q === "q4" ? QType.Q4 : q === "int8" ? QType.Q8 : TERNARY_QTYPE[ternaryFormat];
      const traits = QTYPES[qtype];
      tensors.push({ kind: s.kind, layer: s.layer, qtype, rows: s.rows, cols: s.cols, group: traits.scales === "group" ? s.cols : 0, data: traits.pack!(ints, scales, s.rows, s.cols) });
    }
    return { config: { ...this.config }, tensors, tokenizer };
  }

  // How a (quantized) matrix of this kind is stored.
  quantOf(kind: Kind): TrainQuant {
    if (kind === Kind.Embedding) return this.table;
    return ATTENTION_KINDS.includes(kind) ? this.attention : this.quant;
  }
}
