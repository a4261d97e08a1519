// edgellm info: what a model file holds.
import { Command } from "commander";
import { readAnyModel, quantOf } from "../format/load.js";
import { convertModel } from "../format/convert.js";
import { qtypeName, QTYPES } from "../format/qtypes.js";
import { Kind, KIND_NAMES, QType } from "../format/spec.js";
import { resolveModelPath } from "./model-source.js";

export function infoCommand(): Command {
  return new Command("info")
    .description("describe a model file")
    .argument("[model]", "model file (default: the embedded default model)")
    .option("--json", "print JSON")
    .action((modelPath: string | undefined, o) => {
      const path = resolveModelPath(modelPath);
      const r = readAnyModel(path);
      const image = r.image ?? convertModel(r.model!, { quant: r.source === "llama2c-v2" ? "int8" : "f32" });
      const params = image.tensors.reduce((n, t) => n + t.rows * t.cols, 0);
      const info = {
        path,
        bytes: r.raw.length,
        format: r.source,
        quant: quantOf(image),
        embedding: qtypeName(image.tensors.find((t) => t.kind === Kind.Embedding)?.qtype ?? QType.F32),
        config: image.config,
        params,
        tokenizer: image.tokenizer ? "embedded" : "none",
        tensors: image.tensors.map((t) => ({
          name: KIND_NAMES[t.kind], layer: t.layer, qtype: qtypeName(t.qtype), shape: [t.rows, t.cols],
          ...(QTYPES[t.qtype].scales === "group" ? { group: t.group } : {}), bytes: t.data.length,
        })),
      };
      if (o.json) {
        process.stdout.write(JSON.stringify(info) + "\n");
        return;
      }
      const c = image.config;
      process.stdout.write(`${path}: ${info.bytes} bytes, ${info.format}, ${info.quant}${info.embedding === info.quant ? "" : `, embedding ${info.embedding}`}, ${params} parameters, tokenizer ${info.tokenizer}\n` +
        `dim ${c.dim}, hidden ${c.hiddenDim}, layers ${c.nLayers}, heads ${c.nHeads}, kv heads ${c.nKvHeads}, vocab ${c.vocabSize}, seq_len ${c.seqLen}, ${c.sharedClassifier ? "tied" : "separate"} classifier\n`);
    });
}
