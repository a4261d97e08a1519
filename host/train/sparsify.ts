// Pruning while distilling, the `"sparsity"` and `"pruneHeads"` options of a student config:
//   gradual magnitude pruning (Zhu & Gupta 2017): each row of every layer matrix loses its
//     smallest-|w| weights until a fraction s(t) = s·(1 − (1 − p)³) is zero, p the progress
//     through steps [pruneStart, pruneEnd); the cubic prunes fast while the network has slack
//     and slowly as it nears the target, and the steps after pruneEnd let it recover;
//   head pruning: the heads whose output projection ‖wo_:,h‖ is smallest lose their query rows
//     and output columns once, at the start.
// Pruned weights are set to zero after every optimizer step, so the forward never sees them and
// the written file holds exact zeros.
import { ATTENTION_KINDS, FFN_KINDS, Kind } from "../format/spec.js";
import type { TrainNet, TensorSpan } from "./net.js";
import { weakestHeads } from "../compress/surgery.js";

export interface PruneConfig { sparsity: number; pruneHeads: number; pruneStart: number; pruneEnd: number }

const PRUNED_KINDS: readonly Kind[] = [...ATTENTION_KINDS, ...FFN_KINDS];

// Target fraction of zeros per row after `step` optimizer steps.
export function sparsityAt(c: PruneConfig, step: number): number {
  if (c.sparsity === 0 || step < c.pruneStart) return 0;
  const p = c.pruneEnd > c.pruneStart ? Math.min(1, (step - c.pruneStart) / (c.pruneEnd - c.pruneStart)) : 1;
  return c.sparsity * (1 - (1 - p) ** 3);
}

export class Pruner {
  private readonly mask: Uint8Array; // [n params] 1 = pruned
  private readonly spans: TensorSpan[]; // the layer matrices
  private reached = 0;                  // the sparsity the masks already hold

  // With "sparsity", weights that are exactly zero when the pruner starts count as pruned: after
  // --resume those are the ones pruned before the checkpoint (a live f32 weight is never quite 0).
  constructor(private readonly net: TrainNet, private readonly c: PruneConfig) {
    this.mask = new Uint8Array(net.n);
    this.spans = net.layout.filter((s) => PRUNED_KINDS.includes(s.kind));
    if (c.sparsity > 0) {
      const p = net.params;
      for (const s of this.spans) for (let i = s.offset; i < s.offset + s.rows * s.cols; i++) if (p[i] === 0) this.mask[i] = 1;
    }
    if (c.pruneHeads > 0) this.maskHeads();
  }

  get active(): boolean { return this.c.sparsity > 0 || this.c.pruneHeads > 0; }

  // Called after optimizer step number `step` (1-based): extends the masks to s(step) and zeroes
  // every pruned weight.
  apply(step: number): void {
    const target = sparsityAt(this.c, step);
    if (target > this.reached) {
      for (const s of this.spans) this.growRows(s, Math.floor(s.cols * target));
      this.reached = target;
    }
    const p = this.net.params;
    for (let i = 0; i < p.length; i++) if (this.mask[i]) p[i] = 0;
  }

  // Each row: mask its smallest-|w| live weights until `want` are masked.
  private growRows(s: TensorSpan, want: number): void {
    const p = this.net.params, m = this.mask;
    for (let r = 0; r < s.rows; r++) {
      const base = s.offset + r * s.cols;
      let have = 0;
      for (let j = 0; j < s.cols; j++) have += m[base + j];
      if (have >= want) continue;
      const live: number[] = [];
      for (let j = 0; j < s.cols; j++) if (!m[base + j]) live.push(j);
      live.sort((a, b) => Math.abs(p[base + a]) - Math.abs(p[base + b]));
      for (let i = 0; i < want - have; i++) m[base + live[i]] = 1;
    }
  }

  private maskHeads(): void {
    const c = this.net.config, hs = c.dim / c.nHeads, D = c.dim, p = this.net.params;
    for (let l = 0; l < c.nLayers; l++) {
      const wq = this.net.layout.find((s) => s.kind === Kind.Wq && s.layer === l)!;
      const wo = this.net.layout.find((s) => s.kind === Kind.Wo && s.layer === l)!;
      for (const h of weakestHeads(p.subarray(wo.offset, wo.offset + D * D), c, this.c.pruneHeads)) {
        this.mask.fill(1, wq.offset + h * hs * D, wq.offset + (h + 1) * hs * D);
        for (let r = 0; r < D; r++) this.mask.fill(1, wo.offset + r * D + h * hs, wo.offset + r * D + (h + 1) * hs);
      }
    }
  }
}
