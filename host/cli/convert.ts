// edgellm convert: llama2.c checkpoints (v0 fp32, v2 int8) or edgellm files → edgellm format.
import { Command } from "commander";
import { writeFileSync } from "node:fs";
import { convertModel, EMBEDDING_NAMES, QUANT_NAMES } from "../format/convert.js";
import { FloatModel, tensorKey, tensorList } from "../format/float-model.js";
import { readAnyModel } from "../format/load.js";
import { dequantizeQ4, dequantizeQ8, dequantizeT2 } from "../format/quantize.js";
import { QType } from "../format/spec.js";
import { checkTokenizer } from "../format/tokenizer.js";
import { writeModel, type ModelImage } from "../format/writer.js";
import { choice, int } from "./args.js";
import { UsageError } from "./errors.js";
import { readTokenizer } from "./model-source.js";

// An edgellm image back to f32 tensors, so any file can be re-quantized.
export function imageToFloat(image: ModelImage): FloatModel {
  const m: FloatModel = { config: image.config, tensors: new Map(), tokenizer: image.tokenizer };
  for (const t of image.tensors) {
    let w: Float32Array;
    if (t.qtype === QType.F32) w = new Float32Array(t.data.slice().buffer);
    else if (t.qtype === QType.Q8) w = dequantizeQ8(t.data, t.rows, t.cols, t.group);
    else if (t.qtype === QType.Q4) w = dequantizeQ4(t.data, t.rows, t.cols);
    else w = dequantizeT2(t.data, t.rows, t.cols);
    m.tensors.set(tensorKey(t.kind, t.layer), w);
  }
  if (tensorList(m.config).length !== m.tensors.size) throw new Error("tensor list mismatch");
  return m;
}

export function convertCommand(): Command {
  return new Command("convert")
    .description("convert a llama2.c checkpoint (v0 fp32 or v2 int8 \"ak42\") or an edgellm file")
    .argument("<in>", "input model")
    .requiredOption("-o, --output <path>", "output .ellm file")
    .option("--quant <type>", "f32, int8, ternary or q4 (int4)", choice("quant", QUANT_NAMES), "f32")
    .option("--group <n>", "weights per scale of the int8 tensors (the layers with --quant int8, else the int8 embedding); 0 = one scale per row; must divide every row length", int("group", 0, 1 << 20), 0)
    .option("--attention-quant <type>", "wq, wk, wv, wo in another type than --quant (mixed precision): f32, int8, ternary or q4", choice("attention-quant", QUANT_NAMES))
    .option("--embedding <type>", "embedding/classifier storage: default (follows --quant), int8 or q4", choice("embedding", EMBEDDING_NAMES), "default")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin to carry inside the file")
    .action((input: string, o) => {
      const r = readAnyModel(input);
      const model = r.model ?? imageToFloat(r.image!);
      const tok = readTokenizer(o.tokenizer);
      if (tok) checkTokenizer(tok.bytes, model.config.vocabSize, tok.path);
      let image: ModelImage;
      try {
        image = convertModel(model, { quant: o.quant, attention: o.attentionQuant, groupSize: o.group, embedding: o.embedding, tokenizer: tok?.bytes });
      } catch (e) {
        throw new UsageError(`${input}: ${(e as Error).message}`);
      }
      const bytes = writeModel(image);
      try {
        writeFileSync(o.output, bytes);
      } catch (e) {
        throw new UsageError(`cannot write ${o.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      process.stderr.write(`wrote ${o.output}: ${bytes.length} bytes, ${o.quant}${o.attentionQuant && o.attentionQuant !== o.quant ? `, attention ${o.attentionQuant}` : ""}${o.embedding !== "default" ? `, embedding ${o.embedding}` : ""}${image.tokenizer ? ", tokenizer embedded" : ""} (from ${r.source})\n`);
    });
}
