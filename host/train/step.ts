// One training step's gradient computation on a batch, shared by the in-process trainer and
// the data-parallel workers: teacher forward (for distillation), student forward, loss,
// optional hidden-state loss, backward. Gradients are left in the student's grads.
import type { FloatModel } from "../format/float-model.js";
import type { ModelConfig } from "../format/spec.js";
import { LOSS_IDS, type StudentConfig } from "./config.js";
import type { TrainExports } from "./module.js";
import { TrainNet } from "./net.js";

export interface StepParts { loss: number; ce: number; kd: number; hidden: number }

export class GradComputer {
  readonly student: TrainNet;
  readonly teacher: TrainNet | null;
  private readonly inputs: number;
  private readonly targets: number;
  private readonly map: number;

  constructor(readonly x: TrainExports, studentShape: ModelConfig, teacher: FloatModel | null, readonly cfg: StudentConfig, readonly batch: number) {
    this.student = new TrainNet(x, studentShape, batch, cfg.seqLen, cfg.quant, cfg.embedding, cfg.attentionQuant);
    const needTeacher = cfg.loss !== "ce" && teacher !== null;
    this.teacher = needTeacher ? new TrainNet(x, teacher!.config, batch, cfg.seqLen, "f32") : null;
    if (this.teacher) this.teacher.load(teacher!);
    const n = batch * cfg.seqLen;
    this.inputs = x.alloc(4 * n);
    this.targets = x.alloc(4 * n);
    this.map = x.alloc(4 * studentShape.nLayers);
    // Hidden-state loss: student layer l matches the teacher layer it was initialized from, or
    // the evenly spaced one.
    const tl = teacher?.config.nLayers ?? 1;
    const m = cfg.initLayers.length === studentShape.nLayers ? cfg.initLayers
      : Array.from({ length: studentShape.nLayers }, (_, l) => Math.round(((l + 1) * tl) / studentShape.nLayers) - 1);
    new Int32Array(x.memory.buffer, this.map, studentShape.nLayers).set(m);
  }

  // blend: the quantization ramp's position this step (TrainNet.setQuantBlend).
  compute(inputs: Int32Array, targets: Int32Array, blend = 1): StepParts {
    const x = this.x, n = this.batch * this.cfg.seqLen;
    new Int32Array(x.memory.buffer, this.inputs, n).set(inputs.subarray(0, n));
    new Int32Array(x.memory.buffer, this.targets, n).set(targets.subarray(0, n));
    const s = this.student.id, t = this.teacher ? this.teacher.id : -1;
    if (t >= 0) x.forward(t, this.inputs);
    this.student.setQuantBlend(blend);
    x.forward(s, this.inputs);
    let loss = x.loss(s, t, this.targets, LOSS_IDS[this.cfg.loss], this.cfg.temperature, this.cfg.alpha);
    const ce = x.lossCe(), kd = x.lossKd();
    let hidden = 0;
    if (t >= 0 && this.cfg.hiddenWeight > 0) hidden = x.hiddenLoss(s, t, this.map, this.cfg.hiddenWeight);
    loss += hidden;
    x.zeroGrads(s);
    x.backward(s, this.inputs);
    return { loss, ce, kd, hidden };
  }
}
