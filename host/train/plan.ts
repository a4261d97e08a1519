// What a student config will produce, before any training: the exact file size, from the
// writer itself run on an all-zero student of the same shape and tensor types (sizes do not
// depend on the values).
import { convertModel } from "../format/convert.js";
import type { ModelConfig } from "../format/spec.js";
import { writeModel } from "../format/writer.js";
import type { StudentConfig } from "./config.js";
import { instantiateTrain } from "./module.js";
import { TrainNet } from "./net.js";

export interface StudentPlan { fileBytes: number; parameters: number; tokensPerStep: number; trainingTokens: number }

export function planStudent(cfg: StudentConfig, shape: ModelConfig, tokenizer?: Uint8Array): StudentPlan {
  const net = new TrainNet(instantiateTrain(), shape, 1, 2, cfg.quant, cfg.embedding, cfg.attentionQuant);
  const image = cfg.quant === "f32" ? convertModel(net.toFloatModel(tokenizer), { quant: "f32", tokenizer }) : net.toImage(tokenizer, cfg.ternaryFormat);
  return { fileBytes: writeModel(image).length, parameters: net.n, tokensPerStep: cfg.batch * cfg.seqLen, trainingTokens: cfg.steps * cfg.batch * cfg.seqLen };
}
