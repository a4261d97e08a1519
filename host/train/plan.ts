// What a student config produces: the model image of a trained net, and, before any
// training, the exact file size: the same image of an all-zero student of the same shape and
// tensor types through the writer (sizes do not depend on the values).
import { convertModel } from "../format/convert.js";
import type { ModelConfig } from "../format/spec.js";
import { writeModel, type ModelImage } from "../format/writer.js";
import type { StudentConfig } from "./config.js";
import { instantiateTrain } from "./module.js";
import { TrainNet } from "./net.js";

export interface StudentPlan { fileBytes: number; parameters: number; tokensPerStep: number; trainingTokens: number }

// The file image of a student as trained: f32, or the quantized integers and scales it ran.
export function studentImage(net: TrainNet, cfg: StudentConfig, tokenizer?: Uint8Array): ModelImage {
  return cfg.quant === "f32" ? convertModel(net.toFloatModel(tokenizer), { quant: "f32", tokenizer }) : net.toImage(tokenizer, cfg.ternaryFormat);
}

export function planStudent(cfg: StudentConfig, shape: ModelConfig, tokenizer?: Uint8Array): StudentPlan {
  const net = new TrainNet(instantiateTrain(), shape, 1, 2, cfg.quant, cfg.embedding, cfg.attentionQuant);
  return { fileBytes: writeModel(studentImage(net, cfg, tokenizer)).length, parameters: net.n, tokensPerStep: cfg.batch * cfg.seqLen, trainingTokens: cfg.steps * cfg.batch * cfg.seqLen };
}
