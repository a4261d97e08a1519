// Instantiates the training module (build/edgellm-train.simd.wasm, from assembly/train) and
// types its exports (assembly/train/index.ts).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../engine/module.js";

export interface TrainExports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  simdBuild(): number;
  create(dim: number, hidden: number, layers: number, heads: number, kvHeads: number, vocab: number, batch: number, seq: number, quant: number, table: number, attn: number): number;
  nParams(id: number): number;
  params(id: number): number;
  grads(id: number): number;
  logits(id: number): number;
  quantWeights(id: number): number;
  quantScales(id: number): number;
  hidden(id: number, layer: number): number;
  setQuantBlend(id: number, blend: number): void;
  forward(id: number, tokens: number): void;
  loss(id: number, teacher: number, targets: number, kind: number, temperature: number, alpha: number): number;
  lossCe(): number;
  lossKd(): number;
  hiddenLoss(id: number, teacher: number, map: number, weight: number): number;
  zeroGrads(id: number): void;
  backward(id: number, tokens: number): void;
  gradNormSq(id: number): number;
  scaleGrads(id: number, k: number): void;
  adamw(id: number, from: number, count: number, lr: number, b1: number, b2: number, eps: number, wd: number, step: number): void;
  moment1(id: number): number;
  moment2(id: number): number;
  activation(id: number, which: number, layer: number): number;
  loraInit(id: number, rank: number, mask: number, k: number): number;
  loraParams(id: number): number;
  loraGrads(id: number): number;
  loraMoment1(id: number): number;
  loraMoment2(id: number): number;
  loraOffset(id: number, layer: number, target: number): number;
  loraZeroGrads(id: number): void;
  loraGradNormSq(id: number): number;
  loraScaleGrads(id: number, k: number): void;
  loraAdamw(id: number, from: number, count: number, lr: number, b1: number, b2: number, eps: number, wd: number, step: number): void;
}

export const TRAIN_MODULE_PATH = join(PROJECT_ROOT, "build", "edgellm-train.simd.wasm");

let compiled: WebAssembly.Module | undefined;

export function instantiateTrain(): TrainExports {
  if (!compiled) {
    if (!existsSync(TRAIN_MODULE_PATH)) throw Object.assign(new Error(`${TRAIN_MODULE_PATH} is missing: run npm run build`), { code: "E_NO_BUILD" });
    compiled = new WebAssembly.Module(readFileSync(TRAIN_MODULE_PATH));
  }
  const imports = {
    env: {
      abort(_msg: number, _file: number, line: number, col: number): never {
        throw Object.assign(new Error(`training module aborted at ${line}:${col}`), { code: "E_ABORT" });
      },
    },
  };
  return new WebAssembly.Instance(compiled, imports).exports as unknown as TrainExports;
}
