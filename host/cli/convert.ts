// edgellm convert: llama2.c checkpoints (v0 fp32, v2 int8) or edgellm files → edgellm format.
import { Command } from "commander";
import { convertModel, EMBEDDING_NAMES, QUANT_NAMES, TERNARY_FORMATS, TERNARY_QTYPE, ternaryFormatProblem } from "../format/convert.js";
import { imageToFloat, repackTernary } from "../format/dequantize.js";
import { readAnyModel, usedTokenizer } from "../format/load.js";
import { writeModel, type ModelImage } from "../format/writer.js";
import { choice, int } from "./args.js";
import { UsageError } from "./errors.js";
import { checkWritable, writeOutput } from "./output.js";
import { readTokenizer } from "./model-source.js";

export function convertCommand(): Command {
  return new Command("convert")
    .description("convert a llama2.c checkpoint (v0 fp32 or v2 int8 \"ak42\") or an edgellm file")
    .argument("<in>", "input model")
    .requiredOption("-o, --output <path>", "output .ellm file")
    .option("--quant <type>", "f32, int8, ternary, q4 (int4), or keep (an edgellm file's own types and numbers: repack with --ternary-format, or carry another tokenizer)", choice("quant", [...QUANT_NAMES, "keep"] as const), "f32")
    .option("--ternary-format <layout>", "ternary matrices as t2 (2 bits a weight, fastest with SIMD) or t5 (five weights a byte, 1.6 bits)", choice("ternary-format", TERNARY_FORMATS), "t2")
    .option("--group <n>", "weights per scale of the int8 tensors (the layers with --quant int8, else the int8 embedding); 0 = one scale per row; must divide every row length", int("group", 0, 1 << 20), 0)
    .option("--attention-quant <type>", "wq, wk, wv, wo in another type than --quant (mixed precision): f32, int8, ternary or q4", choice("attention-quant", QUANT_NAMES))
    .option("--embedding <type>", "embedding/classifier storage: default (follows --quant), int8, q4 or ternary (in --ternary-format)", choice("embedding", EMBEDDING_NAMES), "default")
    .option("-z, --tokenizer <path>", "llama2.c tokenizer.bin to carry inside the file")
    .action((input: string, o) => {
      checkWritable(o.output, "output", { "input model": input, tokenizer: o.tokenizer });
      const r = readAnyModel(input);
      const tok = readTokenizer(o.tokenizer);
      usedTokenizer(input, (r.image ?? r.model!).config.vocabSize, r.image?.tokenizer, tok);
      let image: ModelImage;
      if (o.quant === "keep") {
        if (!r.image) throw new UsageError(`${input}: --quant keep needs an edgellm file (this is a ${r.source} checkpoint): choose a type`);
        if (o.attentionQuant || o.embedding !== "default" || o.group !== 0) throw new UsageError("--quant keep keeps every tensor's type: drop --attention-quant, --embedding and --group");
        image = repackTernary({ ...r.image, tokenizer: tok?.bytes ?? r.image.tokenizer }, TERNARY_QTYPE[o.ternaryFormat as keyof typeof TERNARY_QTYPE]);
      } else {
        const problem = ternaryFormatProblem(o.quant, o.attentionQuant, o.ternaryFormat, o.embedding);
        if (problem) throw new UsageError(`--ternary-format: ${problem}`);
        const model = r.model ?? imageToFloat(r.image!);
        try {
          image = convertModel(model, { quant: o.quant, attention: o.attentionQuant, groupSize: o.group, embedding: o.embedding, ternaryFormat: o.ternaryFormat, tokenizer: tok?.bytes });
        } catch (e) {
          throw new UsageError(`${input}: ${(e as Error).message}`);
        }
      }
      const bytes = writeModel(image);
      writeOutput(o.output, bytes, "output");
      process.stderr.write(`wrote ${o.output}: ${bytes.length} bytes, ${o.quant}${o.ternaryFormat !== "t2" ? `, ternary ${o.ternaryFormat}` : ""}${o.attentionQuant && o.attentionQuant !== o.quant ? `, attention ${o.attentionQuant}` : ""}${o.embedding !== "default" ? `, embedding ${o.embedding}` : ""}${image.tokenizer ? ", tokenizer embedded" : ""} (from ${r.source})\n`);
    });
}
