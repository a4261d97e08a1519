// edgellm merge: adapters folded into their base model (host/format/merge.ts), written as a
// model file that runs without --lora.
import { Command } from "commander";
import { readAdapter } from "../format/adapter-reader.js";
import { mergeAdapters } from "../format/merge.js";
import { QTYPES } from "../format/qtypes.js";
import { QType } from "../format/spec.js";
import { writeModel } from "../format/writer.js";
import { choice } from "./args.js";
import { UsageError } from "./errors.js";
import { loraArg, readAdapters, type LoraArg } from "./lora-option.js";
import { loadModel } from "./model-source.js";
import { checkWritable, writeOutput } from "./output.js";

const QUANTS = { keep: undefined, f32: QType.F32, int8: QType.Q8, ternary: QType.T2, "ternary-t5": QType.T5, q4: QType.Q4 } as const;

export function mergeCommand(): Command {
  return new Command("merge")
    .description("fold LoRA adapters into their base: W + (alpha/rank)·scale·B·A, re-quantized")
    .argument("<base>", "base model (edgellm file)")
    .argument("<adapters...>", "adapter files, each FILE or FILE:SCALE (as run --lora), added in order")
    .requiredOption("-o, --output <file>", "the merged model file")
    .option("--quant <type>", "layer matrices' type: keep (each its own), f32, int8, ternary, ternary-t5 or q4", choice("quant", Object.keys(QUANTS) as (keyof typeof QUANTS)[]), "keep")
    .action((basePath: string, adapterArgs: string[], o) => {
      const loras: LoraArg[] = adapterArgs.reduce((acc: LoraArg[], a) => loraArg(a, acc), []);
      const inputs: Record<string, string> = { base: basePath };
      loras.forEach((l, i) => { inputs[`adapter ${i + 1}`] = l.path; });
      checkWritable(o.output, "output", inputs);
      const base = loadModel(basePath, undefined);
      if (base.source !== "edgellm") throw new UsageError(`${basePath}: merging needs an edgellm model file: convert it first (edgellm convert)`);
      const adapters = readAdapters(loras, base.bytes, basePath).map((a, i) => ({ adapter: readAdapter(a.bytes, loras[i].path), scale: a.scale }));
      const quant = QUANTS[o.quant as keyof typeof QUANTS];
      const { image, merged } = mergeAdapters(base.image, adapters, quant);
      const bytes = writeModel(image);
      writeOutput(o.output, bytes, "output");
      process.stdout.write(`wrote ${o.output} (${bytes.length} bytes): ${merged} matrices merged from ${adapters.length} adapter${adapters.length > 1 ? "s" : ""}${quant !== undefined ? `, layer matrices as ${QTYPES[quant].name}` : ", each in its own type"}\n`);
    });
}
